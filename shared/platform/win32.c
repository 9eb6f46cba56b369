/* platform/win32.c: the Windows back end of ism_platform.h (Winsock, wide-char
 * file APIs, DACLs for the key folder). */
#include "../ism_platform.h"

#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <shlobj.h>
#include <ws2tcpip.h>
/* RAND_bytes, for temporary file names; OpenSSL's x509.h, included further
 * down, undoes wincrypt.h's X509_NAME macro whichever comes first. */
#include <openssl/rand.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Administrators and SYSTEM, full control, nothing inherited from above: the
 * manual's "restrict access only to system administrators". */
#define KEY_DIR_SDDL L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
#define KEY_FILE_SDDL L"D:P(A;;FA;;;SY)(A;;FA;;;BA)"

static wchar_t *widen(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w)
        MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

static void narrow(const wchar_t *w, char *out, size_t outsz)
{
    if (WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)outsz, NULL, NULL) <= 0 && outsz)
        out[0] = '\0';
}

static const char *win_msg(DWORD code, char *buf, size_t bufsz)
{
    wchar_t w[256];
    if (!FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code, 0, w, 256, NULL)) {
        snprintf(buf, bufsz, "Windows error %lu", (unsigned long)code);
        return buf;
    }
    narrow(w, buf, bufsz);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '.'))
        buf[--n] = '\0';
    return buf;
}

int ism_net_init(ism_err *err)
{
    WSADATA wsa;
    int rc = WSAStartup(MAKEWORD(2, 2), &wsa);
    return rc == 0 ? 0 : ism_err_set(err, ISM_E_NET, "Winsock did not start (error %d)", rc);
}

int ism_sock_listen(const char *addr, int port, ism_sock *out, ism_err *err)
{
    struct sockaddr_storage ss;
    int sl;
    char m[256];
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((u_short)port);
        sl = sizeof *v4;
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((u_short)port);
        sl = sizeof *v6;
    } else {
        return ism_err_set(err, ISM_E_INVALID, "listen.address: '%s' is not an IP address", addr);
    }
    SOCKET s = socket(ss.ss_family, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        return ism_err_set(err, ISM_E_NET, "cannot create a socket: %s", win_msg(WSAGetLastError(), m, sizeof m));
    /* Exclusive use, so no other program can take over a mail port we hold. */
    BOOL one = TRUE;
    setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&one, sizeof one);
    u_long nb = 1;
    if (bind(s, (struct sockaddr *)&ss, sl) != 0 || listen(s, SOMAXCONN) != 0 || ioctlsocket(s, FIONBIO, &nb) != 0) {
        int e = WSAGetLastError();
        closesocket(s);
        return ism_err_set(err, ISM_E_NET, "cannot listen on %s port %d: %s%s", addr, port, win_msg((DWORD)e, m, sizeof m),
                           e == WSAEADDRINUSE ? "; another program uses this port: stop it or choose another port" : "");
    }
    *out = s;
    return 0;
}

ism_sock ism_sock_accept(ism_sock listener)
{
    char peer[64];
    return ism_sock_accept_peer(listener, peer, sizeof peer);
}

ism_sock ism_sock_accept_peer(ism_sock listener, char *peer, size_t peersz)
{
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    SOCKET s = accept(listener, (struct sockaddr *)&ss, &sl);
    snprintf(peer, peersz, "unknown");
    if (s != INVALID_SOCKET && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, peer, peersz);
    else if (s != INVALID_SOCKET && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, peer, peersz);
    if (s != INVALID_SOCKET) {
        u_long nb = 1;
        BOOL one = TRUE;
        ioctlsocket(s, FIONBIO, &nb);
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
    }
    return s;
}

int ism_sock_accept_exhausted(void)
{
    int e = WSAGetLastError();
    return e == WSAEMFILE || e == WSAENOBUFS;
}

void ism_sock_close(ism_sock s)
{
    if (s != INVALID_SOCKET)
        closesocket(s);
}

long ism_sock_recv(ism_sock s, void *buf, size_t len)
{
    int n = recv(s, buf, (int)(len > INT_MAX ? INT_MAX : len), 0);
    if (n == SOCKET_ERROR)
        return WSAGetLastError() == WSAEWOULDBLOCK ? ISM_IO_AGAIN : -1;
    return n;
}

