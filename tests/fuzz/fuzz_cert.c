/* fuzz_cert: libFuzzer target for the certificate loader (shared/ism_cert.h):
 * whatever an administrator hands `ismailctl cert show|install` or the
 * manager's certificate dialogs, in any of the formats it accepts: PEM (any
 * mix of certificates, CSRs, PKCS#7 and keys, encrypted or not), DER
 * certificates and CSRs, PKCS#12 (.pfx) and PKCS#7.
 *
 * The input is written to a file (the API reads files) and then:
 *   - described as a certificate, with the same file as its key (so the key
 *     loader and the key match run too);
 *   - described as a CSR;
 *   - installed into a scratch data folder, with the PKCS#12/key password
 *     "fuzz", without and with the same file as the CA list.
 * Checks, besides the sanitizers, that the counts in the descriptions stay
 * within their arrays and that a refusal has a message. An install that
 * succeeds is undone so that every input starts from empty folders.
 * Seeds: tests/fuzz/make-cert-seeds.sh makes them into the build folder. */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "fuzz_common.h"
#include "ism_cert.h"
#include "ism_log.h"

#include <stdio.h>
#include <string.h>

static char in_path[1024], data_dir[1024];
static ism_paths paths;

static void init(void)
{
    ism_err err;
    memset(&err, 0, sizeof err);
    ism_log_open(NULL, 0);
    fuzz_path(in_path, sizeof in_path, "input.crt");
    fuzz_path(data_dir, sizeof data_dir, "data");
    ism_paths_init(&paths, data_dir);
    if (ism_paths_ensure(&paths, &err))
        fuzz_die("ism_paths_ensure: %s", err.msg);
}

static void describe(int is_csr, const char *key_path)
{
    static ism_cert_info info; /* large: kept off the stack */
    ism_err err;
    memset(&err, 0, sizeof err);
    if (ism_cert_describe(in_path, is_csr, key_path, &info, &err) == 0) {
        if (info.n_san < 0 || info.n_san > ISM_CERT_MAX_SANS || info.n_chain < 0 || info.n_chain > ISM_CERT_MAX_CHAIN)
            fuzz_die("description out of bounds: %d names, %d chain certificates", info.n_san, info.n_chain);
        if (!ism_cert_status_word(info.status)[0])
            fuzz_die("status %d has no word", (int)info.status);
        if (strnlen(info.subject, sizeof info.subject) >= sizeof info.subject ||
            strnlen(info.problem, sizeof info.problem) >= sizeof info.problem ||
            strnlen(info.domain, sizeof info.domain) >= sizeof info.domain)
            fuzz_die("a description string is not terminated");
    } else if (!err.msg[0]) {
        fuzz_die("ism_cert_describe failed without a message");
    }
}

static void install(const char *ca)
{
    static ism_cert_result res;
    ism_err err;
    memset(&err, 0, sizeof err);
    ism_cert_install_req req;
    memset(&req, 0, sizeof req);
    req.file = in_path;
    req.ca_file = ca;
    req.password = "fuzz";
    int rc = ism_cert_install(&paths, &req, &res, &err);
    if (res.n_checks < 0 || res.n_checks > ISM_CERT_MAX_CHECKS || res.n_written < 0 || res.n_written > 3 ||
        res.n_backup < 0 || res.n_backup > 3)
        fuzz_die("install result out of bounds: %d checks, %d written, %d backups", res.n_checks, res.n_written,
                 res.n_backup);
    if (rc != 0 && !err.msg[0])
        fuzz_die("ism_cert_install failed without a message");
    if (res.n_written > 0 || res.n_backup > 0) {
        fuzz_rmtree(data_dir);
        if (ism_paths_ensure(&paths, &err))
            fuzz_die("ism_paths_ensure: %s", err.msg);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!in_path[0])
        init();
    fuzz_write_file(in_path, data, size);
    describe(0, in_path);
    describe(1, NULL);
    install(NULL);
    install(in_path);
    return 0;
}
