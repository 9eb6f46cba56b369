/* ism_mail: the mail store and accounts (see ism_mail.h). Being written. */
