/* The socket BIO under the service's TLS sessions (service/tlsio.h), over a
 * real loopback TCP connection. */
#include "ism_platform.h"
#include "tlsio.h"

#include <CppUTest/TestHarness.h>
#include <cstring>
#include <string>

namespace {

/* A connected pair of non-blocking loopback sockets: a (the service's end,
 * under the BIO) and b (the client's). */
struct Pair {
    ism_sock a = ISM_BAD_SOCK, b = ISM_BAD_SOCK;
    Pair()
    {
        ism_sock l = ISM_BAD_SOCK;
        int port = 0;
        for (int p = 39417; p < 39500 && l == ISM_BAD_SOCK; p++)
            if (ism_sock_listen("127.0.0.1", p, &l, nullptr) == 0)
                port = p;
        CHECK(l != ISM_BAD_SOCK);
        ism_err err = {};
        LONGS_EQUAL_TEXT(0, ism_sock_connect_start("127.0.0.1", port, &b, &err), err.msg);
        int r = ISM_IO_AGAIN;
        for (int i = 0; i < 50 && r == ISM_IO_AGAIN; i++)
            r = ism_sock_connect_wait(b, 100, &err);
        LONGS_EQUAL_TEXT(0, r, err.msg);
        for (int i = 0; i < 100 && a == ISM_BAD_SOCK; i++) {
            a = ism_sock_accept(l);
            if (a == ISM_BAD_SOCK)
                readable(l, 20);
        }
        CHECK(a != ISM_BAD_SOCK);
        ism_sock_close(l);
    }
    ~Pair()
    {
        ism_sock_close(a);
        ism_sock_close(b);
    }
    static bool readable(ism_sock s, int ms)
    {
        ism_pollfd p;
        memset(&p, 0, sizeof p);
        p.fd = s;
        p.events = POLLIN;
        return ism_poll(&p, 1, ms) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)); // Windows: a close is POLLHUP
    }
    /* Everything b receives until want bytes have come or 5 s have passed. */
    std::string receive(size_t want)
    {
        std::string got;
        char buf[65536];
        for (int i = 0; i < 250 && got.size() < want; i++) {
            if (!readable(b, 20))
                continue;
            long n = ism_sock_recv(b, buf, sizeof buf);
            if (n > 0)
                got.append(buf, (size_t)n);
            else if (n != ISM_IO_AGAIN)
                break;
        }
        return got;
    }
};

} // namespace

TEST_GROUP(TlsIo)
{
    Pair *pair = nullptr;
    ism_tlsio io = {};
    BIO *bio = nullptr;
    void setup() override
    {
        CHECK_EQUAL(0, ism_tlsio_init());
        pair = new Pair;
        io.fd = pair->a;
        bio = ism_tlsio_bio(&io);
        CHECK(bio != nullptr);
    }
    void teardown() override
    {
        BIO_free(bio);
        ism_tlsio_free(&io);
        delete pair;
    }
};

/* What OpenSSL writes during a turn stays gathered (a flush request from
 * OpenSSL included) and leaves with the flush at the end of the turn, in
 * order; afterwards the session keeps no buffer. */
TEST(TlsIo, WritesAreGatheredUntilTheTurnEnds)
{
    LONGS_EQUAL(14, BIO_write(bio, "session ticket", 14));
    LONGS_EQUAL(1, BIO_flush(bio));
    LONGS_EQUAL(20, BIO_write(bio, "* OK IMAP4rev1 ready", 20));
    CHECK_FALSE(Pair::readable(pair->b, 50)); // nothing sent yet
    LONGS_EQUAL(34, (long)io.out.len);
    LONGS_EQUAL(0, ism_tlsio_flush(&io));
    LONGS_EQUAL(0, (long)io.out.len);
    POINTERS_EQUAL(nullptr, io.out.p);
    STRCMP_EQUAL("session ticket* OK IMAP4rev1 ready", pair->receive(34).c_str());
}

