/* platform/win32.c: the Windows back end of ism_platform.h (Winsock, wide-char
 * file APIs, DACLs for the key folder). */
#include "../ism_platform.h"

#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <shlobj.h>
#include <ws2tcpip.h>

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
    SOCKET s = accept(listener, NULL, NULL);
    if (s != INVALID_SOCKET) {
        u_long nb = 1;
        BOOL one = TRUE;
        ioctlsocket(s, FIONBIO, &nb);
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
    }
    return s;
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

int ism_fs_write_atomic(const char *path, const void *data, size_t len, int private_file, ism_err *err)
{
    char tmp[1100], m[256];
    snprintf(tmp, sizeof tmp, "%s.tmp%lu", path, (unsigned long)GetCurrentProcessId());
    wchar_t *wt = widen(tmp), *wp = widen(path);
    int rc = -1;
    HANDLE h = wt ? CreateFileW(wt, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL)
                  : INVALID_HANDLE_VALUE;
    if (h == INVALID_HANDLE_VALUE) {
        ism_err_set(err, ISM_E_IO, "cannot create %s: %s", tmp, win_msg(GetLastError(), m, sizeof m));
        goto out;
    }
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
