/* cmd_mail: the ismailctl commands for local domains and mail accounts.
 *
 *   ismailctl user add ADDRESS [--password-file FILE]
 *   ismailctl user passwd ADDRESS [--password-file FILE]
 *   ismailctl user remove ADDRESS
 *   ismailctl [--json] user list
 *   ismailctl localdomain add|remove DOMAIN
 *   ismailctl [--json] localdomain list
 *
 * They work on the mail store, DATA/mail.db (ism_mail.h). A password is
 * never taken from the command line, where other users could read it in the
 * process list and the shell would keep it in its history: it is the first
 * line of --password-file, or one line read from standard input. */
#include "ctl.h"
#include "ism_mail.h"
#include "ism_platform.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <io.h>
#define stdin_is_terminal() _isatty(0)
#else
#include <unistd.h>
#define stdin_is_terminal() isatty(0)
#endif

#define PASSWORD_FILE_MAX 65536

static void user_usage(void)
{
    fprintf(stderr, "Usage: ismailctl user add ADDRESS [--password-file FILE]\n"
                    "       ismailctl user passwd ADDRESS [--password-file FILE]\n"
                    "       ismailctl user remove ADDRESS\n"
                    "       ismailctl [--json] user list\n"
                    "Without --password-file the password is read from standard input (one line).\n");
}

static void localdomain_usage(void)
{
    fprintf(stderr, "Usage: ismailctl localdomain add DOMAIN\n"
                    "       ismailctl localdomain remove DOMAIN\n"
                    "       ismailctl [--json] localdomain list\n");
}

static int open_mail(ism_ctl *ctx, ism_mail **m)
{
    char path[ISM_PATH_MAX + 16];
    ism_err err = {0};
    ism_paths_file(path, sizeof path, ctx->paths.data, "mail", ".db");
    if (ism_mail_open(m, path, &err))
        return ism_ctl_fail(&err);
    return ISM_EXIT_OK;
}

/* Cuts s at its first line end. */
static void first_line(char *s)
{
    s[strcspn(s, "\r\n")] = '\0';
}

/* Reads the password into a malloc'd string (wipe and free it). */
static int read_password(const char *file, const char *address, char **out)
{
    ism_err err = {0};
    *out = NULL;
    if (file) {
        char *data;
        size_t len;
        if (ism_fs_read(file, PASSWORD_FILE_MAX, &data, &len, &err)) {
            /* The file is an argument: a wrong one is an invalid value (3). */
            fprintf(stderr, "ismailctl: password file: %s\n", err.msg);
            return ISM_EXIT_INVALID;
        }
        if (memchr(data, '\0', len)) {
            OPENSSL_cleanse(data, len);
            free(data);
            fprintf(stderr, "ismailctl: password file %s is not a text file; put the password on its first line\n",
                    file);
            return ISM_EXIT_INVALID;
        }
        first_line(data);
        if (!data[0]) {
            free(data);
            fprintf(stderr, "ismailctl: password file %s is empty; put the password on its first line\n", file);
            return ISM_EXIT_INVALID;
        }
        *out = data;
        return ISM_EXIT_OK;
    }
    /* Standard input: a script pipes the password in; at a terminal, say what
     * is expected (the characters are shown as they are typed). */
    if (stdin_is_terminal())
        fprintf(stderr, "Password for %s (shown as you type; --password-file avoids that): ", address);
    size_t cap = ISM_MAIL_MAX_PASSWORD + 4;
    char *buf = calloc(1, cap);
    if (!buf) {
        fprintf(stderr, "ismailctl: out of memory\n");
        return ISM_EXIT_STORE;
    }
    if (!fgets(buf, (int)cap, stdin)) {
        free(buf);
        fprintf(stderr, "ismailctl: no password on standard input; type it followed by Enter, pipe it in, "
                        "or use --password-file FILE\n");
        return ISM_EXIT_INVALID;
    }
    if (!strchr(buf, '\n') && strlen(buf) == cap - 1) {
        OPENSSL_cleanse(buf, cap);
        free(buf);
        fprintf(stderr, "ismailctl: password on standard input is too long (at most %d characters)\n",
                ISM_MAIL_MAX_PASSWORD);
        return ISM_EXIT_INVALID;
    }
    first_line(buf);
    *out = buf;
    return ISM_EXIT_OK;
}