long ism_sock_send(ism_sock s, const void *buf, size_t len)
{
    int n = send(s, buf, (int)(len > INT_MAX ? INT_MAX : len), 0);
    if (n == SOCKET_ERROR)
        return WSAGetLastError() == WSAEWOULDBLOCK ? ISM_IO_AGAIN : -1;
    return n;
}

int ism_udp_loopback_bind(ism_sock *out, int *port, ism_err *err)
{
    struct sockaddr_in a;
    int al = sizeof a;
    char m[256];
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    u_long nb = 1;
    if (s == INVALID_SOCKET || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &al) != 0 || ioctlsocket(s, FIONBIO, &nb) != 0) {
        int e = WSAGetLastError();
        if (s != INVALID_SOCKET)
            closesocket(s);
        return ism_err_set(err, ISM_E_NET, "cannot open the change-signal socket on 127.0.0.1: %s",
                           win_msg((DWORD)e, m, sizeof m));
    }
    *out = s;
    *port = ntohs(a.sin_port);
    return 0;
}

void ism_udp_loopback_send(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((u_short)port);
    WSADATA wsa; /* writers such as the manager need not have started Winsock */
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return;
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (s != INVALID_SOCKET) {
        (void)sendto(s, "!", 1, 0, (struct sockaddr *)&a, sizeof a);
        closesocket(s);
    }
    WSACleanup();
}

int ism_udp_drain(ism_sock s)
{
    char buf[64];
    int n = 0;
    while (recv(s, buf, sizeof buf, 0) >= 0)
        n++;
    return n;
}

int ism_poll(ism_pollfd *fds, size_t n, int timeout_ms)
{
    if (n == 0) {
        Sleep((DWORD)timeout_ms);
        return 0;
    }
    return WSAPoll(fds, (ULONG)n, timeout_ms);
}

static int protect(const char *path, const wchar_t *sddl, ism_err *err)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    BOOL present = FALSE, defaulted = FALSE;
    char m[256];
    wchar_t *w = widen(path);
    DWORD rc = ERROR_OUTOFMEMORY;
    if (w && ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL) &&
        GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted))
        rc = SetNamedSecurityInfoW(w, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                   NULL, NULL, dacl, NULL);
    /* The same DACL again through SetFileSecurityW (its "P" keeps it
     * protected): Windows already has it, but Wine ignores the call above for
     * files and applies only this one, as Unix permission bits; without it a
     * key under Wine stays readable by everyone and is refused at load. */
    if (rc == ERROR_SUCCESS)
        (void)SetFileSecurityW(w, DACL_SECURITY_INFORMATION, sd);
    if (sd)
        LocalFree(sd);
    free(w);
    if (rc != ERROR_SUCCESS)
        return ism_err_set(err, ISM_E_IO, "cannot restrict %s to SYSTEM and Administrators: %s", path,
                           win_msg(rc, m, sizeof m));
    return 0;
}

int ism_fs_mkdirs(const char *dir, int private_dir, ism_err *err)
{
    char buf[1024], m[256];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return ism_err_set(err, ISM_E_IO, "%s: path too long", dir);
    size_t len = strlen(buf);
    for (size_t i = 0; i <= len; i++) {
        char c = buf[i];
        if (c != '\\' && c != '/' && c != '\0')
            continue;
        if (i == 0 || (i == 2 && buf[1] == ':'))
            continue; /* "\" or "C:\" */
        buf[i] = '\0';
        wchar_t *w = widen(buf);
        if (w && !CreateDirectoryW(w, NULL) && GetLastError() != ERROR_ALREADY_EXISTS) {
            DWORD e = GetLastError();
            free(w);
            return ism_err_set(err, ISM_E_IO, "cannot create folder %s: %s", buf, win_msg(e, m, sizeof m));
        }
        free(w);
        buf[i] = c;
    }
    return private_dir ? protect(dir, KEY_DIR_SDDL, err) : 0;
}

