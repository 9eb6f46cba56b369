/* acl-read: prints the access list (DACL) of a file or folder as SDDL, for
 * the Windows tests under Wine (tests/wine/e2e-service.sh), where icacls and
 * cacls are stubs that print nothing.
 *
 *   acl-read.exe PATH               e.g.  D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)
 *   acl-read.exe --set SDDL PATH    sets that DACL ("D:P..." also protects it
 *                                   from inheritance), then prints what reads
 *                                   back: a probe of whether the platform
 *                                   keeps access lists (Wine keeps only Unix
 *                                   permission bits)
 *
 * "D:P" means a protected DACL (nothing inherited from the parent folder).
 * Exits 0 after printing one line, 1 when the security cannot be read or
 * set, 2 on bad usage. */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <stdio.h>
#include <wchar.h>

static int set_dacl(const wchar_t *sddl, wchar_t *path)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    BOOL present = FALSE, defaulted = FALSE;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL) ||
        !GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted)) {
        fprintf(stderr, "acl-read: not a usable SDDL DACL (error %lu)\n", (unsigned long)GetLastError());
        if (sd)
            LocalFree(sd);
        return 1;
    }
    SECURITY_INFORMATION what = DACL_SECURITY_INFORMATION;
    if (wcsncmp(sddl, L"D:P", 3) == 0)
        what |= PROTECTED_DACL_SECURITY_INFORMATION;
    DWORD rc = SetNamedSecurityInfoW(path, SE_FILE_OBJECT, what, NULL, NULL, dacl, NULL);
    LocalFree(sd);
    if (rc != ERROR_SUCCESS) {
        fprintf(stderr, "acl-read: SetNamedSecurityInfo failed (error %lu)\n", (unsigned long)rc);
        return 1;
    }
    return 0;
}

int wmain(int argc, wchar_t **argv)
{
    wchar_t *path;
    if (argc == 2 && wcscmp(argv[1], L"--set") != 0) {
        path = argv[1];
    } else if (argc == 4 && wcscmp(argv[1], L"--set") == 0) {
        path = argv[3];
        if (set_dacl(argv[2], path))
            return 1;
    } else {
        fprintf(stderr, "usage: acl-read PATH | acl-read --set SDDL PATH\n");
        return 2;
    }
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    DWORD rc = GetNamedSecurityInfoW(path, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &sd);
    if (rc != ERROR_SUCCESS) {
        fprintf(stderr, "acl-read: GetNamedSecurityInfo failed (error %lu)\n", (unsigned long)rc);
        return 1;
    }
    LPWSTR sddl = NULL;
    if (!ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &sddl,
                                                              NULL)) {
        fprintf(stderr, "acl-read: cannot convert the security descriptor (error %lu)\n",
                (unsigned long)GetLastError());
        LocalFree(sd);
        return 1;
    }
    printf("%ls\n", sddl);
    LocalFree(sddl);
    LocalFree(sd);
    return 0;
}
