/* imap: the IMAP4rev1 server session (RFC 3501), the subset a mail client
 * needs to read and manage the INBOX, as an explicit state machine behind the
 * ism_proto_ops contract (proto.h).
 *
 * States: not authenticated (STARTTLS, LOGIN, AUTHENTICATE PLAIN with
 * SASL-IR), authenticated (LIST, LSUB, STATUS, SELECT, EXAMINE) and selected
 * (FETCH, STORE, SEARCH and their UID forms, EXPUNGE, CLOSE, UNSELECT, CHECK).
 * There is one mailbox per account, INBOX; messages live in ism_mail.
 * FETCH serves FLAGS, UID, RFC822.SIZE, INTERNALDATE, ENVELOPE, RFC822(.HEADER,
 * .TEXT) and BODY[...] sections (whole, HEADER, TEXT, HEADER.FIELDS(.NOT),
 * partial); BODYSTRUCTURE and MIME part numbers are refused with BAD.
 *
 * A command may span several lines when it carries synchronising literals
 * ({n} then n bytes): the text is collected in `cmd`, the "+" go-ahead sent
 * for each literal, and the command runs once complete. The selected
 * mailbox is a snapshot (sequence numbers are stable between commands);
 * NOOP and CHECK bring it up to date with EXPUNGE, FETCH FLAGS and EXISTS.
 *
 * Credentials are refused in plaintext when TLS is on for IMAP
 * (env->tls_required_for_auth): CAPABILITY then says LOGINDISABLED and
 * offers no AUTH= mechanism (RFC 3501 6.2.3, RFC 2595 3.2). */
#include "ism_time.h"
#include "ism_str.h"
#include "proto.h"
#include "sasl.h"

#include "ism_log.h"
#include "ism_mail.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAP_MAX_LINE 8192
/* The whole command, literals included. */
#define IMAP_MAX_COMMAND 8192
#define IMAP_MAX_AUTH_FAILURES 3
#define IMAP_MAX_TAG 64
#define IMAP_MAX_FETCH_ITEMS 32
#define IMAP_MAX_SEARCH_DEPTH 32
#define IMAP_STAR UINT32_MAX
#define IMAP_SYSTEM_FLAGS "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

typedef enum { IMAP_S_NOT_AUTH, IMAP_S_AUTH, IMAP_S_SELECTED } imap_state;

typedef struct {
    imap_state state;
    int auth_failures;
    ism_buf cmd;             /* the command being collected (literals inline as {n}CRLF<bytes>) */
    int literal;             /* the next line belongs to a literal (or continues after one) */
    size_t lit_left;         /* literal bytes still to come */
    int auth_pending;        /* AUTHENTICATE sent "+ "; the next line is the SASL response */
    char auth_tag[IMAP_MAX_TAG];
    char user[256];          /* the logged-in account */
    int read_only;           /* EXAMINE */
    ism_msg_info *msgs;      /* the selected mailbox's snapshot, in UID order */
    size_t n_msgs;
    uint32_t uidvalidity, uidnext;
    char login_tag[IMAP_MAX_TAG]; /* LOGIN/AUTHENTICATE waiting for the password check */
    struct fetch_job *fetch;  /* a FETCH being answered a piece at a time (ISM_PROTO_MORE) */
} imap;

/* ---- helpers ---- */

static int auth_allowed(const ism_proto_env *env)
{
    return !(env->tls_required_for_auth && !env->tls_active);
}

static void forget_mailbox(imap *s)
{
    free(s->msgs);
    s->msgs = NULL;
    s->n_msgs = 0;
    s->read_only = 0;
    if (s->state == IMAP_S_SELECTED)
        s->state = IMAP_S_AUTH;
}

static void forget_command(imap *s)
{
    if (s->cmd.p)
        memset(s->cmd.p, 0, s->cmd.cap); /* it may have held a password */
    s->cmd.len = 0;
    s->literal = 0;
    s->lit_left = 0;
}

static void capabilities(const imap *s, const ism_proto_env *env, ism_buf *out)
{
    ism_buf_printf(out, "IMAP4rev1 UNSELECT");
    if (s->state == IMAP_S_NOT_AUTH) {
        if (env->starttls_offered && !env->tls_active)
            ism_buf_printf(out, " STARTTLS");
        if (auth_allowed(env))
            ism_buf_printf(out, " AUTH=PLAIN SASL-IR");
        else
            ism_buf_printf(out, " LOGINDISABLED");
    }
}

static void flags_text(int flags, ism_buf *out)
{
    static const struct {
        int bit;
        const char *name;
    } names[] = {{ISM_FLAG_ANSWERED, "\\Answered"}, {ISM_FLAG_FLAGGED, "\\Flagged"}, {ISM_FLAG_DELETED, "\\Deleted"},
                 {ISM_FLAG_SEEN, "\\Seen"},         {ISM_FLAG_DRAFT, "\\Draft"}};
    int first = 1;
    ism_buf_add(out, "(", 1);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (flags & names[i].bit) {
            ism_buf_printf(out, "%s%s", first ? "" : " ", names[i].name);
            first = 0;
        }
    ism_buf_add(out, ")", 1);
}

/* RFC 3501 date-time: "17-Jul-1996 02:44:25 +0000" (quoted), in UTC. */
static void internal_date(int64_t ms, ism_buf *out)
{
    ism_utc t;
    ism_utc_from_ms(ms, &t);
    ism_buf_printf(out, "\"%2d-%s-%04d %02d:%02d:%02d +0000\"", t.day, ism_month_abbr[t.month - 1], t.year, t.hour,
                   t.min, t.sec);
}

/* ---- the command parser: a cursor over the collected command ---- */

typedef struct {
    const char *p;
    size_t len, pos;
} cur;

static int peek(const cur *c)
{
    return c->pos < c->len ? (unsigned char)c->p[c->pos] : -1;
}

static int at_end(const cur *c)
{
    return c->pos >= c->len;
}

static int eat(cur *c, char ch)
{
    if (peek(c) != (unsigned char)ch)
        return 0;
    c->pos++;
    return 1;
}

/* ATOM-CHAR of RFC 3501 (8-bit bytes are let through for UTF-8 user names). */
static int atom_char(int c)
{
    return c > 0x20 && c != 0x7f && !strchr("(){%*\"\\]", c);
}

static int astring_char(int c)
{
    return atom_char(c) || c == ']';
}

/* A run of ATOM-CHARs (and "]" when astring). */
static int get_atom(cur *c, const char **s, size_t *n, int astring)
{
    size_t start = c->pos;
    while (!at_end(c) && (astring ? astring_char(peek(c)) : atom_char(peek(c))))
        c->pos++;
    *s = c->p + start;
    *n = c->pos - start;
    return *n ? 0 : -1;
}

/* An astring (atom, quoted string or literal) into out, NUL-terminated;
 * with wildcards "%" and "*" are allowed in atoms (LIST patterns). NUL bytes
 * are refused. Returns -1 when malformed or longer than outsz - 1. */
static int get_string(cur *c, char *out, size_t outsz, int wildcards)
{
    size_t o = 0;
    if (eat(c, '"')) {
        for (;;) {
            int ch = peek(c);
            if (ch < 0 || ch == 0)
                return -1;
            c->pos++;
            if (ch == '"')
                break;
            if (ch == '\\') {
                ch = peek(c);
                if (ch != '"' && ch != '\\')
                    return -1;
                c->pos++;
            }
            if (o + 1 >= outsz)
                return -1;
            out[o++] = (char)ch;
        }
    } else if (eat(c, '{')) {
        size_t n = 0;
        if (!isdigit(peek(c)))
            return -1;
        while (isdigit(peek(c))) {
            n = n * 10 + (size_t)(peek(c) - '0');
            if (n > IMAP_MAX_COMMAND)
                return -1;
            c->pos++;
        }
        if (!eat(c, '}') || !eat(c, '\r') || !eat(c, '\n') || c->len - c->pos < n || n >= outsz)
            return -1;
        if (memchr(c->p + c->pos, 0, n))
            return -1;
        memcpy(out, c->p + c->pos, n);
        c->pos += n;
        o = n;
    } else {
        while (!at_end(c) && (astring_char(peek(c)) || (wildcards && (peek(c) == '%' || peek(c) == '*')))) {
            if (o + 1 >= outsz)
                return -1;
            out[o++] = c->p[c->pos++];
        }
        if (o == 0)
            return -1;
    }
    out[o] = '\0';
    return 0;
}

/* The tag at the start of a command, or "*" when there is none. */
static void command_tag(const char *p, size_t len, char *tag)
{
    size_t n = 0;
    while (n < len && astring_char((unsigned char)p[n]) && p[n] != '+')
        n++;
    if (n == 0 || n >= IMAP_MAX_TAG || n >= len || p[n] != ' ') {
        strcpy(tag, "*");
        return;
    }
    memcpy(tag, p, n);
    tag[n] = '\0';
}

/* ---- sequence sets ---- */

typedef struct {
    uint32_t a, b; /* IMAP_STAR for "*" */
} seq_range;

typedef struct {
    seq_range *r;
    size_t n;
} seq_set;

static int get_number(cur *c, uint32_t *v)
{
    uint64_t x = 0;
    if (eat(c, '*')) {
        *v = IMAP_STAR;
        return 0;
    }
    if (!isdigit(peek(c)) || peek(c) == '0')
        return -1;
    while (isdigit(peek(c))) {
        x = x * 10 + (uint64_t)(peek(c) - '0');
        if (x >= IMAP_STAR)
            return -1;
        c->pos++;
    }
    *v = (uint32_t)x;
    return 0;
}

/* sequence-set (RFC 3501 9): "1", "2:4", "7:*", "1,3,5:6". */
static int get_set(cur *c, seq_set *set)
{
    set->r = NULL;
    set->n = 0;
    size_t cap = 0;
    do {
        seq_range r;
        if (get_number(c, &r.a))
            goto bad;
        r.b = r.a;
        if (eat(c, ':') && get_number(c, &r.b))
            goto bad;
        if (set->n == cap) {
            cap = cap ? cap * 2 : 4;
            seq_range *nr = realloc(set->r, cap * sizeof *nr);
            if (!nr)
                goto bad;
            set->r = nr;
        }
        set->r[set->n++] = r;
    } while (eat(c, ','));
    return 0;
bad:
    free(set->r);
    set->r = NULL;
    set->n = 0;
    return -1;
}

