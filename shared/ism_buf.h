/* ism_buf: a growable byte buffer for protocol output. */
#ifndef ISM_BUF_H
#define ISM_BUF_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char *p;
    size_t len, cap;
    int oom;       /* an append failed for want of memory: the contents are
                      incomplete; the owner must give up what it was building
                      (a connection closes, a message is refused) */
} ism_buf;

/* Appends. When memory runs out nothing is appended and b->oom is set, so
 * one connection fails rather than the whole service. */
void ism_buf_add(ism_buf *b, const void *data, size_t len);
void ism_buf_printf(ism_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Drops the first n bytes. */
void ism_buf_consume(ism_buf *b, size_t n);
void ism_buf_free(ism_buf *b);

#ifdef __cplusplus
}
#endif
#endif