int ism_fs_exists(const char *path)
{
    wchar_t *w = widen(path);
    DWORD a = w ? GetFileAttributesW(w) : INVALID_FILE_ATTRIBUTES;
    free(w);
    return a != INVALID_FILE_ATTRIBUTES;
}

int ism_fs_read(const char *path, size_t max, char **data, size_t *len, ism_err *err)
{
    char m[256];
    wchar_t *w = widen(path);
    HANDLE h = w ? CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL)
                 : INVALID_HANDLE_VALUE;
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return ism_err_set(err, ISM_E_IO, "cannot open %s: %s", path, win_msg(GetLastError(), m, sizeof m));
    char *buf = malloc(max + 1);
    size_t n = 0;
    DWORD got = 0;
    while (buf && n <= max && ReadFile(h, buf + n, (DWORD)(max + 1 - n), &got, NULL) && got > 0)
        n += got;
    CloseHandle(h);
    if (!buf)
        return ism_err_set(err, ISM_E_IO, "out of memory reading %s", path);
    if (n > max) {
        free(buf);
        return ism_err_set(err, ISM_E_IO, "%s is larger than %lu bytes; is it the right file?", path, (unsigned long)max);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* How many random temporary names ism_fs_write_atomic tries before giving up. */
#define TMP_TRIES 8

/* Creates PATH.tmp<16 random hex digits> for writing, only if nothing has
 * that name yet; writes its name to tmp and its wide form to *wtmp (freed by
 * the caller). */
static HANDLE create_temp(const char *path, char *tmp, size_t tmpsz, wchar_t **wtmp, ism_err *err)
{
    unsigned char r[8];
    char m[256];
    DWORD e = ERROR_FILE_EXISTS;
    *wtmp = NULL;
    if (strlen(path) + sizeof ".tmp" + 2 * sizeof r > tmpsz) {
        ism_err_set(err, ISM_E_IO, "%s: path too long", path);
        return INVALID_HANDLE_VALUE;
    }
    for (int i = 0; i < TMP_TRIES && (e == ERROR_FILE_EXISTS || e == ERROR_ALREADY_EXISTS); i++) {
        if (RAND_bytes(r, (int)sizeof r) != 1) {
            ism_err_set(err, ISM_E_IO, "cannot create a temporary file next to %s: no random numbers", path);
            return INVALID_HANDLE_VALUE;
        }
        int n = snprintf(tmp, tmpsz, "%s.tmp", path);
        for (size_t k = 0; k < sizeof r; k++)
            n += snprintf(tmp + n, tmpsz - (size_t)n, "%02x", r[k]);
        free(*wtmp);
        *wtmp = widen(tmp);
        if (!*wtmp) {
            e = ERROR_OUTOFMEMORY;
            break;
        }
        HANDLE h = CreateFileW(*wtmp, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
        if (h != INVALID_HANDLE_VALUE)
            return h;
        e = GetLastError();
    }
    ism_err_set(err, ISM_E_IO, "cannot create %s: %s", tmp, win_msg(e, m, sizeof m));
    return INVALID_HANDLE_VALUE;
}

int ism_fs_write_atomic(const char *path, const void *data, size_t len, int private_file, ism_err *err)
{
    char tmp[1100], m[256];
    wchar_t *wt = NULL, *wp = widen(path);
    int rc = -1;
    HANDLE h = wp ? create_temp(path, tmp, sizeof tmp, &wt, err) : INVALID_HANDLE_VALUE;
    if (!wp)
        ism_err_set(err, ISM_E_IO, "out of memory writing %s", path);
    if (h == INVALID_HANDLE_VALUE)
        goto out;
    DWORD put = 0;
    BOOL ok = WriteFile(h, data, (DWORD)len, &put, NULL) && put == len && FlushFileBuffers(h);
    CloseHandle(h);
    if (!ok) {
        ism_err_set(err, ISM_E_IO, "cannot write %s: %s", tmp, win_msg(GetLastError(), m, sizeof m));
        DeleteFileW(wt);
        goto out;
    }
    if (private_file && protect(tmp, KEY_FILE_SDDL, err)) {
        DeleteFileW(wt);
        goto out;
    }
    if (!MoveFileExW(wt, wp, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
        ism_err_set(err, ISM_E_IO, "cannot replace %s: %s", path, win_msg(GetLastError(), m, sizeof m));
        DeleteFileW(wt);
        goto out;
    }
    rc = 0;
out:
    free(wt);
    free(wp);
    return rc;
}

void ism_plat_hostname(char *out, size_t outsz)
{
    wchar_t w[256];
    DWORD n = 256;
    if (!GetComputerNameExW(ComputerNameDnsFullyQualified, w, &n) || n == 0) {
        n = 256;
        if (!GetComputerNameExW(ComputerNameDnsHostname, w, &n))
            wcscpy(w, L"localhost");
    }
    narrow(w, out, outsz);
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
}

void ism_plat_default_data_dir(char *out, size_t outsz)
{
    wchar_t *pd = NULL;
    char base[MAX_PATH * 3] = "C:\\ProgramData";
    if (SHGetKnownFolderPath(&FOLDERID_ProgramData, 0, NULL, &pd) == S_OK)
        narrow(pd, base, sizeof base);
    CoTaskMemFree(pd);
    snprintf(out, outsz, "%s\\InstantServers\\ISMail", base);
}

void ism_plat_default_conf_dir(char *out, size_t outsz)
{
    /* The programs are installed in C:\Program Files\InstantServers\ISMail\;
     * the manual's certificate folders are under Apache\conf there. */
    wchar_t w[MAX_PATH];
    char exe[MAX_PATH * 3];
    DWORD n = GetModuleFileNameW(NULL, w, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) {
        snprintf(out, outsz, "C:\\Program Files\\InstantServers\\ISMail\\Apache\\conf");
        return;
    }
    narrow(w, exe, sizeof exe);
    char *slash = strrchr(exe, '\\');
    if (slash)
        *slash = '\0';
    snprintf(out, outsz, "%s\\Apache\\conf", exe);
}

int64_t ism_time_mono_ms(void)
{
    return (int64_t)GetTickCount64();
}

int64_t ism_time_wall_ms(void)
{
    FILETIME ft;
    GetSystemTimeAsFileTime(&ft);
    uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
    return (int64_t)((t - 116444736000000000ULL) / 10000ULL);
}

void ism_sleep_ms(int ms)
{
    Sleep((DWORD)ms);
}

int ism_fs_list(const char *dir, const char *suffix, void (*fn)(const char *name, void *ctx), void *ctx,
                ism_err *err)
{
    char pattern[2048], m[256];
    snprintf(pattern, sizeof pattern, "%s\\*", dir);
    wchar_t *w = widen(pattern);
    WIN32_FIND_DATAW fd;
    HANDLE h = w ? FindFirstFileW(w, &fd) : INVALID_HANDLE_VALUE;
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        if (e == ERROR_FILE_NOT_FOUND)
            return 0;
        return ism_err_set(err, ISM_E_IO, "cannot read folder %s: %s", dir, win_msg(e, m, sizeof m));
    }
    size_t sl = strlen(suffix);
    do {
        char name[MAX_PATH * 3];
        if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
            continue;
        narrow(fd.cFileName, name, sizeof name);
        size_t nl = strlen(name);
        if (name[0] == '.' || nl <= sl || _stricmp(name + nl - sl, suffix) != 0)
            continue;
        fn(name, ctx);
    } while (FindNextFileW(h, &fd));
    FindClose(h);
    return 0;
}

int ism_fs_stat(const char *path, int64_t *mtime_ms, int64_t *size)
{
    WIN32_FILE_ATTRIBUTE_DATA a;
    wchar_t *w = widen(path);
    BOOL ok = w && GetFileAttributesExW(w, GetFileExInfoStandard, &a);
    free(w);
    if (!ok)
        return -1;
    uint64_t t = ((uint64_t)a.ftLastWriteTime.dwHighDateTime << 32) | a.ftLastWriteTime.dwLowDateTime;
    *mtime_ms = (int64_t)((t - 116444736000000000ULL) / 10000ULL);
    *size = (int64_t)(((uint64_t)a.nFileSizeHigh << 32) | a.nFileSizeLow);
    return 0;
}

/* Who an access entry names, for the message: DOMAIN\name, else the SID. */
static void sid_name(PSID sid, char *out, size_t outsz)
{
    wchar_t name[256], dom[256];
    DWORD nl = 256, dl = 256;
    SID_NAME_USE use;
    LPWSTR s = NULL;
    if (LookupAccountSidW(NULL, sid, name, &nl, dom, &dl, &use)) {
        char n[600], d[600];
        narrow(name, n, sizeof n);
        narrow(dom, d, sizeof d);
        snprintf(out, outsz, "%s%s%s", d, *d ? "\\" : "", n);
    } else if (ConvertSidToStringSidW(sid, &s)) {
        narrow(s, out, outsz);
        LocalFree(s);
    } else {
        snprintf(out, outsz, "an unknown account");
    }
}

/* Reads path's DACL and looks for an entry that lets in anyone but SYSTEM,
 * Administrators and the owner. Returns 1 with who (an account, or what
 * kind of entry) and *named / *inherited (an account's entry, inherited
 * from the folder) when there is one, 0 when there is none, -1 when the
 * permissions cannot be read (err says why). */
static int dacl_stranger(const char *path, char *who, size_t whosz, int *named, int *inherited, ism_err *err)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    PSID owner = NULL;
    PACL dacl = NULL;
    char m[256];
    BYTE sy[SECURITY_MAX_SID_SIZE], ba[SECURITY_MAX_SID_SIZE];
    DWORD syl = sizeof sy, bal = sizeof ba;
    wchar_t *w = widen(path);
    DWORD e = w ? GetNamedSecurityInfoW(w, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                                        &owner, NULL, &dacl, NULL, &sd)
                : ERROR_OUTOFMEMORY;
    free(w);
    if (e != ERROR_SUCCESS)
        return ism_err_set(err, ISM_E_IO, "cannot read the permissions of %s: %s", path, win_msg(e, m, sizeof m));
    if (!CreateWellKnownSid(WinLocalSystemSid, NULL, sy, &syl) ||
        !CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, ba, &bal)) {
        LocalFree(sd);
        return ism_err_set(err, ISM_E_IO, "cannot check the permissions of %s", path);
    }
    who[0] = '\0';
    *named = *inherited = 0;
    if (!dacl) {
        snprintf(who, whosz, "everyone (the file has no access list)");
    } else {
        for (DWORD i = 0; i < dacl->AceCount && !who[0]; i++) {
            ACE_HEADER *h;
            if (!GetAce(dacl, i, (void **)&h) || (h->AceFlags & INHERIT_ONLY_ACE))
                continue; /* entries only for objects created inside do not apply to the file */
            if (h->AceType == ACCESS_ALLOWED_ACE_TYPE || h->AceType == ACCESS_ALLOWED_CALLBACK_ACE_TYPE) {
                ACCESS_ALLOWED_ACE *a = (ACCESS_ALLOWED_ACE *)h;
                PSID sid = (PSID)&a->SidStart;
                if (a->Mask == 0 || EqualSid(sid, (PSID)sy) || EqualSid(sid, (PSID)ba) ||
                    (owner && EqualSid(sid, owner)))
                    continue;
                sid_name(sid, who, whosz);
                *named = 1;
                *inherited = (h->AceFlags & INHERITED_ACE) != 0;
            } else if (h->AceType == ACCESS_ALLOWED_OBJECT_ACE_TYPE ||
                       h->AceType == ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE) {
                snprintf(who, whosz, "an object access entry");
            }
        }
    }
    LocalFree(sd);
    return who[0] ? 1 : 0;
}