static int set_has(const seq_set *set, uint32_t v, uint32_t star)
{
    for (size_t i = 0; i < set->n; i++) {
        uint32_t a = set->r[i].a == IMAP_STAR ? star : set->r[i].a;
        uint32_t b = set->r[i].b == IMAP_STAR ? star : set->r[i].b;
        uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
        if (v >= lo && v <= hi)
            return 1;
    }
    return 0;
}

/* Sequence numbers must name messages that exist (RFC 3501 9, seq-number). */
static int seq_set_valid(const imap *s, const seq_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        uint32_t a = set->r[i].a, b = set->r[i].b;
        if ((a == IMAP_STAR || b == IMAP_STAR) && s->n_msgs == 0)
            return 0;
        if ((a != IMAP_STAR && a > s->n_msgs) || (b != IMAP_STAR && b > s->n_msgs))
            return 0;
    }
    return 1;
}

/* Whether message idx is in set, read as UIDs or as sequence numbers. */
static int msg_in_set(const imap *s, const seq_set *set, size_t idx, int uid)
{
    if (uid)
        return set_has(set, s->msgs[idx].uid, s->n_msgs ? s->msgs[s->n_msgs - 1].uid : 0);
    return set_has(set, (uint32_t)idx + 1, (uint32_t)s->n_msgs);
}

/* Parses the set of a FETCH/STORE/COPY; writes BAD and returns -1 when it is
 * malformed or names messages that do not exist. */
static int command_set(imap *s, cur *c, const char *tag, int uid, seq_set *set, ism_buf *out)
{
    if (get_set(c, set)) {
        ism_buf_printf(out, "%s BAD Malformed message set: expected e.g. 1, 2:4, 1:* or 1,3,5\r\n", tag);
        return -1;
    }
    if (!uid && !seq_set_valid(s, set)) {
        ism_buf_printf(out, "%s BAD No such message: the mailbox has %lu messages\r\n", tag, (unsigned long)s->n_msgs);
        free(set->r);
        return -1;
    }
    return 0;
}

/* ---- mailbox ---- */

static int is_inbox(const char *name)
{
    return ism_str_ieq(name, "INBOX");
}

/* Reads the INBOX into the snapshot. */
static int load_mailbox(imap *s, const ism_proto_env *env, ism_err *err)
{
    forget_mailbox(s);
    if (!env->mail)
        return ism_err_set(err, ISM_E_IO, "the mail store is not available");
    if (ism_mail_uidvalidity(env->mail, s->user, &s->uidvalidity, &s->uidnext, err))
        return -1;
    return ism_mail_list(env->mail, s->user, &s->msgs, &s->n_msgs, err);
}

/* Brings the snapshot up to date and tells the client what changed:
 * EXPUNGE for messages gone, FETCH FLAGS for flags changed elsewhere,
 * EXISTS when messages arrived (RFC 3501 7.4.1, 7.3.1). */
static void sync_mailbox(imap *s, const ism_proto_env *env, ism_buf *out)
{
    ism_msg_info *fresh;
    size_t nf;
    ism_err err;
    if (s->state != IMAP_S_SELECTED || !env->mail)
        return;
    if (ism_mail_list(env->mail, s->user, &fresh, &nf, &err)) {
        ism_log(ISM_LOG_WARN, "imap: cannot read the INBOX of %s: %s", s->user, err.msg);
        return;
    }
    size_t j = 0, kept = 0, removed = 0;
    uint32_t last_uid = s->n_msgs ? s->msgs[s->n_msgs - 1].uid : 0;
    for (size_t i = 0; i < s->n_msgs; i++) {
        while (j < nf && fresh[j].uid < s->msgs[i].uid)
            j++;
        if (j < nf && fresh[j].uid == s->msgs[i].uid) {
            int changed = fresh[j].flags != s->msgs[i].flags;
            s->msgs[kept] = fresh[j];
            if (changed) {
                ism_buf_printf(out, "* %lu FETCH (FLAGS ", (unsigned long)kept + 1);
                flags_text(s->msgs[kept].flags, out);
                ism_buf_printf(out, ")\r\n");
            }
            kept++;
        } else {
            ism_buf_printf(out, "* %lu EXPUNGE\r\n", (unsigned long)(i + 1 - removed));
            removed++;
        }
    }
    size_t added = 0;
    for (size_t k = 0; k < nf; k++)
        if (fresh[k].uid > last_uid)
            added++;
    if (added) {
        ism_msg_info *m = realloc(s->msgs, (kept + added) * sizeof *m);
        if (!m) {
            /* Keep the snapshot as it is; the next NOOP tries again. */
            s->n_msgs = kept;
            out->oom = 1; /* the connection layer closes this session */
            free(fresh);
            return;
        }
        s->msgs = m;
        for (size_t k = 0; k < nf; k++)
            if (fresh[k].uid > last_uid) {
                s->msgs[kept++] = fresh[k];
                if (fresh[k].uid >= s->uidnext)
                    s->uidnext = fresh[k].uid + 1;
            }
    }
    s->n_msgs = kept;
    if (added)
        ism_buf_printf(out, "* %lu EXISTS\r\n", (unsigned long)s->n_msgs);
    free(fresh);
}

/* ---- login ---- */

/* Asks the connection layer to check the password (ISM_PROTO_AUTH);
 * imap_auth_done answers. */
