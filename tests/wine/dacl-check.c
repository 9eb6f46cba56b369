/* dacl-check: reads back the permissions the core gives the key folder and a
 * key file on Windows (run under Wine by tests/wine/dacl.sh, or on Windows).
 *
 *   dacl-check [FOLDER]   FOLDER (default: a new one under %TEMP%, removed
 *                         at the end) receives ssl.key; given, it is kept so
 *                         the caller can look at the files too.
 *
 * It makes ssl.key and a key the way the product does (ism_fs_mkdirs private,
 * ism_fs_write_atomic private), reads each back with GetNamedSecurityInfoW,
 * prints the SDDL, and checks: the DACL is protected (nothing inherited from
 * the folder above), it has exactly two entries, both "allow full control",
 * one for SYSTEM and one for Administrators. Then ism_fs_private_check must
 * accept the key, and refuse a second key once Everyone may read it; then
 * ism_key_check (the service's check) must refuse it naming Everyone, the
 * manager's "Restrict access" button and `ismailctl cert protect`, and
 * ism_key_protect must give it the key's protected DACL back.
 *
 * The data folder gets the same: FOLDER\data is made the way an older
 * version left it (an ordinary folder, ismail.db in it with the access list
 * it inherits), ism_paths_secure_data restricts it as the service does at
 * start, and the folder and the store must then pass the same checks; a
 * second run must find nothing left to restrict.
 *
 * Wine does not keep DACLs: it turns the one set into Unix permission bits
 * and, when asked, rebuilds a DACL from them (SYSTEM, the owner for the user
 * bits, Everyone for the other bits, never protected). Under Wine the strict
 * checks are therefore printed as "WINE:" notes, and what Wine can show is
 * checked instead: no entry for Everyone or any account but SYSTEM,
 * Administrators and the owner, and SYSTEM with full control.
 *
 * Each check prints "PASS: ..." or "FAIL: ..."; exit 0 when all pass. */
#include "ism_keyprotect.h"
#include "ism_paths.h"
#include "ism_platform.h"

#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, under_wine;

static void result(int ok, const char *what, const char *detail)
{
    printf("%s: %s%s%s\n", ok ? "PASS" : "FAIL", what, detail && *detail ? ": " : "", detail ? detail : "");
    if (!ok)
        failures++;
}

/* A check Wine cannot pass because it does not store DACLs (see above). */
static void strict(int ok, const char *what, const char *detail)
{
    if (under_wine)
        printf("WINE: %s: %s (%s)\n", what, ok ? "holds" : "not representable under Wine", detail);
    else
        result(ok, what, detail);
}

static wchar_t *widen(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w)
        MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