int ism_fs_private_check(const char *path, ism_err *err)
{
    char who[600];
    int named = 0, inherited = 0;
    int r = dacl_stranger(path, who, sizeof who, &named, &inherited, err);
    if (r <= 0)
        return r;
    char fix[800];
    if (named && !inherited)
        snprintf(fix, sizeof fix, " and icacls \"%s\" /remove \"%s\"", path, who);
    else
        fix[0] = '\0';
    return ism_err_set(err, ISM_E_TLS,
                       "%s: the private key file can be read by %s; it is not used until only SYSTEM and "
                       "Administrators can read it: icacls \"%s\" /inheritance:r /grant:r SYSTEM:F "
                       "Administrators:F%s",
                       path, who, path, fix);
}

int ism_fs_others_access(const char *path, char *who, size_t whosz, ism_err *err)
{
    char w[600];
    int named = 0, inherited = 0;
    if (whosz)
        who[0] = '\0';
    int r = dacl_stranger(path, w, sizeof w, &named, &inherited, err);
    if (r > 0)
        snprintf(who, whosz, "%s", w);
    return r;
}

int ism_fs_make_private(const char *path, char *was, size_t wassz, ism_err *err)
{
    char who[600], m[256];
    int named = 0, inherited = 0;
    if (wassz)
        was[0] = '\0';
    wchar_t *w = widen(path);
    DWORD attr = w ? GetFileAttributesW(w) : INVALID_FILE_ATTRIBUTES;
    DWORD e = w ? GetLastError() : ERROR_OUTOFMEMORY;
    free(w);
    if (attr == INVALID_FILE_ATTRIBUTES && (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND))
        return 0;
    if (attr == INVALID_FILE_ATTRIBUTES)
        return ism_err_set(err, ISM_E_IO, "cannot open %s to restrict it: %s", path, win_msg(e, m, sizeof m));
    if (attr & FILE_ATTRIBUTE_REPARSE_POINT)
        return ism_err_set(err, ISM_E_IO,
                           "%s is a link (reparse point), which is not followed to restrict its target: restrict "
                           "the target to SYSTEM and Administrators (icacls TARGET /inheritance:r /grant:r SYSTEM:F "
                           "Administrators:F)",
                           path);
    int r = dacl_stranger(path, who, sizeof who, &named, &inherited, err);
    if (r <= 0)
        return r;
    int dir = (attr & FILE_ATTRIBUTE_DIRECTORY) != 0;
    if (protect(path, dir ? KEY_DIR_SDDL : KEY_FILE_SDDL, err))
        return -1;
    snprintf(was, wassz, "readable by %s", who);
    return 1;
}

