/* http: the small web server session (proto.h). Being written. */