/* Reads path's DACL and checks it is the administrators-only one. */
static void check_dacl(const char *label, const char *path)
{
    char what[200];
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    PSID owner = NULL;
    wchar_t *w = widen(path);
    DWORD rc = GetNamedSecurityInfoW(w, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner,
                                     NULL, &dacl, NULL, &sd);
    free(w);
    snprintf(what, sizeof what, "%s: GetNamedSecurityInfoW", label);
    if (rc != ERROR_SUCCESS) {
        char d[64];
        snprintf(d, sizeof d, "error %lu", (unsigned long)rc);
        result(0, what, d);
        return;
    }
    LPWSTR sddl = NULL;
    char text[1024] = "?";
    if (ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1,
                                                             OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &sddl,
                                                             NULL)) {
        WideCharToMultiByte(CP_UTF8, 0, sddl, -1, text, sizeof text, NULL, NULL);
        LocalFree(sddl);
    }
    printf("%s SDDL: %s\n", label, text);
    result(1, what, NULL);

    SECURITY_DESCRIPTOR_CONTROL ctl = 0;
    DWORD rev = 0;
    GetSecurityDescriptorControl(sd, &ctl, &rev);
    snprintf(what, sizeof what, "%s: DACL protected (no inherited entries)", label);
    strict(dacl && (ctl & SE_DACL_PROTECTED), what, text);

    snprintf(what, sizeof what, "%s: exactly two entries", label);
    strict(dacl && dacl->AceCount == 2, what, text);

    BYTE sy[SECURITY_MAX_SID_SIZE], ba[SECURITY_MAX_SID_SIZE];
    DWORD syl = sizeof sy, bal = sizeof ba;
    CreateWellKnownSid(WinLocalSystemSid, NULL, sy, &syl);
    CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, ba, &bal);
    int have_sy = 0, have_ba = 0, others = 0, strangers = 0;
    for (DWORD i = 0; dacl && i < dacl->AceCount; i++) {
        ACE_HEADER *h;
        if (!GetAce(dacl, i, (void **)&h))
            continue;
        ACCESS_ALLOWED_ACE *a = (ACCESS_ALLOWED_ACE *)h;
        PSID sid = (PSID)&a->SidStart;
        /* FILE_ALL_ACCESS, or GENERIC_ALL before it is mapped */
        int full = h->AceType == ACCESS_ALLOWED_ACE_TYPE &&
                   ((a->Mask & FILE_ALL_ACCESS) == FILE_ALL_ACCESS || (a->Mask & GENERIC_ALL));
        if (full && EqualSid(sid, (PSID)sy))
            have_sy = 1;
        else if (full && EqualSid(sid, (PSID)ba))
            have_ba = 1;
        else
            others++;
        if (h->AceType == ACCESS_ALLOWED_ACE_TYPE && !EqualSid(sid, (PSID)sy) && !EqualSid(sid, (PSID)ba) &&
            !(owner && EqualSid(sid, owner)))
            strangers++;
    }
    snprintf(what, sizeof what, "%s: SYSTEM full control", label);
    result(have_sy, what, text);
    snprintf(what, sizeof what, "%s: Administrators full control", label);
    strict(have_ba, what, text);
    snprintf(what, sizeof what, "%s: no other entry", label);
    strict(others == 0, what, text);
    snprintf(what, sizeof what, "%s: no entry for Everyone or any account but SYSTEM, Administrators, the owner", label);
    result(dacl && strangers == 0, what, text);
    LocalFree(sd);
}

/* A second key made private, then opened to Everyone: it must be refused. */
static void check_refusal(const char *keydir)
{
    char path[MAX_PATH + 160];
    ism_err err = {0};
    static const char pem[] = "-----BEGIN PRIVATE KEY-----\n(test data, not a key)\n-----END PRIVATE KEY-----\n";
    snprintf(path, sizeof path, "%s\\opened.test.key", keydir);
    if (ism_fs_write_atomic(path, pem, sizeof pem - 1, 1, &err)) {
        result(0, "second key written", err.msg);
        return;
    }
    /* SetFileSecurityW, which Windows and Wine both apply to a file. */
    PSECURITY_DESCRIPTOR sd = NULL;
    wchar_t *w = widen(path);
    BOOL set = ConvertStringSecurityDescriptorToSecurityDescriptorW(L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;WD)",
                                                                    SDDL_REVISION_1, &sd, NULL) &&
               SetFileSecurityW(w, DACL_SECURITY_INFORMATION, sd);
    LocalFree(sd);
    free(w);
    result(set, "Everyone may read a second key (SetFileSecurityW)", NULL);
    memset(&err, 0, sizeof err);
    int refused = ism_fs_private_check(path, &err) != 0;
    result(refused && strstr(err.msg, "icacls") && strstr(err.msg, "opened.test.key"),
           "ism_fs_private_check refuses it, naming the file and the icacls command", err.msg);

    /* What the service, ismailctl cert protect and the manager's button do. */
    char who[600], was[700];
    memset(&err, 0, sizeof err);
    int exposed = ism_key_exposed(path, who, sizeof who, &err);
    result(exposed == 1 && strstr(who, "Everyone"), "ism_key_exposed: Everyone can read it", exposed < 0 ? err.msg : who);
    refused = ism_key_check(path, &err) != 0;
    result(refused && strstr(err.msg, "opened.test.key") && strstr(err.msg, "Everyone") &&
               strstr(err.msg, "\"Restrict access\"") && strstr(err.msg, "ismailctl cert protect opened.test"),
           "ism_key_check refuses it, naming the file, Everyone, Restrict access and ismailctl cert protect",
           err.msg);
    memset(&err, 0, sizeof err);
    int changed = ism_key_protect(path, was, sizeof was, &err);
    result(changed == 1 && strstr(was, "Everyone"), "ism_key_protect restricts it", changed < 0 ? err.msg : was);
    check_dacl("key after ism_key_protect", path);
    memset(&err, 0, sizeof err);
    exposed = ism_key_exposed(path, who, sizeof who, &err);
    result(exposed == 0, "ism_key_exposed: nobody else can read it now", exposed < 0 ? err.msg : who);
    result(ism_key_check(path, &err) == 0, "ism_key_check accepts it now", err.msg);
    result(ism_key_protect(path, was, sizeof was, &err) == 0, "a second ism_key_protect has nothing to do", was);
    ism_fs_remove(path, &err);
}

