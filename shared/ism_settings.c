/* ism_settings: definitions table, validation and snapshots (see ism_settings.h). */
#include "ism_settings.h"
#include "ism_platform.h"
#include "ism_str.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ism_setting_def ism_setting_defs[ISM_SETTING_COUNT] = {
#define ISM_X_DEF(id, key, type, def, choices, desc) {key, ISM_T_##type, def, choices, desc},
    ISM_SETTINGS(ISM_X_DEF)
#undef ISM_X_DEF
};

int ism_setting_find(const char *key)
{
    for (int i = 0; i < ISM_SETTING_COUNT; i++)
        if (strcmp(ism_setting_defs[i].key, key) == 0)
            return i;
    return -1;
}

const char *ism_setting_type_hint(const ism_setting_def *def)
{
    switch (def->type) {
    case ISM_T_BOOL: return "on or off (also yes/no, true/false, 1/0)";
    case ISM_T_PORT: return "a TCP port number from 1 to 65535";
    case ISM_T_ENUM: return def->choices;
    case ISM_T_NUM: return "a whole number";
    case ISM_T_ADDR: return "an IPv4 address such as 0.0.0.0 or 127.0.0.1, or an IPv6 address such as ::";
    case ISM_T_HOST: return "a host name such as mail.example.com, or empty";
    case ISM_T_PATH: return "a folder path, or empty for the default";
    case ISM_T_CIPHERS: return "an OpenSSL cipher list such as ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256, or empty";
    }
    return "?";
}

static int valid_ipv4(const char *s)
{
    int parts = 0;
    while (parts < 4) {
        if (!isdigit((unsigned char)*s))
            return 0;
        int v = 0, digits = 0;
        while (isdigit((unsigned char)*s)) {
            v = v * 10 + (*s++ - '0');
            if (++digits > 3 || v > 255)
                return 0;
        }
        parts++;
        if (parts < 4 && *s++ != '.')
            return 0;
    }
    return *s == '\0';
}

static int valid_ipv6(const char *s)
{
    /* Syntax check only: hex groups, colons, at most one "::"; the platform's
     * inet_pton makes the final decision when the listener binds. */
    size_t n = strlen(s);
    if (n < 2 || n > 45 || !strchr(s, ':'))
        return 0;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
            return 0;
    const char *dbl = strstr(s, "::");
    return !dbl || !strstr(dbl + 1, "::");
}

static int valid_hostname(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n > 253)
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-')
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)*p) || (*p == '-' && label > 0)) {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return n == 0 || label > 0;
}

void ism_config_hostname(const ism_config *cfg, char *out, size_t outsz)
{
    const char *h = ism_config_str(cfg, ISM_S_SERVER_HOSTNAME);
    if (*h)
        snprintf(out, outsz, "%s", h);
    else
        ism_plat_hostname(out, outsz);
}

int ism_cipher_list_ok(const char *list)
{
    if (!*list)
        return 1;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int ok = ctx && SSL_CTX_set_cipher_list(ctx, list) == 1;
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

int ism_setting_normalize(ism_setting_id id, const char *value, char *out, size_t outsz, ism_err *err)
{
    const ism_setting_def *d = &ism_setting_defs[id];
    if (!value)
        value = "";
    switch (d->type) {
    case ISM_T_BOOL:
        if (ism_str_ieq(value, "on") || ism_str_ieq(value, "true") || ism_str_ieq(value, "yes") || strcmp(value, "1") == 0) {
            snprintf(out, outsz, "on");
            return 0;
        }
        if (ism_str_ieq(value, "off") || ism_str_ieq(value, "false") || ism_str_ieq(value, "no") || strcmp(value, "0") == 0) {
            snprintf(out, outsz, "off");
            return 0;
        }
        break;
    case ISM_T_PORT: {
        char *end;
        long v = strtol(value, &end, 10);
        if (*value && *end == '\0' && isdigit((unsigned char)*value) && v >= 1 && v <= 65535) {
            snprintf(out, outsz, "%ld", v);
            return 0;
        }
        break;
    }
    case ISM_T_NUM: {
        long lo = 0, hi = 0;
        char *end;
        sscanf(d->choices, "%ld|%ld", &lo, &hi);
        long v = strtol(value, &end, 10);
        if (*value && *end == '\0' && strlen(value) <= 10 && isdigit((unsigned char)*value) && v >= lo && v <= hi) {
            snprintf(out, outsz, "%ld", v);
            return 0;
        }
        return ism_err_set(err, ISM_E_INVALID, "%s: '%s' is not valid; expected a whole number from %ld to %ld",
                           d->key, value, lo, hi);
    }
    case ISM_T_ENUM: {
        const char *p = d->choices;
        size_t vl = strlen(value);
        while (p && *p) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            if (len == vl && vl > 0) {
                char word[64];
                snprintf(word, sizeof word, "%.*s", (int)len, p);
                if (ism_str_ieq(word, value)) {
                    snprintf(out, outsz, "%s", word);
                    return 0;
                }
            }
            p = bar ? bar + 1 : NULL;
        }
        return ism_err_set(err, ISM_E_INVALID, "%s: '%s' is not allowed; use one of: %s", d->key, value,
                           d->choices);
    }
    case ISM_T_ADDR:
        if (valid_ipv4(value) || valid_ipv6(value)) {
            snprintf(out, outsz, "%s", value);
            return 0;
        }
        break;
    case ISM_T_HOST:
        if (valid_hostname(value)) {
            snprintf(out, outsz, "%s", value);
            for (char *p = out; *p; p++)
                *p = ism_str_lower(*p);
            return 0;
        }
        break;
    case ISM_T_CIPHERS:
        if (strlen(value) < 1024 && strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:+!@=,.") == strlen(value) &&
            ism_cipher_list_ok(value)) {
            snprintf(out, outsz, "%s", value);
            return 0;
        }
        break;
    case ISM_T_PATH:
        if (strlen(value) < 1024 && !strpbrk(value, "\r\n\t*?\"<>|")) {
            snprintf(out, outsz, "%s", value);
            return 0;
        }
        break;
    }
    return ism_err_set(err, ISM_E_INVALID, "%s: '%s' is not valid; expected %s", d->key, value,
                       ism_setting_type_hint(d));
}

