/* ism_paths: where the store and the certificate folders are.
 *
 * With --data DIR everything lives under DIR (DIR/ismail.db, DIR/ssl.csr,
 * DIR/ssl.crt, DIR/ssl.key). Without it the store is in the platform's data
 * folder and the certificate folders are the manual's, under the install
 * folder's Apache\conf on Windows. The ssl.csr/ssl.crt/ssl.key settings, when
 * not empty, override the folders. */
#ifndef ISM_PATHS_H
#define ISM_PATHS_H

#include "ism_error.h"
#include "ism_settings.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ISM_PATH_MAX 1100

typedef struct {
    char data[ISM_PATH_MAX];
    char store[ISM_PATH_MAX];
    char csr[ISM_PATH_MAX];
    char crt[ISM_PATH_MAX];
    char key[ISM_PATH_MAX];
} ism_paths;

/* data_dir: the --data argument, or NULL for the platform defaults. */
void ism_paths_init(ism_paths *p, const char *data_dir);
/* Applies the ssl.* folder settings that are not empty. */
void ism_paths_apply_config(ism_paths *p, const ism_config *cfg);
/* Creates the data folder and the three certificate folders; the data folder
 * and ssl.key are private (ism_fs_mkdirs: POSIX 0700, Windows SYSTEM and
 * Administrators only). */
int ism_paths_ensure(const ism_paths *p, ism_err *err);
/* Makes the data folder private, for a new installation and for one an older
 * version left readable by other users: creates the folder private when it
 * is missing; else restricts the files the programs keep there (ismail.db,
 * mail.db, queue.db, each with its -wal, -shm and -journal, and the service
 * log) and then the folder itself, with ism_fs_make_private. done receives
 * what was restricted, as "NAME (what others had), ...", empty when nothing
 * needed it. Goes on past a file it cannot restrict and then fails with the
 * first such error (done still lists the rest). */
int ism_paths_secure_data(const ism_paths *p, char *done, size_t donesz, ism_err *err);
/* out = dir + separator + name + ext (e.g. crt folder, "example.com", ".crt"). */
void ism_paths_file(char *out, size_t outsz, const char *dir, const char *name, const char *ext);

/* out = name when it is absolute (/x, C:\x, \\server\x), else dir + name. */
void ism_paths_resolve(char *out, size_t outsz, const char *dir, const char *name);
/* Checks that a web SSL domain's certificate, key and CA files exist
 * (resolved against the ssl.crt and ssl.key folders). */
int ism_web_domain_check_files(const ism_web_domain *d, const ism_paths *p, ism_err *err);

#ifdef __cplusplus
}
#endif
#endif