/* The data folder of an older installation, restricted as the service does
 * when it starts (ism_paths_secure_data). */
static void check_data_folder(const char *base, int keep)
{
    char data[MAX_PATH + 80], store[MAX_PATH + 120], done[2048];
    ism_err err = {0};
    ism_paths p;
    snprintf(data, sizeof data, "%s\\data", base);
    snprintf(store, sizeof store, "%s\\ismail.db", data);
    int ok = ism_fs_mkdirs(data, 0, &err) == 0;
    result(ok, "ism_fs_mkdirs(data folder, not private): as an older version made it", err.msg);
    ok = ok && ism_fs_write_atomic(store, "SQLite format 3", 15, 0, &err) == 0;
    result(ok, "ism_fs_write_atomic(ismail.db, not private)", err.msg);
    if (!ok)
        return;
    ism_paths_init(&p, data);
    ok = ism_paths_secure_data(&p, done, sizeof done, &err) == 0;
    result(ok, "ism_paths_secure_data restricts the data folder", err.msg);
    printf("restricted: %s\n", done[0] ? done : "(nothing: it was private already)");
    check_dacl("data folder", data);
    check_dacl("store in the data folder", store);
    memset(&err, 0, sizeof err);
    ok = ism_paths_secure_data(&p, done, sizeof done, &err) == 0 && !done[0];
    result(ok, "a second ism_paths_secure_data finds nothing left to restrict", done[0] ? done : err.msg);
    if (!keep) {
        ism_fs_remove(store, &err);
        RemoveDirectoryA(data);
    }
}

int main(int argc, char **argv)
{
    char tmp[MAX_PATH], base[MAX_PATH + 64], keydir[MAX_PATH + 80], key[MAX_PATH + 120];
    ism_err err = {0};
    int keep = argc > 1;
    under_wine = GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != NULL;
    if (keep) {
        snprintf(base, sizeof base, "%s", argv[1]);
    } else {
        GetTempPathA(sizeof tmp, tmp);
        snprintf(base, sizeof base, "%sismail-dacl-%lu", tmp, (unsigned long)GetCurrentProcessId());
    }
    snprintf(keydir, sizeof keydir, "%s\\ssl.key", base);
    snprintf(key, sizeof key, "%s\\example.test.key", keydir);
    printf("key folder: %s%s\n", keydir, under_wine ? " (under Wine: see the WINE notes)" : "");

    static const char pem[] = "-----BEGIN PRIVATE KEY-----\n(test data, not a key)\n-----END PRIVATE KEY-----\n";
    int ok = ism_fs_mkdirs(keydir, 1, &err) == 0;
    result(ok, "ism_fs_mkdirs(ssl.key, private)", err.msg);
    ok = ok && ism_fs_write_atomic(key, pem, sizeof pem - 1, 1, &err) == 0;
    result(ok, "ism_fs_write_atomic(key, private)", err.msg);
    if (ok) {
        check_dacl("key folder", keydir);
        check_dacl("key file", key);
        memset(&err, 0, sizeof err);
        result(ism_fs_private_check(key, &err) == 0, "ism_fs_private_check accepts the key", err.msg);
        check_refusal(keydir);
    }
    check_data_folder(base, keep);
    if (!keep) {
        ism_fs_remove(key, &err);
        RemoveDirectoryA(keydir);
        RemoveDirectoryA(base);
    }
    printf("dacl-check: %s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