void ism_plat_private_umask(void)
{
    /* Nothing: new files inherit their folder's access list, and the data
     * folder's admits only SYSTEM and Administrators (ism_paths_ensure). */
}

int ism_fs_remove(const char *path, ism_err *err)
{
    char m[256];
    wchar_t *w = widen(path);
    if (!w)
        return ism_err_set(err, ISM_E_IO, "out of memory deleting %s", path);
    BOOL ok = DeleteFileW(w);
    DWORD e = GetLastError();
    free(w);
    if (!ok && e != ERROR_FILE_NOT_FOUND && e != ERROR_PATH_NOT_FOUND)
        return ism_err_set(err, ISM_E_IO, "cannot delete %s: %s", path, win_msg(e, m, sizeof m));
    return 0;
}

/* ---- threads ---- */

struct ism_thread {
    HANDLE h;
    void (*fn)(void *);
    void *arg;
};
struct ism_mutex {
    SRWLOCK l;
};
struct ism_cond {
    CONDITION_VARIABLE cv;
};

static DWORD WINAPI thread_main(LPVOID p)
{
    ism_thread *t = p;
    t->fn(t->arg);
    return 0;
}

int ism_thread_start(ism_thread **out, void (*fn)(void *arg), void *arg, ism_err *err)
{
    char m[256];
    ism_thread *t = calloc(1, sizeof *t);
    if (!t)
        return ism_err_set(err, ISM_E_IO, "out of memory starting a thread");
    t->fn = fn;
    t->arg = arg;
    t->h = CreateThread(NULL, 0, thread_main, t, 0, NULL);
    if (!t->h) {
        DWORD e = GetLastError();
        free(t);
        return ism_err_set(err, ISM_E_IO, "cannot start a thread: %s", win_msg(e, m, sizeof m));
    }
    *out = t;
    return 0;
}

