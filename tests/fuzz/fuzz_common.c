/* fuzz_common: scratch folders and file helpers for the fuzz targets (see
 * fuzz_common.h). Linux only, like the fuzz build itself. */
#define _DEFAULT_SOURCE
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define PREFIX "ismail-fuzz-"

static char scratch[512];

void fuzz_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

void fuzz_rmtree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            fuzz_rmtree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static const char *scratch_base(void)
{
    const char *b = getenv("ISMAIL_FUZZ_TMP");
    struct stat sb;
    if (b && *b)
        return b;
    if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0)
        return "/dev/shm";
    b = getenv("TMPDIR");
    return b && *b ? b : "/tmp";
}

/* Folders of earlier fuzzer processes that no longer run (a crash skips the
 * exit handler). The name holds the owner's pid: PREFIX<pid>-XXXXXX. */
static void remove_stale(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, PREFIX, strlen(PREFIX)) != 0)
            continue;
        long pid = strtol(e->d_name + strlen(PREFIX), NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", base, e->d_name);
            fuzz_rmtree(p);
        }
    }
    if (d)
        closedir(d);
}

static void remove_scratch(void)
{
    if (scratch[0])
        fuzz_rmtree(scratch);
}

const char *fuzz_scratch(void)
{
    if (scratch[0])
        return scratch;
    const char *base = scratch_base();
    remove_stale(base);
    snprintf(scratch, sizeof scratch, "%s/" PREFIX "%ld-XXXXXX", base, (long)getpid());
    if (!mkdtemp(scratch))
        fuzz_die("cannot make a scratch folder under %s: %s", base, strerror(errno));
    atexit(remove_scratch);
    return scratch;
}

void fuzz_path(char *out, size_t outsz, const char *name)
{
    if ((size_t)snprintf(out, outsz, "%s/%s", fuzz_scratch(), name) >= outsz)
        fuzz_die("path too long: %s", name);
}

void fuzz_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        fuzz_die("cannot write %s: %s", path, strerror(errno));
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fuzz_die("cannot write %s: %s", path, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    close(fd);
}

void *fuzz_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fuzz_die("cannot read %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            fuzz_die("out of memory reading %s", path);
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    fclose(f);
    *len = n;
    return buf;
}