static void wipe(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* Prints a list as text (one a line, or `empty` when there is none) or as a
 * JSON array of objects {"key": item}. */
static void print_list(const ism_ctl *ctx, char **v, size_t n, const char *key, const char *empty)
{
    if (ctx->json) {
        printf("[");
        for (size_t i = 0; i < n; i++) {
            printf("%s\n  {\"%s\": ", i ? "," : "", key);
            ism_ctl_jstr(v[i]);
            printf("}");
        }
        printf("%s]\n", n ? "\n" : "");
        return;
    }
    for (size_t i = 0; i < n; i++)
        printf("%s\n", v[i]);
    if (n == 0)
        fprintf(stderr, "%s\n", empty);
}

/* Takes a trailing --json (besides the global one before the command). */
static int take_json(ism_ctl *ctx, int *argc, char **argv)
{
    if (*argc > 0 && strcmp(argv[*argc - 1], "--json") == 0) {
        ctx->json = 1;
        (*argc)--;
    }
    return 0;
}

int ism_ctl_user(ism_ctl *ctx, int argc, char **argv)
{
    take_json(ctx, &argc, argv);
    if (argc < 2) {
        user_usage();
        return ISM_EXIT_USAGE;
    }
    const char *sub = argv[1];
    int is_add = strcmp(sub, "add") == 0, is_passwd = strcmp(sub, "passwd") == 0;
    const char *address = NULL, *password_file = NULL;
    if (strcmp(sub, "list") == 0) {
        if (argc != 2) {
            user_usage();
            return ISM_EXIT_USAGE;
        }
    } else if (is_add || is_passwd || strcmp(sub, "remove") == 0) {
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--password-file") == 0 && (is_add || is_passwd)) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "ismailctl: --password-file needs a file name\n");
                    return ISM_EXIT_USAGE;
                }
                password_file = argv[++i];
            } else if (strcmp(argv[i], "--password") == 0 || strncmp(argv[i], "--password=", 11) == 0) {
                fprintf(stderr, "ismailctl: a password is never taken from the command line (others could read "
                                "it); use --password-file FILE or standard input\n");
                return ISM_EXIT_USAGE;
            } else if (strncmp(argv[i], "--", 2) == 0 || address) {
                fprintf(stderr, "ismailctl: unexpected argument '%s' for user %s\n", argv[i], sub);
                user_usage();
                return ISM_EXIT_USAGE;
            } else {
                address = argv[i];
            }
        }
        if (!address) {
            fprintf(stderr, "ismailctl: user %s needs an address, e.g. alice@example.com\n", sub);
            return ISM_EXIT_USAGE;
        }
    } else {
        fprintf(stderr, "ismailctl: unknown user command '%s'\n", sub);
        user_usage();
        return ISM_EXIT_USAGE;
    }

    ism_err err = {0};
    char canon[ISM_MAIL_MAX_ADDRESS + 1];
    /* Check the address before asking for a password. */
    if (address && ism_mail_address_normalize(address, canon, sizeof canon, &err))
        return ism_ctl_fail(&err);
    char *password = NULL;
    ism_mail *m = NULL;
    int rc = open_mail(ctx, &m);
    if (rc != ISM_EXIT_OK)
        return rc;
    /* Say what is wrong before the administrator types a password for
     * nothing; ism_mail_user_add and _passwd check all this again. */
    const char *domain = address ? strrchr(canon, '@') + 1 : NULL;
    if (is_add && !ism_mail_is_local_domain(m, domain)) {
        fprintf(stderr, "ismailctl: address %s: %s is not a local domain; add it first with "
                        "'ismailctl localdomain add %s'\n", canon, domain, domain);
        ism_mail_close(m);
        return ISM_EXIT_INVALID;
    }
    if (address && is_add == ism_mail_user_exists(m, canon)) {
        if (is_add)
            fprintf(stderr, "ismailctl: account %s already exists; 'ismailctl user passwd %s' changes its password\n",
                    canon, canon);
        else
            fprintf(stderr, "ismailctl: no account %s; 'ismailctl user list' shows the accounts\n", canon);
        ism_mail_close(m);
        return ISM_EXIT_INVALID;
    }
    if ((is_add || is_passwd) && (rc = read_password(password_file, canon, &password)) != ISM_EXIT_OK) {
        ism_mail_close(m);
        return rc;
    }
    if (is_add) {
        rc = ism_mail_user_add(m, canon, password, &err) ? ism_ctl_fail(&err) : ISM_EXIT_OK;
        if (rc == ISM_EXIT_OK && !ctx->json)
            printf("account %s added\n", canon);
    } else if (is_passwd) {
        rc = ism_mail_user_passwd(m, canon, password, &err) ? ism_ctl_fail(&err) : ISM_EXIT_OK;
        if (rc == ISM_EXIT_OK && !ctx->json)
            printf("password of %s changed\n", canon);
    } else if (address) {
        rc = ism_mail_user_remove(m, canon, &err) ? ism_ctl_fail(&err) : ISM_EXIT_OK;
        if (rc == ISM_EXIT_OK && !ctx->json)
            printf("account %s and its messages removed\n", canon);
    } else {
        char **v;
        size_t n;
        rc = ism_mail_user_list(m, &v, &n, &err) ? ism_ctl_fail(&err) : ISM_EXIT_OK;
        if (rc == ISM_EXIT_OK) {
            print_list(ctx, v, n, "address", "no accounts; 'ismailctl user add ADDRESS' adds one");
            ism_mail_free_list(v, n);
        }
    }
    wipe(password);
    ism_mail_close(m);
    return rc;
}

