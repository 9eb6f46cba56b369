/* fuzz_common: what every fuzz target shares: a private scratch folder per
 * process (on /dev/shm when it can, so the SQLite files the session targets
 * rewrite for every input cost no disk writes), removed at exit, and a few
 * file helpers. See docs/fuzzing.md. */
#ifndef ISM_FUZZ_COMMON_H
#define ISM_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The process's scratch folder, made on first use. Folders left behind by
 * fuzzers that crashed (their process is gone) are removed then too. */
const char *fuzz_scratch(void);

/* dir/name into out (static buffer per call site is the caller's). */
void fuzz_path(char *out, size_t outsz, const char *name);

/* Writes len bytes to path (created 0600, truncated); aborts on failure. */
void fuzz_write_file(const char *path, const void *data, size_t len);

/* Reads a whole file into a malloc'd buffer; aborts on failure. */
void *fuzz_read_file(const char *path, size_t *len);

/* Removes a folder and everything under it (no symbolic links followed). */
void fuzz_rmtree(const char *path);

/* Stops the process with a message: an invariant the target checks failed. */
void fuzz_die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

#endif
