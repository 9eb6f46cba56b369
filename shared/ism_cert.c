/* ism_cert: certificates, CSRs and keys (see ism_cert.h). Being written. */