int ism_ctl_localdomain(ism_ctl *ctx, int argc, char **argv)
{
    take_json(ctx, &argc, argv);
    if (argc < 2) {
        localdomain_usage();
        return ISM_EXIT_USAGE;
    }
    const char *sub = argv[1];
    int is_list = strcmp(sub, "list") == 0, is_add = strcmp(sub, "add") == 0;
    if (!(is_list && argc == 2) && !((is_add || strcmp(sub, "remove") == 0) && argc == 3)) {
        if (!is_list && !is_add && strcmp(sub, "remove") != 0)
            fprintf(stderr, "ismailctl: unknown localdomain command '%s'\n", sub);
        else
            fprintf(stderr, "ismailctl: wrong arguments for localdomain %s\n", sub);
        localdomain_usage();
        return ISM_EXIT_USAGE;
    }
    ism_err err = {0};
    char domain[256];
    if (!is_list && ism_mail_domain_normalize(argv[2], domain, sizeof domain, &err))
        return ism_ctl_fail(&err);
    ism_mail *m = NULL;
    int rc = open_mail(ctx, &m);
    if (rc != ISM_EXIT_OK)
        return rc;
    if (is_list) {
        char **v;
        size_t n;
        rc = ism_mail_domain_list(m, &v, &n, &err) ? ism_ctl_fail(&err) : ISM_EXIT_OK;
        if (rc == ISM_EXIT_OK) {
            print_list(ctx, v, n, "domain", "no local domains; 'ismailctl localdomain add DOMAIN' adds one");
            ism_mail_free_list(v, n);
        }
    } else if (is_add) {
        rc = ism_mail_domain_add(m, domain, &err) ? ism_ctl_fail(&err) : ISM_EXIT_OK;
        if (rc == ISM_EXIT_OK && !ctx->json)
            printf("local domain %s added; mail for its accounts is now accepted\n", domain);
    } else {
        rc = ism_mail_domain_remove(m, domain, &err) ? ism_ctl_fail(&err) : ISM_EXIT_OK;
        if (rc == ISM_EXIT_OK && !ctx->json)
            printf("local domain %s removed\n", domain);
    }
    ism_mail_close(m);
    return rc;
}