void ism_config_init(ism_config *cfg)
{
    cfg->revision = 0;
    cfg->web = NULL;
    cfg->n_web = 0;
    cfg->invalid[0] = '\0';
    for (int i = 0; i < ISM_SETTING_COUNT; i++)
        cfg->value[i] = strdup(ism_setting_defs[i].def);
}

void ism_config_free(ism_config *cfg)
{
    free(cfg->web);
    cfg->web = NULL;
    cfg->n_web = 0;
    for (int i = 0; i < ISM_SETTING_COUNT; i++) {
        free(cfg->value[i]);
        cfg->value[i] = NULL;
    }
}

int ism_config_copy(ism_config *dst, const ism_config *src)
{
    memset(dst, 0, sizeof *dst);
    dst->revision = src->revision;
    snprintf(dst->invalid, sizeof dst->invalid, "%s", src->invalid);
    for (int i = 0; i < ISM_SETTING_COUNT; i++)
        if (!(dst->value[i] = strdup(src->value[i] ? src->value[i] : "")))
            goto oom;
    if (src->n_web) {
        if (!(dst->web = malloc(src->n_web * sizeof *dst->web)))
            goto oom;
        memcpy(dst->web, src->web, src->n_web * sizeof *dst->web);
        dst->n_web = src->n_web;
    }
    return 0;
oom:
    ism_config_free(dst);
    return -1;
}

void ism_config_put(ism_config *cfg, ism_setting_id id, const char *canonical)
{
    char *copy = strdup(canonical);
    if (!copy)
        abort(); /* out of memory while holding configuration: nothing sane to do */
    free(cfg->value[id]);
    cfg->value[id] = copy;
}

int ism_config_bool(const ism_config *cfg, ism_setting_id id)
{
    return strcmp(cfg->value[id], "on") == 0;
}

int ism_config_int(const ism_config *cfg, ism_setting_id id)
{
    return atoi(cfg->value[id]);
}

const char *ism_config_str(const ism_config *cfg, ism_setting_id id)
{
    return cfg->value[id];
}

int ism_config_check(const ism_config *cfg, ism_err *err)
{
    for (int i = 0; i < ISM_SETTING_COUNT; i++) {
        if (ism_setting_defs[i].type != ISM_T_PORT)
            continue;
        for (int j = i + 1; j < ISM_SETTING_COUNT; j++) {
            if (ism_setting_defs[j].type == ISM_T_PORT && strcmp(cfg->value[i], cfg->value[j]) == 0)
                return ism_err_set(err, ISM_E_INVALID,
                                   "%s and %s are both set to port %s; each listener needs a port of its own",
                                   ism_setting_defs[i].key, ism_setting_defs[j].key, cfg->value[i]);
        }
    }
    for (size_t w = 0; w < cfg->n_web; w++)
        for (int i = 0; i < ISM_SETTING_COUNT; i++)
            if (ism_setting_defs[i].type == ISM_T_PORT && i != ISM_S_HTTPS_PORT && atoi(cfg->value[i]) == cfg->web[w].port)
                return ism_err_set(err, ISM_E_INVALID,
                                   "web SSL domain %s uses port %d, which %s already takes; choose another port",
                                   cfg->web[w].domain, cfg->web[w].port, ism_setting_defs[i].key);
    if (!ism_cipher_list_ok(cfg->value[ISM_S_TLS_CIPHERS]))
        return ism_err_set(err, ISM_E_INVALID, "tls.ciphers: OpenSSL accepts no cipher in '%s'",
                           cfg->value[ISM_S_TLS_CIPHERS]);
    return 0;
}

int ism_web_domain_check(ism_web_domain *d, ism_err *err)
{
    char canon[1024];
    if (!d->domain[0] || !valid_hostname(d->domain))
        return ism_err_set(err, ISM_E_INVALID, "domain: '%s' is not a domain name such as mail.example.com",
                           d->domain);
    for (char *p = d->domain; *p; p++)
        *p = ism_str_lower(*p);
    if (ism_setting_normalize(ISM_S_LISTEN_ADDRESS, d->ip, canon, sizeof canon, NULL))
        return ism_err_set(err, ISM_E_INVALID, "ip: '%s' is not an IP address (for example 0.0.0.0 or 192.0.2.10)",
                           d->ip);
    if (d->port < 1 || d->port > 65535)
        return ism_err_set(err, ISM_E_INVALID, "port: %d is not a TCP port from 1 to 65535 (SSL uses 443)", d->port);
    if (!d->cert_file[0] || !d->key_file[0])
        return ism_err_set(err, ISM_E_INVALID, "domain %s needs both a certificate file and a private key file",
                           d->domain);
    const char *files[] = {d->cert_file, d->key_file, d->ca_file};
    for (int i = 0; i < 3; i++)
        if (strpbrk(files[i], "\r\n\t*?\"<>|"))
            return ism_err_set(err, ISM_E_INVALID, "'%s' is not a usable file name", files[i]);
    return 0;
}