/* After a read that returned less than asked the socket counts as empty for
 * the rest of the turn: the next read says "retry" even though data has
 * arrived meanwhile, and the next turn reads it. */
TEST(TlsIo, AShortReadEndsReadingForTheTurn)
{
    char buf[100];
    CHECK_EQUAL(3, ism_sock_send(pair->b, "abc", 3));
    CHECK(Pair::readable(pair->a, 5000));
    LONGS_EQUAL(3, BIO_read(bio, buf, sizeof buf));
    CHECK_EQUAL(3, ism_sock_send(pair->b, "def", 3));
    CHECK(Pair::readable(pair->a, 5000));
    LONGS_EQUAL(-1, BIO_read(bio, buf, sizeof buf));
    CHECK(BIO_should_retry(bio) && BIO_should_read(bio));
    ism_tlsio_turn(&io);
    LONGS_EQUAL(3, BIO_read(bio, buf, sizeof buf));
    STRNCMP_EQUAL("def", buf, 3);
    // Nothing more there: retry, not an error or end of stream.
    ism_tlsio_turn(&io);
    LONGS_EQUAL(-1, BIO_read(bio, buf, sizeof buf));
    CHECK(BIO_should_retry(bio));
}

/* One write longer than the limit is taken when nothing waits (refusing it
 * would leave OpenSSL retrying it for ever) and arrives whole. */
TEST(TlsIo, AWriteLongerThanTheLimitIsTakenWhenNothingWaits)
{
    std::string big(300 * 1024, 'x');
    LONGS_EQUAL((long)big.size(), BIO_write(bio, big.data(), (int)big.size()));
    std::string got;
    for (int i = 0; i < 250 && got.size() < big.size(); i++) {
        LONGS_EQUAL(0, ism_tlsio_flush(&io));
        got += pair->receive(big.size() - got.size());
    }
    LONGS_EQUAL((long)big.size(), (long)got.size());
    CHECK(got == big);
}

/* The peer's close reads as end of stream. */
TEST(TlsIo, ThePeersCloseIsTheEndOfTheStream)
{
    char buf[16];
    ism_sock_close(pair->b);
    pair->b = ISM_BAD_SOCK;
    CHECK(Pair::readable(pair->a, 5000));
    LONGS_EQUAL(0, BIO_read(bio, buf, sizeof buf));
    CHECK_FALSE(BIO_should_retry(bio));
}

/* A client that does not read: once the socket is full and 256 KiB wait,
 * writing asks OpenSSL to wait for POLLOUT; when the client reads, every byte
 * arrives, in order. */
TEST(TlsIo, AFullSocketMakesWritesWaitAndLosesNothing)
{
    static char chunk[16384];
    size_t written = 0;
    int waited = 0;
    for (int i = 0; i < 4096 && !waited; i++) {
        for (size_t k = 0; k < sizeof chunk; k++)
            chunk[k] = (char)('a' + (written + k) % 23);
        int n = BIO_write(bio, chunk, (int)sizeof chunk);
        if (n < 0) {
            CHECK(BIO_should_retry(bio) && BIO_should_write(bio));
            waited = 1;
        } else {
            LONGS_EQUAL((long)sizeof chunk, n);
            written += (size_t)n;
        }
    }
    CHECK_TEXT(waited, "64 MiB went into the socket without a stop");
    CHECK(io.out.len <= 256 * 1024);
    // The client reads; the service flushes whenever the socket takes more.
    std::string got;
    char buf[65536];
    for (int i = 0; i < 2000 && got.size() < written; i++) {
        LONGS_EQUAL(0, ism_tlsio_flush(&io));
        if (!Pair::readable(pair->b, 20))
            continue;
        long n;
        while ((n = ism_sock_recv(pair->b, buf, sizeof buf)) > 0)
            got.append(buf, (size_t)n);
    }
    LONGS_EQUAL((long)written, (long)got.size());
    for (size_t k = 0; k < got.size(); k += 4099)
        LONGS_EQUAL('a' + (long)(k % 23), got[k]);
    LONGS_EQUAL(0, (long)io.out.len);
}
