/* ism_keyprotect: private key files that others can read, and restricting
 * them (see ism_keyprotect.h). The permissions themselves are the platform
 * layer's; this file names the key and words the remedy once for the
 * service, ismailctl and the manager. */
#include "ism_keyprotect.h"
#include "ism_platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ends_with_key(const char *s)
{
    size_t n = strlen(s);
    return n > 4 && (s[n - 4] == '.') && (s[n - 3] == 'k' || s[n - 3] == 'K') && (s[n - 2] == 'e' || s[n - 2] == 'E') &&
           (s[n - 1] == 'y' || s[n - 1] == 'Y');
}

/* The last component of path, after '/' or '\' (both are separators on Windows). */
static const char *base_name(const char *path)
{
    const char *b = path;
    for (const char *c = path; *c; c++)
        if (*c == '/' || *c == '\\')
            b = c + 1;
    return b;
}

int ism_key_exposed(const char *path, char *who, size_t whosz, ism_err *err)
{
    return ism_fs_others_access(path, who, whosz, err);
}

/* Only a PEM private key is restricted: a path given by mistake (a folder,
 * a system file) must not lose its permissions. */
static int is_pem_key(const char *path, ism_err *err)
{
    char *data;
    size_t len;
    if (ism_fs_read(path, 1024 * 1024, &data, &len, err))
        return -1;
    int ok = strstr(data, "-----BEGIN") && strstr(data, "PRIVATE KEY-----");
    memset(data, 0, len);
    free(data);
    if (!ok)
        return ism_err_set(err, ISM_E_INVALID,
                           "%s is not a private key (PEM): only key files are restricted; nothing was changed", path);
    return 0;
}

int ism_key_protect(const char *path, char *was, size_t wassz, ism_err *err)
{
    if (wassz)
        was[0] = '\0';
    if (!ism_fs_exists(path))
        return ism_err_set(err, ISM_E_IO, "%s does not exist", path);
    if (is_pem_key(path, err))
        return -1;
    return ism_fs_make_private(path, was, wassz, err);
}

int ism_key_path(const ism_paths *p, const char *name, char *out, size_t outsz, ism_err *err)
{
    if (!name || !*name)
        return ism_err_set(err, ISM_E_USAGE, "which key? give the certificate's name (example.com) or the key file");
    if (strchr(name, '/') || strchr(name, '\\'))
        snprintf(out, outsz, "%s", name);
    else
        ism_paths_file(out, outsz, p->key, name, ends_with_key(name) ? "" : ".key");
    return 0;
}

int ism_key_protect_name(const ism_paths *p, const char *name, char *path, size_t pathsz, char *was, size_t wassz,
                         ism_err *err)
{
    char buf[ISM_PATH_MAX + 300];
    if (wassz)
        was[0] = '\0';
    if (ism_key_path(p, name, buf, sizeof buf, err))
        return -1;
    if (path && pathsz)
        snprintf(path, pathsz, "%s", buf);
    if (!ism_fs_exists(buf))
        return ism_err_set(err, ISM_E_IO,
                           "%s does not exist: give the name of an installed certificate (its key is ssl.key/NAME.key) "
                           "or the key file's path",
                           buf);
    return ism_key_protect(buf, was, wassz, err);
}

int ism_key_check(const char *path, ism_err *err)
{
    char who[600], name[300];
    int r = ism_fs_others_access(path, who, sizeof who, err);
    if (r <= 0)
        return r;
    const char *b = base_name(path);
    if (ends_with_key(b) && !strchr(b, ' ') && !strchr(b, '"'))
        snprintf(name, sizeof name, "%.*s", (int)(strlen(b) - 4), b);
    else
        snprintf(name, sizeof name, "\"%s\"", path);
    /* Why refuse rather than warn: a key others can read may already have
     * been copied; the administrator has to notice (OpenSSH does the same). */
    return ism_err_set(err, ISM_E_TLS,
                       "%s: the private key file can be read by %s, so it is not used; restrict it to the "
                       "administrators with the manager's \"Restrict access\" button (SSL Certificates tab) or with: "
                       "ismailctl cert protect %s",
                       path, who, name);
}
