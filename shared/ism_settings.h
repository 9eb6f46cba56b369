/* ism_settings: typed access to the settings declared in ism_settings.def.
 *
 * An ism_config is an immutable-by-convention snapshot of every setting,
 * parsed and validated; the service builds one per store revision. */
#ifndef ISM_SETTINGS_H
#define ISM_SETTINGS_H

#include "ism_error.h"
#include "ism_settings.def"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
#define ISM_X_ID(id, key, type, def, choices, desc) ISM_S_##id,
    ISM_SETTINGS(ISM_X_ID)
#undef ISM_X_ID
    ISM_SETTING_COUNT
} ism_setting_id;

typedef enum { ISM_T_BOOL, ISM_T_PORT, ISM_T_ENUM, ISM_T_NUM, ISM_T_ADDR, ISM_T_HOST, ISM_T_PATH, ISM_T_CIPHERS } ism_setting_type;

typedef struct {
    const char *key;
    ism_setting_type type;
    const char *def;
    const char *choices;
    const char *desc;
} ism_setting_def;

extern const ism_setting_def ism_setting_defs[ISM_SETTING_COUNT];

/* Looks a key up; returns its id or -1. */
int ism_setting_find(const char *key);

/* Name of a type for messages ("on/off", "port 1-65535", ...). */
const char *ism_setting_type_hint(const ism_setting_def *def);

/* Checks value for the setting and writes its canonical spelling to
 * out (e.g. "yes" -> "on"). On failure the message names the key, the bad
 * value and what is allowed. */
int ism_setting_normalize(ism_setting_id id, const char *value, char *out, size_t outsz, ism_err *err);

/* One of the web server's SSL domains (the manual's "configure a domain for
 * SSL": domain name, IP address, SSL port, certificate, private key, optional
 * CA certificate). File names are absolute, or relative to the ssl.crt
 * folder (certificate, CA) and the ssl.key folder (key). */
typedef struct {
    char domain[256];
    char ip[64];
    int port;
    char cert_file[1024];
    char key_file[1024];
    char ca_file[1024];
} ism_web_domain;

typedef struct {
    int64_t revision;                  /* store revision this snapshot was read at */
    char *value[ISM_SETTING_COUNT];    /* canonical strings, never NULL */
    ism_web_domain *web;               /* the web SSL domains (malloc'd), sorted by name */
    size_t n_web;
    char invalid[512];                 /* first stored value that failed validation (read as
                                          its default), "" when all were valid */
} ism_config;

/* Fills cfg with the defaults. */
void ism_config_init(ism_config *cfg);
void ism_config_free(ism_config *cfg);
/* dst (not initialised) becomes a copy of src: every value, the revision
 * and the web SSL domains. 0, or -1 when out of memory (dst then empty). */
int ism_config_copy(ism_config *dst, const ism_config *src);
/* Replaces one value (copied). */
void ism_config_put(ism_config *cfg, ism_setting_id id, const char *canonical);

int ism_config_bool(const ism_config *cfg, ism_setting_id id);
int ism_config_int(const ism_config *cfg, ism_setting_id id);
const char *ism_config_str(const ism_config *cfg, ism_setting_id id);

/* The name the server goes by: server.hostname when set, else the machine's
 * own name. Used for the default certificate, greetings and Received lines. */
void ism_config_hostname(const ism_config *cfg, char *out, size_t outsz);

/* 1 when OpenSSL accepts the TLS 1.2 cipher list (empty counts as yes). */
int ism_cipher_list_ok(const char *list);

/* Checks rules that span several settings (no two listeners on one port, a
 * web SSL domain's port not taken by a mail listener, a TLS 1.2 cipher list
 * OpenSSL accepts). Returns 0 or -1 with a message naming the keys. */
int ism_config_check(const ism_config *cfg, ism_err *err);

/* Checks the fields' syntax and canonicalises them (lower-case domain);
 * messages name the field ("domain", "ip", "port", ...). */
int ism_web_domain_check(ism_web_domain *d, ism_err *err);

#ifdef __cplusplus
}
#endif
#endif