void ism_thread_join(ism_thread *t)
{
    if (!t)
        return;
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    free(t);
}

int ism_mutex_new(ism_mutex **out, ism_err *err)
{
    ism_mutex *m = calloc(1, sizeof *m);
    if (!m)
        return ism_err_set(err, ISM_E_IO, "out of memory creating a mutex");
    InitializeSRWLock(&m->l);
    *out = m;
    return 0;
}

void ism_mutex_free(ism_mutex *m) { free(m); }
void ism_mutex_lock(ism_mutex *m) { AcquireSRWLockExclusive(&m->l); }
void ism_mutex_unlock(ism_mutex *m) { ReleaseSRWLockExclusive(&m->l); }

int ism_cond_new(ism_cond **out, ism_err *err)
{
    ism_cond *c = calloc(1, sizeof *c);
    if (!c)
        return ism_err_set(err, ISM_E_IO, "out of memory creating a condition variable");
    InitializeConditionVariable(&c->cv);
    *out = c;
    return 0;
}

void ism_cond_free(ism_cond *c) { free(c); }

void ism_cond_wait_ms(ism_cond *c, ism_mutex *m, int timeout_ms)
{
    SleepConditionVariableSRW(&c->cv, &m->l, (DWORD)(timeout_ms < 0 ? 0 : timeout_ms), 0);
}