static ism_proto_action login(imap *s, const ism_proto_env *env, const char *tag, const char *user, const char *pass,
                              ism_buf *out)
{
    if (!env->mail) {
        ism_buf_printf(out, "%s NO [UNAVAILABLE] The mail store is not available; try again later\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    snprintf(s->login_tag, sizeof s->login_tag, "%s", tag);
    snprintf(s->user, sizeof s->user, "%s", user);
    snprintf(env->req->user, sizeof env->req->user, "%s", user);
    snprintf(env->req->pass, sizeof env->req->pass, "%s", pass);
    return ISM_PROTO_AUTH;
}

static ism_proto_action imap_auth_done(void *st, const ism_proto_env *env, ism_auth_result r, ism_buf *out)
{
    imap *s = st;
    const char *tag = s->login_tag;
    if (r == ISM_AUTH_UNAVAILABLE) {
        memset(s->user, 0, sizeof s->user);
        ism_buf_printf(out, "%s NO [UNAVAILABLE] The mail store is not available; try again later\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    if (r == ISM_AUTH_THROTTLED) {
        memset(s->user, 0, sizeof s->user);
        ism_buf_printf(out, "%s NO [UNAVAILABLE] Too many failed logins; try again in %d minutes\r\n", tag,
                       env->req->retry_minutes);
        return ISM_PROTO_CONTINUE;
    }
    if (r != ISM_AUTH_OK) {
        ism_log(ISM_LOG_INFO, "imap: failed login for %s from %s", s->user, env->peer_addr ? env->peer_addr : "?");
        memset(s->user, 0, sizeof s->user);
        if (++s->auth_failures >= IMAP_MAX_AUTH_FAILURES) {
            ism_buf_printf(out, "* BYE Too many failed logins\r\n%s NO [AUTHENTICATIONFAILED] Wrong user name or password\r\n", tag);
            return ISM_PROTO_CLOSE;
        }
        ism_buf_printf(out, "%s NO [AUTHENTICATIONFAILED] Wrong user name or password\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    char typed[sizeof s->user];
    snprintf(typed, sizeof typed, "%s", s->user);
    if (ism_mail_address_normalize(typed, s->user, sizeof s->user, NULL))
        snprintf(s->user, sizeof s->user, "%s", typed);
    s->state = IMAP_S_AUTH;
    ism_buf_printf(out, "%s OK [CAPABILITY ", tag);
    capabilities(s, env, out);
    ism_buf_printf(out, "] Logged in as %s\r\n", s->user);
    return ISM_PROTO_CONTINUE;
}

static void refuse_plaintext(const ism_proto_env *env, const char *tag, ism_buf *out)
{
    ism_buf_printf(out, "%s NO [PRIVACYREQUIRED] Plaintext authentication is disabled on this server: %s\r\n", tag,
                   env->starttls_offered ? "use STARTTLS first" : "connect to the IMAPS port (TLS)");
}

static ism_proto_action auth_response(imap *s, const ism_proto_env *env, const char *tag, const char *b64, size_t len,
                                      ism_buf *out)
{
    char user[ISM_MAIL_MAX_ADDRESS + 1], pass[ISM_MAIL_MAX_PASSWORD + 1];
    s->auth_pending = 0;
    if (len == 1 && b64[0] == '*') {
        ism_buf_printf(out, "%s BAD Authentication canceled\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    if (len == 1 && b64[0] == '=')
        len = 0; /* SASL-IR: an empty initial response */
    if (ism_sasl_plain(b64, len, user, sizeof user, pass, sizeof pass)) {
        ism_buf_printf(out, "%s BAD Malformed AUTHENTICATE PLAIN response: expected base64 of \"\\0user\\0password\"\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    ism_proto_action a = login(s, env, tag, user, pass, out);
    memset(pass, 0, sizeof pass);
    return a;
}

static ism_proto_action cmd_login(imap *s, const ism_proto_env *env, const char *tag, cur *c, ism_buf *out)
{
    char user[ISM_MAIL_MAX_ADDRESS + 1], pass[ISM_MAIL_MAX_PASSWORD + 1];
    if (!auth_allowed(env)) {
        refuse_plaintext(env, tag, out);
        return ISM_PROTO_CONTINUE;
    }
    if (!eat(c, ' ') || get_string(c, user, sizeof user, 0) || !eat(c, ' ') || get_string(c, pass, sizeof pass, 0) ||
        !at_end(c)) {
        memset(pass, 0, sizeof pass);
        ism_buf_printf(out, "%s BAD LOGIN needs a user name and a password (atoms, quoted strings or literals)\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    ism_proto_action a = login(s, env, tag, user, pass, out);
    memset(pass, 0, sizeof pass);
    return a;
}

static ism_proto_action cmd_authenticate(imap *s, const ism_proto_env *env, const char *tag, cur *c, ism_buf *out)
{
    const char *mech, *ir = NULL;
    size_t mlen, irlen = 0;
    if (!eat(c, ' ') || get_atom(c, &mech, &mlen, 0)) {
        ism_buf_printf(out, "%s BAD AUTHENTICATE needs a mechanism name\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    if (eat(c, ' ')) {
        ir = c->p + c->pos;
        irlen = c->len - c->pos;
    } else if (!at_end(c)) {
        ism_buf_printf(out, "%s BAD Malformed AUTHENTICATE command\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    if (!auth_allowed(env)) {
        refuse_plaintext(env, tag, out);
        return ISM_PROTO_CONTINUE;
    }
    if (!ism_str_ieqn(mech, mlen, "PLAIN")) {
        ism_buf_printf(out, "%s NO Unsupported authentication mechanism; this server offers PLAIN\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    if (ir)
        return auth_response(s, env, tag, ir, irlen, out);
    snprintf(s->auth_tag, sizeof s->auth_tag, "%s", tag);
    s->auth_pending = 1;
    ism_buf_printf(out, "+ \r\n");
    return ISM_PROTO_CONTINUE;
}

/* ---- authenticated state ---- */

/* LIST wildcard match: "*" matches anything, "%" anything but the
 * hierarchy delimiter "/"; INBOX is case-insensitive (RFC 3501 5.1).
 * One pass over the pattern keeping, for each length of the name, whether
 * the pattern so far matches that much of it: time is pattern x name
 * (both bounded), whatever the pattern, where trying each way a "*" could
 * match took exponential time ("***...***q" kept a worker busy for hours). */
#define IMAP_MAX_MAILBOX_NAME 255
static int wild_match(const char *pat, const char *name)
{
    size_t n = strlen(name);
    unsigned char row[IMAP_MAX_MAILBOX_NAME + 1], next[IMAP_MAX_MAILBOX_NAME + 1];
    if (n > IMAP_MAX_MAILBOX_NAME || strlen(pat) > IMAP_MAX_MAILBOX_NAME)
        return 0;
    memset(row, 0, n + 1);
    row[0] = 1; /* the empty pattern matches the empty name */
    for (; *pat; pat++) {
        if (*pat == '*' || *pat == '%') {
            next[0] = row[0];
            for (size_t j = 1; j <= n; j++)
                next[j] = row[j] || (next[j - 1] && (*pat == '*' || name[j - 1] != '/'));
        } else {
            next[0] = 0;
            for (size_t j = 1; j <= n; j++)
                next[j] = row[j - 1] && toupper((unsigned char)*pat) == toupper((unsigned char)name[j - 1]);
        }
        memcpy(row, next, n + 1);
    }
    return row[n];
}

static ism_proto_action cmd_list(imap *s, const char *tag, const char *verb, cur *c, ism_buf *out)
{
    char ref[256], pat[256], full[512];
    (void)s;
    if (!eat(c, ' ') || get_string(c, ref, sizeof ref, 1) || !eat(c, ' ') || get_string(c, pat, sizeof pat, 1) ||
        !at_end(c)) {
        ism_buf_printf(out, "%s BAD %s needs a reference and a mailbox pattern, e.g. %s \"\" \"*\"\r\n", tag, verb, verb);
        return ISM_PROTO_CONTINUE;
    }
    if (!pat[0] && !strcmp(verb, "LIST")) {
        /* RFC 3501 6.3.8: the hierarchy delimiter and root name. */
        ism_buf_printf(out, "* LIST (\\Noselect) \"/\" \"\"\r\n");
    } else {
        snprintf(full, sizeof full, "%s%s", ref, pat);
        if (wild_match(full, "INBOX"))
            ism_buf_printf(out, "* %s (%s) \"/\" INBOX\r\n", verb, strcmp(verb, "LIST") ? "" : "\\HasNoChildren");
    }
    ism_buf_printf(out, "%s OK %s completed\r\n", tag, verb);
    return ISM_PROTO_CONTINUE;
}

static size_t first_unseen(const imap *s)
{
    for (size_t i = 0; i < s->n_msgs; i++)
        if (!(s->msgs[i].flags & ISM_FLAG_SEEN))
            return i + 1;
    return 0;
}

static ism_proto_action cmd_select(imap *s, const ism_proto_env *env, const char *tag, int examine, cur *c, ism_buf *out)
{
    char name[256];
    ism_err err;
    const char *verb = examine ? "EXAMINE" : "SELECT";
    if (!eat(c, ' ') || get_string(c, name, sizeof name, 0) || !at_end(c)) {
        ism_buf_printf(out, "%s BAD %s needs a mailbox name, e.g. %s INBOX\r\n", tag, verb, verb);
        return ISM_PROTO_CONTINUE;
    }
    forget_mailbox(s); /* RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected */
    if (!is_inbox(name)) {
        ism_buf_printf(out, "%s NO [NONEXISTENT] No such mailbox; this server has only INBOX\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    if (load_mailbox(s, env, &err)) {
        ism_log(ISM_LOG_WARN, "imap: cannot open the INBOX of %s: %s", s->user, err.msg);
        ism_buf_printf(out, "%s NO [UNAVAILABLE] The INBOX cannot be opened right now; try again later\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    s->state = IMAP_S_SELECTED;
    s->read_only = examine;
    size_t unseen = first_unseen(s);
    ism_buf_printf(out, "* FLAGS (" IMAP_SYSTEM_FLAGS ")\r\n* %lu EXISTS\r\n* 0 RECENT\r\n", (unsigned long)s->n_msgs);
    if (unseen)
        ism_buf_printf(out, "* OK [UNSEEN %lu] First unseen message\r\n", (unsigned long)unseen);
    ism_buf_printf(out, "* OK [UIDVALIDITY %lu] UIDs valid\r\n* OK [UIDNEXT %lu] Predicted next UID\r\n",
                   (unsigned long)s->uidvalidity, (unsigned long)s->uidnext);
    ism_buf_printf(out, "* OK [PERMANENTFLAGS (%s)] %s\r\n", examine ? "" : IMAP_SYSTEM_FLAGS,
                   examine ? "No permanent flags permitted" : "Flags permitted");
    ism_buf_printf(out, "%s OK [%s] %s completed\r\n", tag, examine ? "READ-ONLY" : "READ-WRITE", verb);
    return ISM_PROTO_CONTINUE;
}

static ism_proto_action cmd_status(imap *s, const ism_proto_env *env, const char *tag, cur *c, ism_buf *out)
{
    char name[256];
    if (!eat(c, ' ') || get_string(c, name, sizeof name, 0) || !eat(c, ' ') || !eat(c, '(')) {
        ism_buf_printf(out, "%s BAD STATUS needs a mailbox and a list of items, e.g. STATUS INBOX (MESSAGES UNSEEN)\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    size_t items_at = c->pos;
    for (;;) {
        const char *it;
        size_t n;
        if (get_atom(c, &it, &n, 0) ||
            !(ism_str_ieqn(it, n, "MESSAGES") || ism_str_ieqn(it, n, "RECENT") || ism_str_ieqn(it, n, "UIDNEXT") || ism_str_ieqn(it, n, "UIDVALIDITY") ||
              ism_str_ieqn(it, n, "UNSEEN"))) {
            ism_buf_printf(out, "%s BAD STATUS items are MESSAGES, RECENT, UIDNEXT, UIDVALIDITY and UNSEEN\r\n", tag);
            return ISM_PROTO_CONTINUE;
        }
        if (eat(c, ')'))
            break;
        if (!eat(c, ' ')) {
            ism_buf_printf(out, "%s BAD Malformed STATUS item list\r\n", tag);
            return ISM_PROTO_CONTINUE;
        }
    }
    if (!at_end(c)) {
        ism_buf_printf(out, "%s BAD Malformed STATUS command\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    if (!is_inbox(name)) {
        ism_buf_printf(out, "%s NO [NONEXISTENT] No such mailbox; this server has only INBOX\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    ism_msg_info *msgs = NULL;
    size_t n = 0, unseen = 0;
    uint32_t uidvalidity, uidnext;
    ism_err err;
    if (!env->mail || ism_mail_uidvalidity(env->mail, s->user, &uidvalidity, &uidnext, &err) ||
        ism_mail_list(env->mail, s->user, &msgs, &n, &err)) {
        ism_buf_printf(out, "%s NO [UNAVAILABLE] The INBOX cannot be read right now; try again later\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    for (size_t i = 0; i < n; i++)
        if (!(msgs[i].flags & ISM_FLAG_SEEN))
            unseen++;
    free(msgs);
    ism_buf_printf(out, "* STATUS INBOX (");
    c->pos = items_at;
    for (int first = 1;; first = 0) {
        const char *it;
        size_t len;
        get_atom(c, &it, &len, 0);
        static const char *const names[] = {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN"};
        const unsigned long values[] = {(unsigned long)n, 0UL, (unsigned long)uidnext, (unsigned long)uidvalidity,
                                        (unsigned long)unseen};
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (ism_str_ieqn(it, len, names[k]))
                ism_buf_printf(out, "%s%s %lu", first ? "" : " ", names[k], values[k]);
        if (eat(c, ')'))
            break;
        eat(c, ' ');
    }
    ism_buf_printf(out, ")\r\n%s OK STATUS completed\r\n", tag);
    return ISM_PROTO_CONTINUE;
}

/* ---- FETCH ---- */

/* Kinds from F_ENVELOPE on need the message's bytes. */
typedef enum { F_FLAGS, F_UID, F_SIZE, F_INTERNALDATE, F_ENVELOPE, F_BODY, F_RFC822, F_RFC822_HEADER, F_RFC822_TEXT } fetch_kind;
typedef enum { SEC_ALL, SEC_HEADER, SEC_TEXT, SEC_FIELDS, SEC_FIELDS_NOT } fetch_section;

typedef struct {
    fetch_kind kind;
    int peek;
    fetch_section section;
    size_t fields_at, n_fields; /* HEADER.FIELDS names: NUL-separated in the request's pool */
    int partial;
    uint32_t origin, count;
} fetch_att;

typedef struct {
    fetch_att att[IMAP_MAX_FETCH_ITEMS];
    size_t n;
    char pool[1024];
    size_t pool_len;
} fetch_req;

static int add_att(fetch_req *r, fetch_kind kind)
{
    if (r->n == IMAP_MAX_FETCH_ITEMS)
        return -1;
    memset(&r->att[r->n], 0, sizeof r->att[r->n]);
    r->att[r->n++].kind = kind;
    return 0;
}

/* header-list: "(" astring *(SP astring) ")" into the pool. */
static int get_fields(cur *c, fetch_req *r, fetch_att *a)
{
    if (!eat(c, '('))
        return -1;
    a->fields_at = r->pool_len;
    a->n_fields = 0;
    do {
        char name[128];
        if (get_string(c, name, sizeof name, 0))
            return -1;
        size_t n = strlen(name);
        if (r->pool_len + n + 1 > sizeof r->pool)
            return -1;
        memcpy(r->pool + r->pool_len, name, n + 1);
        r->pool_len += n + 1;
        a->n_fields++;
    } while (eat(c, ' '));
    return eat(c, ')') ? 0 : -1;
}

/* One fetch-att (RFC 3501 9). *why names what is not supported. */
static int get_att(cur *c, fetch_req *r, const char **why)
{
    char name[32];
    size_t n = 0;
    while (isalnum(peek(c)) || peek(c) == '.') {
        if (n + 1 >= sizeof name)
            return -1;
        name[n++] = (char)toupper(c->p[c->pos++]);
    }
    name[n] = '\0';
    static const struct {
        const char *name;
        fetch_kind kind;
    } simple[] = {{"FLAGS", F_FLAGS},   {"UID", F_UID}, {"RFC822.SIZE", F_SIZE}, {"INTERNALDATE", F_INTERNALDATE},
                  {"ENVELOPE", F_ENVELOPE},
                  {"RFC822", F_RFC822}, {"RFC822.HEADER", F_RFC822_HEADER}, {"RFC822.TEXT", F_RFC822_TEXT}};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (!strcmp(name, simple[i].name))
            return add_att(r, simple[i].kind);
    if (strcmp(name, "BODY") && strcmp(name, "BODY.PEEK")) {
        if (!strcmp(name, "BODYSTRUCTURE"))
            *why = "BODYSTRUCTURE is not supported; fetch BODY.PEEK[] and parse the MIME parts";
        return -1;
    }
    if (peek(c) != '[') {
        *why = "BODY without a section (the body structure) is not supported; fetch BODY.PEEK[] instead";
        return -1;
    }
    c->pos++;
    if (add_att(r, F_BODY))
        return -1;
    fetch_att *a = &r->att[r->n - 1];
    a->peek = name[4] == '.';
    char sec[32];
    size_t sn = 0;
    while (isalnum(peek(c)) || peek(c) == '.') {
        if (sn + 1 >= sizeof sec)
            return -1;
        sec[sn++] = (char)toupper(c->p[c->pos++]);
    }
    sec[sn] = '\0';
    if (!sn)
        a->section = SEC_ALL;
    else if (!strcmp(sec, "HEADER"))
        a->section = SEC_HEADER;
    else if (!strcmp(sec, "TEXT"))
        a->section = SEC_TEXT;
    else if (!strcmp(sec, "HEADER.FIELDS") || !strcmp(sec, "HEADER.FIELDS.NOT")) {
        a->section = sn == 13 ? SEC_FIELDS : SEC_FIELDS_NOT;
        if (!eat(c, ' ') || get_fields(c, r, a))
            return -1;
    } else {
        if (isdigit((unsigned char)sec[0]))
            *why = "body part numbers are not supported; fetch BODY.PEEK[] and parse the MIME parts";
        return -1;
    }
    if (!eat(c, ']'))
        return -1;
    if (eat(c, '<')) {
        uint64_t v = 0;
        if (!isdigit(peek(c)))
            return -1;
        while (isdigit(peek(c)) && v < IMAP_STAR)
            v = v * 10 + (uint64_t)(c->p[c->pos++] - '0');
        if (v >= IMAP_STAR || !eat(c, '.'))
            return -1;
        a->origin = (uint32_t)v;
        if (get_number(c, &a->count) || a->count == IMAP_STAR || !eat(c, '>'))
            return -1;
        a->partial = 1;
    }
    return 0;
}

/* fetch-att / "(" fetch-att *(SP fetch-att) ")" / ALL / FAST / FULL. */
static int get_fetch_items(cur *c, fetch_req *r, const char **why)
{
    if (eat(c, '(')) {
        do {
            if (get_att(c, r, why))
                return -1;
        } while (eat(c, ' '));
        return eat(c, ')') ? 0 : -1;
    }
    size_t save = c->pos;
    const char *m;
    size_t n;
    if (!get_atom(c, &m, &n, 0) && (ism_str_ieqn(m, n, "FAST") || ism_str_ieqn(m, n, "ALL") || ism_str_ieqn(m, n, "FULL"))) {
        if (ism_str_ieqn(m, n, "FULL")) {
            *why = "the FULL macro includes the body structure, which is not supported; use ALL or list the items";
            return -1;
        }
        add_att(r, F_FLAGS);
        add_att(r, F_INTERNALDATE);
        add_att(r, F_SIZE);
        if (ism_str_ieqn(m, n, "ALL"))
            add_att(r, F_ENVELOPE);
        return 0;
    }
    c->pos = save;
    return get_att(c, r, why);
}

/* Where the header ends (after its empty line); the whole message when
 * there is no body. */
static size_t header_length(const char *d, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (d[i] != '\n')
            continue;
        if (i + 1 < len && d[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && d[i + 1] == '\r' && d[i + 2] == '\n')
            return i + 3;
    }
    if (len >= 2 && d[0] == '\r' && d[1] == '\n')
        return 2;
    return len;
}

static int field_listed(const fetch_req *r, const fetch_att *a, const char *name, size_t n)
{
    const char *f = r->pool + a->fields_at;
    for (size_t i = 0; i < a->n_fields; i++, f += strlen(f) + 1)
        if (ism_str_ieqn(name, n, f))
            return 1;
    return 0;
}

/* HEADER.FIELDS (.NOT): the chosen fields with their continuation lines,
 * then the empty line (RFC 3501 6.4.5). */
static void header_fields(const fetch_req *r, const fetch_att *a, const char *d, size_t hlen, ism_buf *b)
{
    size_t i = 0;
    int keep = 0;
    while (i < hlen) {
        const char *nl = memchr(d + i, '\n', hlen - i);
        size_t next = nl ? (size_t)(nl - d) + 1 : hlen, end = next;
        while (end > i && (d[end - 1] == '\n' || d[end - 1] == '\r'))
            end--;
        if (end == i)
            break; /* the empty line */
        if (d[i] != ' ' && d[i] != '\t') {
            const char *colon = memchr(d + i, ':', end - i);
            size_t n = colon ? (size_t)(colon - (d + i)) : 0;
            while (n && (d[i + n - 1] == ' ' || d[i + n - 1] == '\t'))
                n--;
            keep = colon && field_listed(r, a, d + i, n) == (a->section == SEC_FIELDS);
        }
        if (keep) {
            ism_buf_add(b, d + i, end - i);
            ism_buf_add(b, "\r\n", 2);
        }
        i = next;
    }
    ism_buf_add(b, "\r\n", 2);
}

static void literal(ism_buf *out, const char *p, size_t len)
{
    ism_buf_printf(out, "{%lu}\r\n", (unsigned long)len);
    ism_buf_add(out, p, len);
}

static void body_item(const fetch_req *r, const fetch_att *a, const char *d, size_t len, ism_buf *out)
{
    static const char *const sec_name[] = {"", "HEADER", "TEXT", "HEADER.FIELDS", "HEADER.FIELDS.NOT"};
    size_t hlen = header_length(d, len);
    ism_buf tmp = {0};
    const char *p = d;
    size_t n = len;
    switch (a->kind) {
    case F_RFC822:
        ism_buf_printf(out, "RFC822 ");
        break;
    case F_RFC822_HEADER:
        ism_buf_printf(out, "RFC822.HEADER ");
        n = hlen;
        break;
    case F_RFC822_TEXT:
        ism_buf_printf(out, "RFC822.TEXT ");
        p = d + hlen;
        n = len - hlen;
        break;
    default:
        ism_buf_printf(out, "BODY[%s", sec_name[a->section]);
        if (a->section == SEC_FIELDS || a->section == SEC_FIELDS_NOT) {
            const char *f = r->pool + a->fields_at;
            ism_buf_add(out, " (", 2);
            for (size_t i = 0; i < a->n_fields; i++, f += strlen(f) + 1) {
                int atom = *f != '\0';
                for (const char *q = f; *q; q++)
                    if (!astring_char((unsigned char)*q) || (unsigned char)*q >= 0x80)
                        atom = 0;
                const char *q = atom ? "" : "\"";
                ism_buf_printf(out, "%s%s%s%s", i ? " " : "", q, f, q);
            }
            ism_buf_add(out, ")", 1);
        }
        ism_buf_add(out, "]", 1);
        if (a->section == SEC_HEADER) {
            n = hlen;
        } else if (a->section == SEC_TEXT) {
            p = d + hlen;
            n = len - hlen;
        } else if (a->section != SEC_ALL) {
            header_fields(r, a, d, hlen, &tmp);
            p = tmp.p ? tmp.p : "";
            n = tmp.len;
        }
        if (a->partial) {
            ism_buf_printf(out, "<%lu> ", (unsigned long)a->origin);
            if (a->origin >= n) {
                n = 0;
            } else {
                p += a->origin;
                n -= a->origin;
                if (n > a->count)
                    n = a->count;
            }
        } else {
            ism_buf_add(out, " ", 1);
        }
    }
    literal(out, p, n);
    ism_buf_free(&tmp);
}

/* ---- ENVELOPE (RFC 3501 7.4.2) ---- */

/* nstring: NIL, a quoted string, or a literal when the text has 8-bit
 * bytes or line ends. */
static void nstring(ism_buf *out, const char *p, size_t n)
{
    if (!p) {
        ism_buf_add(out, "NIL", 3);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80 || p[i] == '\r' || p[i] == '\n' || p[i] == '\0') {
            literal(out, p, n);
            return;
        }
    ism_buf_add(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            ism_buf_add(out, "\\", 1);
        ism_buf_add(out, p + i, 1);
    }
    ism_buf_add(out, "\"", 1);
}

/* The unfolded, trimmed value of the first header field called name;
 * returns 0 when there is none. */
static int header_value(const char *d, size_t hlen, const char *name, ism_buf *val)
{
    size_t i = 0;
    int in = 0;
    val->len = 0;
    while (i < hlen) {
        const char *nl = memchr(d + i, '\n', hlen - i);
        size_t next = nl ? (size_t)(nl - d) + 1 : hlen, end = next;
        while (end > i && (d[end - 1] == '\n' || d[end - 1] == '\r'))
            end--;
        if (end == i)
            break;
        if (d[i] == ' ' || d[i] == '\t') {
            if (in)
                ism_buf_add(val, d + i, end - i);
        } else if (in) {
            break;
        } else {
            const char *colon = memchr(d + i, ':', end - i);
            size_t n = colon ? (size_t)(colon - (d + i)) : 0;
            while (n && (d[i + n - 1] == ' ' || d[i + n - 1] == '\t'))
                n--;
            if (colon && ism_str_ieqn(d + i, n, name)) {
                in = 1;
                ism_buf_add(val, colon + 1, (size_t)(d + end - colon - 1));
            }
        }
        i = next;
    }
    if (!in)
        return 0;
    size_t a = 0, b = val->len;
    while (a < b && (val->p[a] == ' ' || val->p[a] == '\t'))
        a++;
    while (b > a && (val->p[b - 1] == ' ' || val->p[b - 1] == '\t'))
        b--;
    memmove(val->p, val->p + a, b - a);
    val->len = b - a;
    return 1;
}

static void trim_buf(ism_buf *b)
{
    size_t a = 0, e = b->len;
    while (a < e && (b->p[a] == ' ' || b->p[a] == '\t'))
        a++;
    while (e > a && (b->p[e - 1] == ' ' || b->p[e - 1] == '\t'))
        e--;
    if (a)
        memmove(b->p, b->p + a, e - a);
    b->len = e - a;
}

/* One mailbox: (name adl mailbox host). */
static void env_mailbox(ism_buf *items, ism_buf *phrase, ism_buf *addr, int angle)
{
    ism_buf spec = {0};
    const ism_buf *src = angle ? addr : phrase;
    for (size_t i = 0; i < src->len; i++)
        if (src->p[i] != ' ' && src->p[i] != '\t')
            ism_buf_add(&spec, src->p + i, 1);
    if (!spec.len && !angle)
        return;
    const char *sp = spec.p ? spec.p : "";
    size_t sn = spec.len, adl = 0;
    if (sn && sp[0] == '@') { /* an obsolete source route: "@a,@b:user@host" */
        const char *colon = memchr(sp, ':', sn);
        if (colon)
            adl = (size_t)(colon - sp);
    }
    const char *local = adl ? sp + adl + 1 : sp;
    size_t ln = adl ? sn - adl - 1 : sn;
    const char *at = NULL;
    for (size_t i = 0; i < ln; i++)
        if (local[i] == '@')
            at = local + i;
    ism_buf_add(items, "(", 1);
    trim_buf(phrase);
    nstring(items, angle && phrase->len ? phrase->p : NULL, phrase->len);
    ism_buf_add(items, " ", 1);
    nstring(items, adl ? sp : NULL, adl);
    ism_buf_add(items, " ", 1);
    nstring(items, local, at ? (size_t)(at - local) : ln);
    ism_buf_add(items, " ", 1);
    nstring(items, at ? at + 1 : "", at ? ln - (size_t)(at - local) - 1 : 0);
    ism_buf_add(items, ")", 1);
    ism_buf_free(&spec);
}

/* An address-list field as a list of addresses, groups marked as RFC 3501
 * says: (NIL NIL "group" NIL) ... (NIL NIL NIL NIL). Comments are dropped,
 * RFC 2047 encoded words are left for the client to decode. */
static void env_addresses(const char *v, size_t n, ism_buf *out)
{
    ism_buf items = {0}, phrase = {0}, addr = {0};
    int angle = 0, had_angle = 0, group = 0;
    for (size_t i = 0; i <= n; i++) {
        char ch = i < n ? v[i] : ',';
        ism_buf *into = angle ? &addr : &phrase;
        if (i < n && ch == '"') {
            for (i++; i < n && v[i] != '"'; i++) {
                if (v[i] == '\\' && i + 1 < n)
                    i++;
                ism_buf_add(into, v + i, 1);
            }
            if (i >= n)
                i = n - 1; /* unterminated: the end still closes the last address */
            continue;
        }
        if (i < n && ch == '(') {
            int depth = 1;
            for (i++; i < n && depth; i++) {
                if (v[i] == '\\')
                    i++;
                else if (v[i] == '(')
                    depth++;
                else if (v[i] == ')')
                    depth--;
            }
            i--;
            ism_buf_add(into, " ", 1);
            continue;
        }
        if (angle && i < n) {
            if (ch == '>')
                angle = 0;
            else
                ism_buf_add(&addr, &ch, 1);
            continue;
        }
        angle = 0;
        if (ch == '<') {
            angle = had_angle = 1;
            addr.len = 0;
        } else if (ch == ':' && !group && !had_angle) {
            trim_buf(&phrase);
            ism_buf_add(&items, "(NIL NIL ", 9);
            nstring(&items, phrase.p ? phrase.p : "", phrase.len);
            ism_buf_add(&items, " NIL)", 5);
            phrase.len = 0;
            group = 1;
        } else if (ch == ',' || (ch == ';' && group)) {
            env_mailbox(&items, &phrase, &addr, had_angle);
            phrase.len = addr.len = 0;
            had_angle = 0;
            if (ch == ';') {
                ism_buf_add(&items, "(NIL NIL NIL NIL)", 17);
                group = 0;
            }
        } else {
            ism_buf_add(&phrase, &ch, 1);
        }
    }
    if (group)
        ism_buf_add(&items, "(NIL NIL NIL NIL)", 17);
    if (items.len) {
        ism_buf_add(out, "(", 1);
        ism_buf_add(out, items.p, items.len);
        ism_buf_add(out, ")", 1);
    } else {
        ism_buf_add(out, "NIL", 3);
    }
    ism_buf_free(&items);
    ism_buf_free(&phrase);
    ism_buf_free(&addr);
}

static void envelope(const char *d, size_t len, ism_buf *out)
{
    static const char *const fields[] = {"Date", "Subject", "From", "Sender", "Reply-To", "To",
                                         "Cc", "Bcc", "In-Reply-To", "Message-ID"};
    size_t hlen = header_length(d, len);
    ism_buf val = {0}, from = {0};
    ism_buf_add(out, "(", 1);
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        if (f)
            ism_buf_add(out, " ", 1);
        int have = header_value(d, hlen, fields[f], &val);
        const char *p = val.p ? val.p : "";
        if (f < 2 || f > 7) {
            nstring(out, have ? p : NULL, val.len);
            continue;
        }
        /* Sender and Reply-To default to From when absent or empty. */
        size_t at = out->len;
        if ((f == 3 || f == 4) && (!have || !val.len))
            ism_buf_add(out, from.p ? from.p : "NIL", from.p ? from.len : 3);
        else
            env_addresses(p, have ? val.len : 0, out);
        if (f == 2)
            ism_buf_add(&from, out->p + at, out->len - at);
    }
    ism_buf_add(out, ")", 1);
    ism_buf_free(&val);
    ism_buf_free(&from);
}

/* Whether fetching this item sets \Seen (RFC 3501 6.4.5). */
static int sets_seen(const fetch_att *a)
{
    return (a->kind == F_BODY && !a->peek) || a->kind == F_RFC822 || a->kind == F_RFC822_TEXT;
}

/* A FETCH answered a piece at a time: the parsed request and how far the
 * answer has got. */
typedef struct fetch_job {
    fetch_req r;
    seq_set set;
    int uid;
    char tag[IMAP_MAX_TAG];
    size_t next;             /* the next message index to look at */
    size_t failed;
    int want_seen, has_uid, has_flags, need_data;
} fetch_job;

static void fetch_job_free(imap *s)
{
    if (s->fetch) {
        free(s->fetch->set.r);
        free(s->fetch);
        s->fetch = NULL;
    }
}

/* One message's FETCH response. Returns -1 when it could not be read. */
static int fetch_one(imap *s, const ism_proto_env *env, fetch_job *j, size_t i, ism_buf *out)
{
    const fetch_req *r = &j->r;
    ism_msg_info *m = &s->msgs[i];
    char *data = NULL;
    size_t len = 0;
    ism_err err;
    if (j->need_data && (!env->mail || ism_mail_fetch(env->mail, s->user, m->uid, &data, &len, &err)))
        return -1;
    int seen_now = 0;
    if (j->want_seen && !s->read_only && !(m->flags & ISM_FLAG_SEEN) && env->mail &&
        !ism_mail_set_flags(env->mail, s->user, m->uid, m->flags | ISM_FLAG_SEEN, &err)) {
        m->flags |= ISM_FLAG_SEEN;
        seen_now = 1;
    }
    ism_buf_printf(out, "* %lu FETCH (", (unsigned long)i + 1);
    int first = 1;
    if (j->uid && !j->has_uid) {
        ism_buf_printf(out, "UID %lu", (unsigned long)m->uid);
        first = 0;
    }
    for (size_t k = 0; k < r->n; k++) {
        const fetch_att *a = &r->att[k];
        if (!first)
            ism_buf_add(out, " ", 1);
        first = 0;
        switch (a->kind) {
        case F_FLAGS:
            ism_buf_printf(out, "FLAGS ");
            flags_text(m->flags, out);
            break;
        case F_UID:
            ism_buf_printf(out, "UID %lu", (unsigned long)m->uid);
            break;
        case F_SIZE:
            ism_buf_printf(out, "RFC822.SIZE %lu", (unsigned long)m->size);
            break;
        case F_INTERNALDATE:
            ism_buf_printf(out, "INTERNALDATE ");
            internal_date(m->received_ms, out);
            break;
        case F_ENVELOPE:
            ism_buf_printf(out, "ENVELOPE ");
            envelope(data, len, out);
            break;
        default:
            body_item(r, a, data, len, out);
        }
    }
    if (seen_now && !j->has_flags) {
        ism_buf_printf(out, " FLAGS ");
        flags_text(m->flags, out);
    }
    ism_buf_printf(out, ")\r\n");
    free(data);
    return 0;
}

/* Answers the FETCH in progress up to about one piece of output; MORE
 * until the tagged reply is written. Only the message being written is
 * held in memory, however many the set names. */
static ism_proto_action imap_more(void *st, const ism_proto_env *env, ism_buf *out)
{
    imap *s = st;
    fetch_job *j = s->fetch;
    size_t start = out->len;
    if (!j)
        return ISM_PROTO_CONTINUE;
    for (; j->next < s->n_msgs && out->len - start < ISM_PROTO_OUT_PIECE; j->next++)
        if (msg_in_set(s, &j->set, j->next, j->uid) && fetch_one(s, env, j, j->next, out))
            j->failed++;
    if (out->oom) {
        fetch_job_free(s);
        return ISM_PROTO_CLOSE;
    }
    if (j->next < s->n_msgs)
        return ISM_PROTO_MORE;
    if (j->failed)
        ism_buf_printf(out, "%s NO %lu messages could not be read (removed by another session?); NOOP updates the mailbox\r\n",
                       j->tag, (unsigned long)j->failed);
    else
        ism_buf_printf(out, "%s OK %sFETCH completed\r\n", j->tag, j->uid ? "UID " : "");
    fetch_job_free(s);
    return ISM_PROTO_CONTINUE;
}

static ism_proto_action cmd_fetch(imap *s, const ism_proto_env *env, const char *tag, int uid, cur *c, ism_buf *out)
{
    const char *why = NULL;
    fetch_job *j = calloc(1, sizeof *j);
    if (!j) {
        ism_buf_printf(out, "%s NO [SERVERBUG] Out of memory; try again later\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    if (!eat(c, ' ')) {
        ism_buf_printf(out, "%s BAD FETCH needs a message set and items, e.g. FETCH 1:* (FLAGS UID)\r\n", tag);
        free(j);
        return ISM_PROTO_CONTINUE;
    }
    if (command_set(s, c, tag, uid, &j->set, out)) {
        free(j);
        return ISM_PROTO_CONTINUE;
    }
    if (!eat(c, ' ') || get_fetch_items(c, &j->r, &why) || !at_end(c)) {
        if (why)
            ism_buf_printf(out, "%s BAD Unsupported FETCH item: %s\r\n", tag, why);
        else
            ism_buf_printf(out, "%s BAD Malformed FETCH items: expected e.g. (FLAGS UID RFC822.SIZE BODY.PEEK[])\r\n", tag);
        free(j->set.r);
        free(j);
        return ISM_PROTO_CONTINUE;
    }
    for (size_t k = 0; k < j->r.n; k++) {
        j->want_seen |= sets_seen(&j->r.att[k]);
        j->has_uid |= j->r.att[k].kind == F_UID;
        j->has_flags |= j->r.att[k].kind == F_FLAGS;
        j->need_data |= j->r.att[k].kind >= F_ENVELOPE;
    }
    j->uid = uid;
    snprintf(j->tag, sizeof j->tag, "%s", tag);
    fetch_job_free(s);
    s->fetch = j;
    return imap_more(s, env, out);
}

/* ---- STORE ---- */

/* flag-list or flags separated by spaces; keywords are accepted and
 * dropped (they are not in PERMANENTFLAGS), \Recent cannot be stored. */
static int get_flags(cur *c, int *flags)
{
    int paren = eat(c, '(');
    *flags = 0;
    if (paren && eat(c, ')'))
        return 0;
    do {
        const char *f;
        size_t n;
        int system = eat(c, '\\');
        if (get_atom(c, &f, &n, 0))
            return -1;
        if (!system)
            continue;
        if (ism_str_ieqn(f, n, "Seen"))
            *flags |= ISM_FLAG_SEEN;
        else if (ism_str_ieqn(f, n, "Answered"))
            *flags |= ISM_FLAG_ANSWERED;
        else if (ism_str_ieqn(f, n, "Flagged"))
            *flags |= ISM_FLAG_FLAGGED;
        else if (ism_str_ieqn(f, n, "Deleted"))
            *flags |= ISM_FLAG_DELETED;
        else if (ism_str_ieqn(f, n, "Draft"))
            *flags |= ISM_FLAG_DRAFT;
        else
            return -1;
    } while (eat(c, ' '));
    return paren && !eat(c, ')') ? -1 : 0;
}

static ism_proto_action cmd_store(imap *s, const ism_proto_env *env, const char *tag, int uid, cur *c, ism_buf *out)
{
    seq_set set;
    const char *item;
    size_t n;
    int flags;
    if (!eat(c, ' ')) {
        ism_buf_printf(out, "%s BAD STORE needs a message set, an item and flags, e.g. STORE 1 +FLAGS (\\Seen)\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    if (command_set(s, c, tag, uid, &set, out))
        return ISM_PROTO_CONTINUE;
    int mode = 0, silent = 0; /* mode: 0 replace, '+' add, '-' remove */
    if (!eat(c, ' ') || get_atom(c, &item, &n, 0)) {
        ism_buf_printf(out, "%s BAD STORE needs an item: FLAGS, +FLAGS or -FLAGS (optionally .SILENT)\r\n", tag);
        free(set.r);
        return ISM_PROTO_CONTINUE;
    }
    if (n && (item[0] == '+' || item[0] == '-')) {
        mode = item[0];
        item++;
        n--;
    }
    if (n > 7 && ism_str_ieqn(item + n - 7, 7, ".SILENT")) {
        silent = 1;
        n -= 7;
    }
    if (!ism_str_ieqn(item, n, "FLAGS")) {
        ism_buf_printf(out, "%s BAD STORE items are FLAGS, +FLAGS and -FLAGS (optionally .SILENT)\r\n", tag);
        free(set.r);
        return ISM_PROTO_CONTINUE;
    }
    if (!eat(c, ' ') || get_flags(c, &flags) || !at_end(c)) {
        ism_buf_printf(out, "%s BAD Malformed flag list: expected e.g. (\\Seen \\Deleted); system flags are "
                       IMAP_SYSTEM_FLAGS "\r\n", tag);
        free(set.r);
        return ISM_PROTO_CONTINUE;
    }
    if (s->read_only) {
        ism_buf_printf(out, "%s NO [READ-ONLY] The mailbox was opened with EXAMINE; SELECT it to change flags\r\n", tag);
        free(set.r);
        return ISM_PROTO_CONTINUE;
    }
    size_t failed = 0;
    for (size_t i = 0; i < s->n_msgs; i++) {
        if (!msg_in_set(s, &set, i, uid))
            continue;
        ism_msg_info *m = &s->msgs[i];
        int nf = mode == '+' ? m->flags | flags : mode == '-' ? m->flags & ~flags : flags;
        ism_err err;
        if (nf != m->flags) {
            if (!env->mail || ism_mail_set_flags(env->mail, s->user, m->uid, nf, &err)) {
                failed++;
                continue;
            }
            m->flags = nf;
        }
        if (!silent || uid) {
            ism_buf_printf(out, "* %lu FETCH (", (unsigned long)i + 1);
            if (!silent) {
                ism_buf_printf(out, "FLAGS ");
                flags_text(m->flags, out);
            }
            if (uid)
                ism_buf_printf(out, "%sUID %lu", silent ? "" : " ", (unsigned long)m->uid);
            ism_buf_printf(out, ")\r\n");
        }
    }
    if (failed)
        ism_buf_printf(out, "%s NO The flags of %lu messages could not be changed (removed by another session?)\r\n", tag,
                       (unsigned long)failed);
    else
        ism_buf_printf(out, "%s OK %sSTORE completed\r\n", tag, uid ? "UID " : "");
    free(set.r);
    return ISM_PROTO_CONTINUE;
}

/* ---- SEARCH ---- */

/* Parses one search key; with idx >= 0 also evaluates it for that message.
 * Returns 1 (matches), 0 (does not), -1 (syntax error or unsupported key,
 * *why says which). Parsing every key for every message keeps one code path
 * for both checking and matching. */
static int search_key(const imap *s, cur *c, long idx, int depth, const char **why)
{
    const ism_msg_info *m = idx >= 0 ? &s->msgs[idx] : NULL;
    int fl = m ? m->flags : 0;
    if (depth > IMAP_MAX_SEARCH_DEPTH)
        return -1;
    if (peek(c) == '*' || isdigit(peek(c))) {
        seq_set set;
        if (get_set(c, &set))
            return -1;
        int r = m ? msg_in_set(s, &set, (size_t)idx, 0) : 0;
        free(set.r);
        return r;
    }
    if (eat(c, '(')) {
        int all = 1;
        do {
            int r = search_key(s, c, idx, depth + 1, why);
            if (r < 0)
                return -1;
            all &= r;
        } while (eat(c, ' '));
        return eat(c, ')') ? all : -1;
    }
    const char *k;
    size_t n;
    if (get_atom(c, &k, &n, 0))
        return -1;
    static const struct {
        const char *key;
        int flag, set;
    } flag_keys[] = {{"ANSWERED", ISM_FLAG_ANSWERED, 1}, {"DELETED", ISM_FLAG_DELETED, 1}, {"DRAFT", ISM_FLAG_DRAFT, 1},
                     {"FLAGGED", ISM_FLAG_FLAGGED, 1},   {"SEEN", ISM_FLAG_SEEN, 1},       {"UNANSWERED", ISM_FLAG_ANSWERED, 0},
                     {"UNDELETED", ISM_FLAG_DELETED, 0}, {"UNDRAFT", ISM_FLAG_DRAFT, 0},   {"UNFLAGGED", ISM_FLAG_FLAGGED, 0},
                     {"UNSEEN", ISM_FLAG_SEEN, 0}};
    for (size_t i = 0; i < sizeof flag_keys / sizeof flag_keys[0]; i++)
        if (ism_str_ieqn(k, n, flag_keys[i].key))
            return m && (!!(fl & flag_keys[i].flag) == flag_keys[i].set);
    if (ism_str_ieqn(k, n, "ALL") || ism_str_ieqn(k, n, "OLD"))
        return m != NULL;
    if (ism_str_ieqn(k, n, "NEW") || ism_str_ieqn(k, n, "RECENT"))
        return 0; /* \Recent is not kept */
    if (ism_str_ieqn(k, n, "NOT")) {
        if (!eat(c, ' '))
            return -1;
        int r = search_key(s, c, idx, depth + 1, why);
        return r < 0 ? -1 : m && !r;
    }
    if (ism_str_ieqn(k, n, "OR")) {
        int a, b;
        if (!eat(c, ' ') || (a = search_key(s, c, idx, depth + 1, why)) < 0 || !eat(c, ' ') ||
            (b = search_key(s, c, idx, depth + 1, why)) < 0)
            return -1;
        return a || b;
    }
    if (ism_str_ieqn(k, n, "UID")) {
        seq_set set;
        if (!eat(c, ' ') || get_set(c, &set))
            return -1;
        int r = m ? msg_in_set(s, &set, (size_t)idx, 1) : 0;
        free(set.r);
        return r;
    }
    if (ism_str_ieqn(k, n, "LARGER") || ism_str_ieqn(k, n, "SMALLER")) {
        uint32_t v;
        if (!eat(c, ' '))
            return -1;
        if (eat(c, '0'))
            v = 0;
        else if (get_number(c, &v) || v == IMAP_STAR)
            return -1;
        if (!m)
            return 0;
        return toupper((unsigned char)k[0]) == 'L' ? m->size > v : m->size < v;
    }
    if (ism_str_ieqn(k, n, "KEYWORD") || ism_str_ieqn(k, n, "UNKEYWORD")) {
        const char *kw;
        size_t kn;
        if (!eat(c, ' ') || get_atom(c, &kw, &kn, 0))
            return -1;
        return m && toupper((unsigned char)k[0]) == 'U'; /* keywords are not kept */
    }
    *why = "this server searches by flags, sizes, sequence numbers and UIDs only";
    return -1;
}

static ism_proto_action cmd_search(imap *s, const char *tag, int uid, cur *c, ism_buf *out)
{
    const char *why = NULL;
    if (!eat(c, ' ')) {
        ism_buf_printf(out, "%s BAD SEARCH needs search keys, e.g. SEARCH UNSEEN\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    size_t save = c->pos;
    const char *k;
    size_t n;
    if (!get_atom(c, &k, &n, 0) && ism_str_ieqn(k, n, "CHARSET")) {
        char cs[64];
        if (!eat(c, ' ') || get_string(c, cs, sizeof cs, 0) || !eat(c, ' ')) {
            ism_buf_printf(out, "%s BAD Malformed SEARCH CHARSET\r\n", tag);
            return ISM_PROTO_CONTINUE;
        }
        if (!ism_str_ieq(cs, "US-ASCII") && !ism_str_ieq(cs, "UTF-8")) {
            ism_buf_printf(out, "%s NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\r\n", tag);
            return ISM_PROTO_CONTINUE;
        }
        save = c->pos;
    }
    /* Check the whole key list once, then evaluate it for each message. */
    c->pos = save;
    for (;;) {
        if (search_key(s, c, -1, 0, &why) < 0) {
            ism_buf_printf(out, "%s BAD Unsupported or malformed search key%s%s\r\n", tag, why ? ": " : "",
                           why ? why : "");
            return ISM_PROTO_CONTINUE;
        }
        if (at_end(c))
            break;
        if (!eat(c, ' ')) {
            ism_buf_printf(out, "%s BAD Malformed SEARCH keys\r\n", tag);
            return ISM_PROTO_CONTINUE;
        }
    }
    ism_buf_printf(out, "* SEARCH");
    for (size_t i = 0; i < s->n_msgs; i++) {
        int all = 1;
        c->pos = save;
        for (;;) {
            all &= search_key(s, c, (long)i, 0, &why) == 1;
            if (!eat(c, ' '))
                break;
        }
        if (all)
            ism_buf_printf(out, " %lu", uid ? (unsigned long)s->msgs[i].uid : (unsigned long)i + 1);
    }
    ism_buf_printf(out, "\r\n%s OK %sSEARCH completed\r\n", tag, uid ? "UID " : "");
    return ISM_PROTO_CONTINUE;
}

/* ---- EXPUNGE / CLOSE ---- */

/* Removes the messages flagged \Deleted; with report, sends an EXPUNGE for
 * each (numbers as they are after the previous ones, RFC 3501 7.4.1). */
static int expunge(imap *s, const ism_proto_env *env, int report, ism_buf *out)
{
    uint32_t *uids = malloc((s->n_msgs ? s->n_msgs : 1) * sizeof *uids);
    size_t n = 0;
    ism_err err;
    if (!uids)
        return -1;
    for (size_t i = 0; i < s->n_msgs; i++)
        if (s->msgs[i].flags & ISM_FLAG_DELETED)
            uids[n++] = s->msgs[i].uid;
    if (n && (!env->mail || ism_mail_remove(env->mail, s->user, uids, n, &err))) {
        if (env->mail)
            ism_log(ISM_LOG_WARN, "imap: cannot expunge the INBOX of %s: %s", s->user, err.msg);
        free(uids);
        return -1;
    }
    free(uids);
    size_t kept = 0;
    for (size_t i = 0; i < s->n_msgs; i++) {
        if (s->msgs[i].flags & ISM_FLAG_DELETED) {
            if (report)
                ism_buf_printf(out, "* %lu EXPUNGE\r\n", (unsigned long)kept + 1);
        } else {
            s->msgs[kept++] = s->msgs[i];
        }
    }
    s->n_msgs = kept;
    return 0;
}

/* ---- the command table ---- */

static ism_proto_action cmd_starttls(imap *s, const ism_proto_env *env, const char *tag, cur *c, ism_buf *out)
{
    (void)s;
    if (!at_end(c))
        ism_buf_printf(out, "%s BAD STARTTLS takes no arguments\r\n", tag);
    else if (env->tls_active)
        ism_buf_printf(out, "%s NO TLS is already active\r\n", tag);
    else if (!env->starttls_offered)
        ism_buf_printf(out, "%s NO STARTTLS is not offered on this server\r\n", tag);
    else {
        ism_buf_printf(out, "%s OK Begin TLS negotiation now\r\n", tag);
        return ISM_PROTO_STARTTLS;
    }
    return ISM_PROTO_CONTINUE;
}

static ism_proto_action execute(imap *s, const ism_proto_env *env, const char *p, size_t len, ism_buf *out)
{
    char tag[IMAP_MAX_TAG], verb[32];
    cur c = {p, len, 0};
    if (len == 0) {
        ism_buf_printf(out, "* BAD Empty command line\r\n");
        return ISM_PROTO_CONTINUE;
    }
    command_tag(p, len, tag);
    if (!strcmp(tag, "*")) {
        ism_buf_printf(out, "* BAD Malformed command: expected a tag, a space and a command\r\n");
        return ISM_PROTO_CONTINUE;
    }
    c.pos = strlen(tag) + 1;
    size_t vn = 0;
    while (isalpha(peek(&c)) && vn + 1 < sizeof verb)
        verb[vn++] = (char)toupper(c.p[c.pos++]);
    verb[vn] = '\0';
    if (!vn || (!at_end(&c) && peek(&c) != ' ')) {
        ism_buf_printf(out, "%s BAD Unknown command\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    int uid = 0;
    if (!strcmp(verb, "UID")) {
        uid = 1;
        vn = 0;
        if (eat(&c, ' '))
            while (isalpha(peek(&c)) && vn + 1 < sizeof verb)
                verb[vn++] = (char)toupper(c.p[c.pos++]);
        verb[vn] = '\0';
        if (strcmp(verb, "FETCH") && strcmp(verb, "STORE") && strcmp(verb, "SEARCH") && strcmp(verb, "COPY")) {
            ism_buf_printf(out, "%s BAD UID must be followed by FETCH, STORE, SEARCH or COPY\r\n", tag);
            return ISM_PROTO_CONTINUE;
        }
    }

    /* Any state. */
    if (!strcmp(verb, "CAPABILITY")) {
        ism_buf_printf(out, "* CAPABILITY ");
        capabilities(s, env, out);
        ism_buf_printf(out, "\r\n%s OK CAPABILITY completed\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    if (!strcmp(verb, "NOOP") || (!strcmp(verb, "CHECK") && s->state == IMAP_S_SELECTED)) {
        sync_mailbox(s, env, out);
        ism_buf_printf(out, "%s OK %s completed\r\n", tag, verb);
        return ISM_PROTO_CONTINUE;
    }
    if (!strcmp(verb, "LOGOUT")) {
        ism_buf_printf(out, "* BYE %s ISMail IMAP4rev1 server logging out\r\n%s OK LOGOUT completed\r\n",
                       env->hostname, tag);
        return ISM_PROTO_CLOSE;
    }

    /* Not authenticated. */
    static const char *const not_auth[] = {"STARTTLS", "LOGIN", "AUTHENTICATE"};
    for (size_t i = 0; i < sizeof not_auth / sizeof not_auth[0]; i++)
        if (!strcmp(verb, not_auth[i]) && s->state != IMAP_S_NOT_AUTH) {
            ism_buf_printf(out, "%s BAD Already logged in\r\n", tag);
            return ISM_PROTO_CONTINUE;
        }
    if (!strcmp(verb, "STARTTLS"))
        return cmd_starttls(s, env, tag, &c, out);
    if (!strcmp(verb, "LOGIN"))
        return cmd_login(s, env, tag, &c, out);
    if (!strcmp(verb, "AUTHENTICATE"))
        return cmd_authenticate(s, env, tag, &c, out);

    /* Authenticated. */
    static const char *const auth[] = {"SELECT", "EXAMINE", "LIST", "LSUB", "STATUS", "CREATE", "DELETE",
                                       "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "APPEND"};
    static const char *const selected[] = {"CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY"};
    int known = 0;
    for (size_t i = 0; i < sizeof auth / sizeof auth[0]; i++)
        known |= !strcmp(verb, auth[i]);
    for (size_t i = 0; i < sizeof selected / sizeof selected[0]; i++)
        known |= 2 * !strcmp(verb, selected[i]);
    if (!known) {
        ism_buf_printf(out, "%s BAD Unknown command %s\r\n", tag, verb);
        return ISM_PROTO_CONTINUE;
    }
    if (s->state == IMAP_S_NOT_AUTH) {
        ism_buf_printf(out, "%s BAD Log in first (LOGIN or AUTHENTICATE)\r\n", tag);
        return ISM_PROTO_CONTINUE;
    }
    if (!strcmp(verb, "SELECT") || !strcmp(verb, "EXAMINE"))
        return cmd_select(s, env, tag, verb[0] == 'E', &c, out);
    if (!strcmp(verb, "LIST") || !strcmp(verb, "LSUB"))
        return cmd_list(s, tag, verb, &c, out);
    if (!strcmp(verb, "STATUS"))
        return cmd_status(s, env, tag, &c, out);
    if (!strcmp(verb, "SUBSCRIBE") || !strcmp(verb, "UNSUBSCRIBE")) {
        char name[256];
        if (!eat(&c, ' ') || get_string(&c, name, sizeof name, 0) || !at_end(&c))
            ism_buf_printf(out, "%s BAD %s needs a mailbox name\r\n", tag, verb);
        else if (!is_inbox(name))
            ism_buf_printf(out, "%s NO [NONEXISTENT] No such mailbox; this server has only INBOX\r\n", tag);
        else
            ism_buf_printf(out, "%s OK %s completed (INBOX is always subscribed)\r\n", tag, verb);
        return ISM_PROTO_CONTINUE;
    }
    if (known == 1) {
        ism_buf_printf(out, "%s NO [CANNOT] %s is not supported: this server keeps one mailbox, INBOX, "
                       "filled by incoming mail\r\n", tag, verb);
        return ISM_PROTO_CONTINUE;
    }

    /* Selected. */
    if (s->state != IMAP_S_SELECTED) {
        ism_buf_printf(out, "%s BAD %s needs a selected mailbox: SELECT INBOX first\r\n", tag, verb);
        return ISM_PROTO_CONTINUE;
    }
    if (!strcmp(verb, "FETCH"))
        return cmd_fetch(s, env, tag, uid, &c, out);
    if (!strcmp(verb, "STORE"))
        return cmd_store(s, env, tag, uid, &c, out);
    if (!strcmp(verb, "SEARCH"))
        return cmd_search(s, tag, uid, &c, out);
    if (!at_end(&c) && strcmp(verb, "COPY")) {
        ism_buf_printf(out, "%s BAD %s takes no arguments\r\n", tag, verb);
        return ISM_PROTO_CONTINUE;
    }
    if (!strcmp(verb, "EXPUNGE")) {
        if (s->read_only)
            ism_buf_printf(out, "%s NO [READ-ONLY] The mailbox was opened with EXAMINE\r\n", tag);
        else if (expunge(s, env, 1, out))
            ism_buf_printf(out, "%s NO [UNAVAILABLE] The deleted messages could not be removed; try again later\r\n", tag);
        else
            ism_buf_printf(out, "%s OK EXPUNGE completed\r\n", tag);
    } else if (!strcmp(verb, "CLOSE") || !strcmp(verb, "UNSELECT")) {
        /* CLOSE removes \Deleted messages silently (RFC 3501 6.4.2); UNSELECT does not (RFC 3691). */
        int failed = verb[0] == 'C' && !s->read_only && expunge(s, env, 0, out);
        forget_mailbox(s);
        if (failed)
            ism_buf_printf(out, "%s NO [UNAVAILABLE] Mailbox closed, but the deleted messages could not be removed\r\n", tag);
        else
            ism_buf_printf(out, "%s OK %s completed\r\n", tag, verb);
    } else {
        ism_buf_printf(out, "%s NO [CANNOT] COPY is not supported: this server keeps one mailbox, INBOX\r\n", tag);
    }
    return ISM_PROTO_CONTINUE;
}

/* ---- literals: collecting a command over several lines ---- */

/* Whether text ends with a literal announcement "{n}" (1) or "{n+}" (2). */
static int literal_marker(const char *p, size_t len, size_t *n)
{
    if (len < 3 || p[len - 1] != '}')
        return 0;
    size_t i = len - 1;
    int plus = p[i - 1] == '+';
    if (plus)
        i--;
    size_t end = i;
    while (i > 0 && isdigit((unsigned char)p[i - 1]))
        i--;
    if (i == end || i == 0 || p[i - 1] != '{' || end - i > 9)
        return 0;
    *n = 0;
    for (size_t k = i; k < end; k++)
        *n = *n * 10 + (size_t)(p[k] - '0');
    return plus ? 2 : 1;
}

/* Literals are taken only where a string argument may need one. */
static int literal_welcome(const char *p, size_t len, char *tag, const char **refusal)
{
    command_tag(p, len, tag);
    if (!strcmp(tag, "*"))
        return 0;
    const char *v = p + strlen(tag) + 1;
    size_t vn = 0;
    while (v + vn < p + len && isalpha((unsigned char)v[vn]))
        vn++;
    static const char *const ok[] = {"LOGIN", "SELECT", "EXAMINE", "STATUS", "LIST", "LSUB", "SUBSCRIBE",
                                     "UNSUBSCRIBE", "SEARCH", "UID", "FETCH"};
    if (ism_str_ieqn(v, vn, "APPEND")) {
        *refusal = "NO [CANNOT] APPEND is not supported: this server keeps one mailbox, INBOX, filled by incoming mail";
        return 0;
    }
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (ism_str_ieqn(v, vn, ok[i]))
            return 1;
    return 0;
}

static ism_proto_action imap_line(void *st, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    imap *s = st;
    if (s->auth_pending) {
        char tag[IMAP_MAX_TAG];
        snprintf(tag, sizeof tag, "%s", s->auth_tag);
        return auth_response(s, env, tag, line, len, out);
    }
    const char *seg = line;
    size_t seglen = len;
    if (s->literal) {
        if (s->lit_left == 0) {
            s->literal = 0; /* the command goes on after its literal */
        } else if (len + 2 <= s->lit_left) {
            ism_buf_add(&s->cmd, line, len);
            ism_buf_add(&s->cmd, "\r\n", 2);
            s->lit_left -= len + 2;
            return ISM_PROTO_CONTINUE;
        } else if (len >= s->lit_left) {
            ism_buf_add(&s->cmd, line, s->lit_left);
            seg = line + s->lit_left;
            seglen = len - s->lit_left;
            s->literal = 0;
            s->lit_left = 0;
        } else { /* the literal ended with a CR of the line end */
            ism_buf_add(&s->cmd, line, len);
            ism_buf_add(&s->cmd, "\r", 1);
            seg = line + len;
            seglen = 0;
            s->literal = 0;
            s->lit_left = 0;
        }
    }
    if (s->cmd.len + seglen > IMAP_MAX_COMMAND) {
        char tag[IMAP_MAX_TAG];
        command_tag(s->cmd.len ? s->cmd.p : line, s->cmd.len ? s->cmd.len : len, tag);
        ism_buf_printf(out, "%s BAD Command too long (at most %d characters with its literals)\r\n", tag, IMAP_MAX_COMMAND);
        forget_command(s);
        return ISM_PROTO_CONTINUE;
    }
    ism_buf_add(&s->cmd, seg, seglen);
    size_t n;
    int marker = literal_marker(seg, seglen, &n);
    if (marker) {
        char tag[IMAP_MAX_TAG];
        const char *refusal = NULL;
        if (!literal_welcome(s->cmd.p, s->cmd.len, tag, &refusal))
            ism_buf_printf(out, "%s %s\r\n", tag, refusal ? refusal : "BAD Literals are not accepted in this command");
        else if (marker == 2)
            ism_buf_printf(out, "%s BAD Non-synchronizing literals ({n+}) are not supported\r\n", tag);
        else if (n + 2 > IMAP_MAX_COMMAND - s->cmd.len)
            ism_buf_printf(out, "%s BAD Literal too large (a command may have at most %d characters)\r\n", tag,
                           IMAP_MAX_COMMAND);
        else {
            ism_buf_add(&s->cmd, "\r\n", 2);
            s->literal = 1;
            s->lit_left = n;
            ism_buf_printf(out, "+ Ready for literal data\r\n");
            return ISM_PROTO_CONTINUE;
        }
        forget_command(s);
        return ISM_PROTO_CONTINUE;
    }
    ism_proto_action a = execute(s, env, s->cmd.p ? s->cmd.p : "", s->cmd.len, out);
    forget_command(s);
    return a;
}

/* ---- the ops ---- */

static void imap_begin(void *st, const ism_proto_env *env, ism_buf *out)
{
    imap *s = st;
    ism_buf_printf(out, "* OK [CAPABILITY ");
    capabilities(s, env, out);
    ism_buf_printf(out, "] %s ISMail IMAP4rev1 server ready\r\n", env->hostname);
}

static void imap_tls_started(void *st, const ism_proto_env *env)
{
    imap *s = st;
    (void)env;
    fetch_job_free(s);
    forget_mailbox(s);
    forget_command(s);
    s->state = IMAP_S_NOT_AUTH;
    s->auth_pending = 0;
    memset(s->user, 0, sizeof s->user);
}

static void imap_too_long(void *st, const ism_proto_env *env, ism_buf *out)
{
    imap *s = st;
    (void)env;
    if (s->auth_pending) {
        s->auth_pending = 0;
        ism_buf_printf(out, "%s BAD AUTHENTICATE response too long; authentication canceled\r\n", s->auth_tag);
        return;
    }
    forget_command(s);
    ism_buf_printf(out, "* BAD Command line too long (at most %d characters)\r\n", IMAP_MAX_LINE - 2);
}

static void imap_end(void *st)
{
    imap *s = st;
    fetch_job_free(s);
    forget_mailbox(s);
    forget_command(s);
    ism_buf_free(&s->cmd);
}

/* The ports this protocol listens on (see ism_proto_listener). */
static const ism_proto_listener imap_listeners[] = {
    {"imap", &ism_proto_imap, ISM_S_IMAP_PORT, ISM_S_IMAP_TLS_INCOMING, 0, 0, 0},
    {"imaps", &ism_proto_imap, ISM_S_IMAPS_PORT, ISM_S_IMAP_TLS_INCOMING, 1, 0, 0},
};

const ism_proto_ops ism_proto_imap = {
    "imap", IMAP_MAX_LINE, sizeof(imap), imap_begin, imap_line, imap_tls_started, imap_too_long, imap_end,
    imap_auth_done, imap_more,
    .label = "IMAP",
    .busy = "* BYE [UNAVAILABLE] Too many connections from your address; try again later\r\n",
    .listeners = imap_listeners,
    .n_listeners = sizeof imap_listeners / sizeof imap_listeners[0],
};
