/* tlsio: see tlsio.h. */
#include "tlsio.h"

/* Past this much unsent output the BIO asks OpenSSL to wait (SSL_write
 * returns SSL_ERROR_WANT_WRITE and the connection waits for POLLOUT). A
 * write is always taken when nothing waits, however long it is: refusing it
 * then would make OpenSSL retry it for ever. */
#define OUT_LIMIT (256 * 1024)

static BIO_METHOD *method;

static int io_write(BIO *b, const char *data, int len)
{
    ism_tlsio *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    if (io->out.len + (size_t)len > OUT_LIMIT) {
        if (ism_tlsio_flush(io) < 0)
            return -1;
        if (io->out.len > 0 && io->out.len + (size_t)len > OUT_LIMIT) {
            BIO_set_retry_write(b);
            return -1;
        }
    }
    ism_buf_add(&io->out, data, (size_t)len);
    return len;
}

static int io_read(BIO *b, char *data, int len)
{
    ism_tlsio *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    if (io->drained) {
        BIO_set_retry_read(b);
        return -1;
    }
    long n = ism_sock_recv(io->fd, data, (size_t)len);
    if (n == ISM_IO_AGAIN) {
        io->drained = 1;
        BIO_set_retry_read(b);
        return -1;
    }
    if (n > 0 && n < len)
        io->drained = 1;
    return (int)n; /* 0: the peer closed; -1: error */
}

static long io_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    /* A flush is done at the end of the turn; nothing else applies. */
    return cmd == BIO_CTRL_FLUSH;
}

int ism_tlsio_init(void)
{
    if (method)
        return 0;
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ismail socket");
    if (!m || !BIO_meth_set_write(m, io_write) || !BIO_meth_set_read(m, io_read) ||
        !BIO_meth_set_ctrl(m, io_ctrl)) {
        BIO_meth_free(m);
        return -1;
    }
    method = m;
    return 0;
}

BIO *ism_tlsio_bio(ism_tlsio *io)
{
    BIO *b = method ? BIO_new(method) : NULL;
    if (b) {
        BIO_set_data(b, io);
        BIO_set_init(b, 1);
    }
    return b;
}

int ism_tlsio_flush(ism_tlsio *io)
{
    size_t sent = 0;
    while (sent < io->out.len) {
        long n = ism_sock_send(io->fd, io->out.p + sent, io->out.len - sent);
        if (n == ISM_IO_AGAIN)
            break;
        if (n <= 0)
            return -1;
        sent += (size_t)n;
    }
    if (sent == io->out.len)
        ism_tlsio_free(io); /* an idle session keeps no buffer */
    else
        ism_buf_consume(&io->out, sent);
    return 0;
}

void ism_tlsio_free(ism_tlsio *io)
{
    ism_buf_free(&io->out);
}