void ism_cond_broadcast(ism_cond *c) { WakeAllConditionVariable(&c->cv); }

/* ---- outgoing connections, DNS, trusted roots ---- */
#include <wincrypt.h>
#include <windns.h>
/* after wincrypt.h: OpenSSL's headers undo its X509_NAME macro */
#include <openssl/err.h>
#include <openssl/x509.h>
#ifdef _MSC_VER
#pragma comment(lib, "dnsapi.lib")
#endif

int ism_net_resolve(const char *host, char addrs[][64], int max, ism_err *err)
{
    ADDRINFOW hints, *res = NULL;
    char m[256];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    wchar_t *w = widen(host);
    int rc = w ? GetAddrInfoW(w, NULL, &hints, &res) : WSA_NOT_ENOUGH_MEMORY;
    free(w);
    if (rc != 0) {
        ism_err_set(err, ISM_E_NET, "cannot find the address of %s: %s", host, win_msg((DWORD)rc, m, sizeof m));
        return (rc == WSAHOST_NOT_FOUND || rc == WSANO_DATA) ? ISM_NET_NXDOMAIN : -1;
    }
    int n = 0;
    for (ADDRINFOW *a = res; a && n < max; a = a->ai_next) {
        const void *src = a->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                          : a->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
                                                     : NULL;
        if (!src || !inet_ntop(a->ai_family, src, addrs[n], 64))
            continue;
        int dup = 0;
        for (int i = 0; i < n && !dup; i++)
            dup = strcmp(addrs[i], addrs[n]) == 0;
        if (!dup)
            n++;
    }
    FreeAddrInfoW(res);
    if (n == 0) {
        ism_err_set(err, ISM_E_NET, "%s has no IPv4 or IPv6 address", host);
        return ISM_NET_NXDOMAIN;
    }
    return n;
}

int ism_sock_connect_start(const char *ip, int port, ism_sock *out, ism_err *err)
{
    struct sockaddr_storage ss;
    int sl;
    char m[256];
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((u_short)port);
        sl = sizeof *v4;
    } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((u_short)port);
        sl = sizeof *v6;
    } else {
        return ism_err_set(err, ISM_E_INVALID, "'%s' is not an IP address", ip);
    }
    SOCKET s = socket(ss.ss_family, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        return ism_err_set(err, ISM_E_NET, "cannot create a socket: %s", win_msg(WSAGetLastError(), m, sizeof m));
    u_long nb = 1;
    BOOL one = TRUE;
    ioctlsocket(s, FIONBIO, &nb);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
    if (connect(s, (struct sockaddr *)&ss, sl) != 0 && WSAGetLastError() != WSAEWOULDBLOCK) {
        int e = WSAGetLastError();
        closesocket(s);
        return ism_err_set(err, ISM_E_NET, "cannot connect to %s port %d: %s", ip, port, win_msg((DWORD)e, m, sizeof m));
    }
    *out = s;
    return 0;
}

