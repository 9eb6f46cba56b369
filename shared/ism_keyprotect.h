/* ism_keyprotect: private key files that others can read, and restricting
 * them to the administrators.
 *
 * The manual has administrators make a key with `openssl req ... -keyout
 * req.key` in Apache\install and move it into ssl.key. A moved file keeps
 * the access list it had (on Windows, entries inherited from Apache\install,
 * which let every user read; on Linux, whatever mode it was made with), so
 * the service refuses such a key (ism_key_check) and the three front ends
 * offer one remedy, ism_key_protect_name:
 *   - the manager marks the key (ism_cert_info.key_state ISM_KEY_NOT_PRIVATE)
 *     and its "Restrict access" button calls
 *         ism_key_protect_name(&paths, domain, path, sizeof path, was, sizeof was, &err)
 *     then ism_store_touch, so that the service loads the key again at once;
 *   - `ismailctl cert protect NAME` does the same;
 *   - the service's message for a refused key names both.
 * Restricted means what ism_fs_make_private does: POSIX mode 0600 (group and
 * other bits cleared); Windows the protected access list every key ISMail
 * writes has, SYSTEM and Administrators with full control, nothing inherited.
 * Nothing here includes <windows.h>: the access lists are the platform
 * layer's (ism_fs_others_access, ism_fs_make_private). */
#ifndef ISM_KEYPROTECT_H
#define ISM_KEYPROTECT_H

#include "ism_error.h"
#include "ism_paths.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Whether accounts other than the file's owner and the administrators can
 * read the key at path: 1 with who filled ("other users (mode 644)",
 * "BUILTIN\Users"), 0 when they cannot, -1 when its permissions cannot be
 * read (err: ISM_E_IO naming path; a missing file is such a case). */
int ism_key_exposed(const char *path, char *who, size_t whosz, ism_err *err);

/* Restricts the key at path to the administrators: 1 when it changed
 * something, with what others had in was ("mode 644", "readable by
 * BUILTIN\Users"); 0 when it was already private; -1 on failure (err:
 * ISM_E_IO naming path and why; a missing file fails too). Only a PEM
 * private key is touched: anything else (a folder, a certificate, a path
 * given by mistake) fails with ISM_E_INVALID and keeps its permissions. A
 * symbolic link or reparse point is not followed and fails. */
int ism_key_protect(const char *path, char *was, size_t wassz, ism_err *err);

/* The key file that NAME means, in out: a path (it has a folder separator)
 * as given; else ssl.key/NAME when NAME ends with ".key"; else
 * ssl.key/NAME.key, the manual's mydomain.com.key for certificate NAME.
 * Fails (ISM_E_USAGE) for an empty NAME. The file need not exist. */
int ism_key_path(const ism_paths *p, const char *name, char *out, size_t outsz, ism_err *err);

/* What a front end's "restrict access" does: resolves NAME as ism_key_path
 * does (path receives the file, may be NULL), fails (ISM_E_IO) naming it
 * when there is no such file, then ism_key_protect. Returns as
 * ism_key_protect. The caller then wakes the service (ism_store_touch):
 * permissions are not part of what the service watches. */
int ism_key_protect_name(const ism_paths *p, const char *name, char *path, size_t pathsz, char *was, size_t wassz,
                         ism_err *err);

/* The check the service makes before it loads a key: 0 when only the owner
 * and the administrators can read path; -1 (ISM_E_TLS) when others can,
 * with a message naming the file, who can read it, and both remedies: the
 * manager's "Restrict access" button and `ismailctl cert protect NAME`
 * (NAME: the file name without ".key", or the quoted path for a file not
 * named *.key); -1 (ISM_E_IO) when its permissions cannot be read. */
int ism_key_check(const char *path, ism_err *err);

#ifdef __cplusplus
}
#endif
#endif
