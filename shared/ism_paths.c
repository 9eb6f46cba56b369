/* ism_paths: store and certificate folder locations (see ism_paths.h). */
#include "ism_paths.h"
#include "ism_log.h"
#include "ism_mail.h"
#include "ism_platform.h"
#include "ism_queue.h"
#include "ism_store.h"

#include <stdio.h>
#include <string.h>

void ism_paths_file(char *out, size_t outsz, const char *dir, const char *name, const char *ext)
{
    size_t n = strlen(dir);
    int has_sep = n > 0 && (dir[n - 1] == '/' || dir[n - 1] == '\\');
    snprintf(out, outsz, "%s%s%s%s", dir, has_sep ? "" : ISM_PATH_SEP, name, ext ? ext : "");
}

void ism_paths_init(ism_paths *p, const char *data_dir)
{
    char conf[ISM_PATH_MAX];
    if (data_dir && *data_dir) {
        snprintf(p->data, sizeof p->data, "%s", data_dir);
        snprintf(conf, sizeof conf, "%s", data_dir);
    } else {
        ism_plat_default_data_dir(p->data, sizeof p->data);
        ism_plat_default_conf_dir(conf, sizeof conf);
    }
    ism_paths_file(p->store, sizeof p->store, p->data, "ismail.db", NULL);
    ism_paths_file(p->csr, sizeof p->csr, conf, "ssl.csr", NULL);
    ism_paths_file(p->crt, sizeof p->crt, conf, "ssl.crt", NULL);
    ism_paths_file(p->key, sizeof p->key, conf, "ssl.key", NULL);
}

void ism_paths_apply_config(ism_paths *p, const ism_config *cfg)
{
    const char *v;
    if (*(v = ism_config_str(cfg, ISM_S_SSL_CSR_DIR)))
        snprintf(p->csr, sizeof p->csr, "%s", v);
    if (*(v = ism_config_str(cfg, ISM_S_SSL_CRT_DIR)))
        snprintf(p->crt, sizeof p->crt, "%s", v);
    if (*(v = ism_config_str(cfg, ISM_S_SSL_KEY_DIR)))
        snprintf(p->key, sizeof p->key, "%s", v);
}

int ism_paths_ensure(const ism_paths *p, ism_err *err)
{
    if (ism_fs_mkdirs(p->data, 1, err) || ism_fs_mkdirs(p->csr, 0, err) || ism_fs_mkdirs(p->crt, 0, err) ||
        ism_fs_mkdirs(p->key, 1, err))
        return -1;
    return 0;
}

/* Appends ", " (unless first) and "name (was)" to list, truncating with "...". */
static void list_add(char *list, size_t listsz, const char *name, const char *was)
{
    size_t n = strlen(list);
    if (n + 4 >= listsz)
        return;
    int w = snprintf(list + n, listsz - n, "%s%s (%s)", n ? ", " : "", name, was);
    if (w < 0 || (size_t)w >= listsz - n)
        snprintf(list + listsz - 4, 4, "...");
}

int ism_paths_secure_data(const ism_paths *p, char *done, size_t donesz, ism_err *err)
{
    static const char *const dbs[] = {ISM_STORE_FILE, ISM_MAIL_FILE, ISM_QUEUE_FILE};
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char names[sizeof dbs / sizeof dbs[0] * (sizeof suffixes / sizeof suffixes[0]) + 1][32];
    char path[ISM_PATH_MAX + 64], was[700];
    size_t nn = 0;
    ism_err e = {0};
    int failed = 0;
    if (donesz)
        done[0] = '\0';
    if (!ism_fs_exists(p->data))
        return ism_fs_mkdirs(p->data, 1, err);
    for (size_t d = 0; d < sizeof dbs / sizeof dbs[0]; d++)
        for (size_t x = 0; x < sizeof suffixes / sizeof suffixes[0]; x++)
            snprintf(names[nn++], sizeof names[0], "%s%s", dbs[d], suffixes[x]);
    snprintf(names[nn++], sizeof names[0], "%s", ISM_LOG_FILE);
    /* The files first, the folder last: on Windows the folder's new access
     * list would otherwise reach the files through inheritance unreported. */
    for (size_t i = 0; i <= nn; i++) {
        char what[ISM_PATH_MAX + 16];
        if (i < nn) {
            ism_paths_file(path, sizeof path, p->data, names[i], NULL);
            snprintf(what, sizeof what, "%s", names[i]);
        } else {
            snprintf(path, sizeof path, "%s", p->data);
            snprintf(what, sizeof what, "data folder %s", p->data);
        }
        int r = ism_fs_make_private(path, was, sizeof was, &e);
        if (r > 0)
            list_add(done, donesz, what, was);
        else if (r < 0 && !failed++ && err)
            *err = e;
    }
    return failed ? -1 : 0;
}

void ism_paths_resolve(char *out, size_t outsz, const char *dir, const char *name)
{
    int absolute = name[0] == '/' || name[0] == '\\' ||
                   (((name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'z') && name[1] == ':');
    if (absolute)
        snprintf(out, outsz, "%s", name);
    else
        ism_paths_file(out, outsz, dir, name, NULL);
}

int ism_web_domain_check_files(const ism_web_domain *d, const ism_paths *p, ism_err *err)
{
    const struct {
        const char *what, *name, *dir;
    } files[] = {{"certificate file", d->cert_file, p->crt},
                 {"private key file", d->key_file, p->key},
                 {"CA certificate file", d->ca_file, p->crt}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char full[ISM_PATH_MAX * 2];
        if (!files[i].name[0])
            continue;
        ism_paths_resolve(full, sizeof full, files[i].dir, files[i].name);
        if (!ism_fs_exists(full))
            return ism_err_set(err, ISM_E_INVALID, "domain %s: the %s %s does not exist; install it first", d->domain,
                               files[i].what, full);
    }
    return 0;
}