int ism_sock_connect_wait(ism_sock s, int timeout_ms, ism_err *err)
{
    /* select(), not WSAPoll: older WSAPoll does not report a refused connection. */
    fd_set wr, ex;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    char m[256];
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    FD_SET(s, &wr);
    FD_SET(s, &ex);
    int r = select(0, NULL, &wr, &ex, &tv);
    if (r == 0)
        return ISM_IO_AGAIN;
    int e = 0, el = sizeof e;
    if (r == SOCKET_ERROR)
        e = WSAGetLastError();
    else if (FD_ISSET(s, &ex) && (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&e, &el) != 0 || e == 0))
        e = e ? e : WSAECONNREFUSED;
    if (e != 0)
        return ism_err_set(err, ISM_E_NET, "connection failed: %s", win_msg((DWORD)e, m, sizeof m));
    return 0;
}

int ism_dns_mx(const char *domain, char hosts[][256], int prefs[], int max, ism_err *err)
{
    PDNS_RECORDA rec = NULL;
    char m[256];
    DNS_STATUS st = DnsQuery_UTF8(domain, DNS_TYPE_MX, DNS_QUERY_STANDARD, NULL, &rec, NULL);
    if (st == DNS_ERROR_RCODE_NAME_ERROR)
        return ISM_NET_NXDOMAIN;
    if (st == DNS_INFO_NO_RECORDS)
        return 0;
    if (st != 0)
        return ism_err_set(err, ISM_E_NET, "DNS lookup of the MX records of %s failed: %s", domain,
                           win_msg((DWORD)st, m, sizeof m));
    int count = 0;
    for (PDNS_RECORDA r = rec; r && count < max; r = r->pNext) {
        if (r->wType != DNS_TYPE_MX || r->Flags.S.Section != DnsSectionAnswer || !r->Data.MX.pNameExchange)
            continue;
        int pref = r->Data.MX.wPreference, k = count;
        while (k > 0 && prefs[k - 1] > pref) {
            memcpy(hosts[k], hosts[k - 1], 256);
            prefs[k] = prefs[k - 1];
            k--;
        }
        const char *name = r->Data.MX.pNameExchange;
        snprintf(hosts[k], 256, "%s", strcmp(name, ".") == 0 ? "" : name);
        size_t hl = strlen(hosts[k]);
        if (hl > 0 && hosts[k][hl - 1] == '.')
            hosts[k][hl - 1] = '\0';
        prefs[k] = pref;
        count++;
    }
    DnsRecordListFree(rec, DnsFreeRecordList);
    return count;
}

int ism_plat_system_roots(struct x509_store_st *store, ism_err *err)
{
    char m[256];
    HCERTSTORE cs = CertOpenSystemStoreW(0, L"ROOT");
    if (!cs)
        return ism_err_set(err, ISM_E_TLS, "cannot open the Windows trusted root certificate store: %s",
                           win_msg(GetLastError(), m, sizeof m));
    PCCERT_CONTEXT c = NULL;
    while ((c = CertEnumCertificatesInStore(cs, c)) != NULL) {
        const unsigned char *p = c->pbCertEncoded;
        X509 *x = d2i_X509(NULL, &p, (long)c->cbCertEncoded);
        if (x) {
            X509_STORE_add_cert(store, x); /* a duplicate is not an error worth stopping for */
            X509_free(x);
        }
    }
    CertCloseStore(cs, 0);
    ERR_clear_error();
    return 0;
}

void ism_plat_release_memory(void)
{
    _heapmin(); /* decommits the CRT heap's free pages */
}

int ism_plat_cpu_count(void)
{
    /* The processors the process may run on (its affinity mask, set by an
     * administrator or a job object), not all the machine has. */
    DWORD_PTR proc = 0, sys = 0;
    if (GetProcessAffinityMask(GetCurrentProcess(), &proc, &sys) && proc) {
        int n = 0;
        for (; proc; proc &= proc - 1)
            n++;
        return n;
    }
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwNumberOfProcessors < 1 ? 1 : (int)si.dwNumberOfProcessors;
}

long ism_plat_raise_fd_limit(void)
{
    return 0; /* sockets are handles, limited only by memory */
}
