/* ism_paths: store and certificate folder locations (see ism_paths.h). */
#include "ism_paths.h"
#include "ism_platform.h"

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
    if (ism_fs_mkdirs(p->data, 0, err) || ism_fs_mkdirs(p->csr, 0, err) || ism_fs_mkdirs(p->crt, 0, err) ||
        ism_fs_mkdirs(p->key, 1, err))
        return -1;
    return 0;
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
