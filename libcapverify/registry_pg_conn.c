/* SPDX-License-Identifier: Apache-2.0 */
/* The PostgreSQL registry backend's connections (docs/registry.md, "PostgreSQL backend"):
 * connecting with libpq, reconnecting with backoff, statement parameters and execution, and
 * the mapping of SQLSTATEs to capv_status. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry_pg_conn_int.h"
#include "time_int.h"

/* ---- the location: the URL without its password ---------------------------------------- */

bool capv_registry_location_is_postgres(const char *location)
{
    return location != NULL && (strncmp(location, "postgresql://", 13) == 0 ||
                                strncmp(location, "postgres://", 11) == 0);
}

/* Whether libpq's keyword `kw` is a secret: the password, or the passphrase of the client's
 * TLS key. */
static bool is_secret_keyword(const char *kw)
{
    return strcmp(kw, "password") == 0 || strcmp(kw, "sslpassword") == 0;
}

/* Whether the query parameter s[0..len) names a secret (its name percent-decoded). */
static bool is_secret_param(const char *s, size_t len)
{
    char name[16];
    size_t k = 0;
    for (size_t i = 0; i < len && s[i] != '='; k++) {
        int c = (unsigned char)s[i];
        uint8_t byte;
        if (c == '%' && i + 2 < len && capv_hex_decode(&byte, 1, s + i + 1, 2, NULL) == CAPV_OK) {
            c = byte;
            i += 3;
        } else {
            i++;
        }
        if (k >= sizeof name - 1)
            return false;
        name[k] = (char)c;
    }
    name[k] = '\0';
    return is_secret_keyword(name);
}

/* scheme://[user[:password]@]hosts[/db][?params]: the password and any secret parameter
 * left out. libpq ends the user and password at an '@' before the first '/', not at a '?',
 * which a password may hold: everything up to the last such '@' is left out but the user,
 * and the user too when a '?' makes it look like parameters (`…?password=a@b`). */
static void uri_location(capv_buf *b, const char *url)
{
    const char *auth = strstr(url, "://") + 3;
    size_t alen = strcspn(auth, "/");
    capvi_buf_append(b, url, (size_t)(auth - url));
    const char *at = NULL;
    for (const char *q = auth; q < auth + alen; q++)
        if (*q == '@')
            at = q;
    const char *host = auth;
    if (at != NULL) {
        size_t ulen = strcspn(auth, ":@");
        if (memchr(auth, '?', ulen) != NULL)
            capvi_buf_puts(b, "***");
        else
            capvi_buf_append(b, auth, ulen);
        capvi_buf_putc(b, '@');
        host = at + 1;
    }
    size_t hlen = strcspn(host, "/?");
    capvi_buf_append(b, host, hlen);
    const char *rest = host + hlen;
    size_t plen = strcspn(rest, "?");
    capvi_buf_append(b, rest, plen);
    const char *q = rest[plen] == '?' ? rest + plen + 1 : NULL;
    char sep = '?';
    while (q != NULL && *q != '\0') {
        size_t n = strcspn(q, "&");
        if (n > 0 && !is_secret_param(q, n)) {
            capvi_buf_putc(b, sep);
            capvi_buf_append(b, q, n);
            sep = '&';
        }
        q = q[n] == '&' ? q + n + 1 : q + n;
    }
}

/* key=value conninfo rebuilt from libpq's parse, without its secrets. */
static void conninfo_location(capv_buf *b, const PQconninfoOption *opts)
{
    for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || is_secret_keyword(o->keyword))
            continue;
        if (b->len > 0)
            capvi_buf_putc(b, ' ');
        capvi_buf_printf(b, "%s='", o->keyword);
        for (const char *v = o->val; *v != '\0'; v++) {
            if (*v == '\'' || *v == '\\')
                capvi_buf_putc(b, '\\');
            capvi_buf_putc(b, *v);
        }
        capvi_buf_putc(b, '\'');
    }
}

bool capvi_pg_uri_ambiguous(const char *url)
{
    if (!capv_registry_location_is_postgres(url))
        return false;
    /* libpq's user information ends at the first '@' met before any '/' */
    const char *a = strstr(url, "://") + 3, *p = a + strcspn(a, "@/");
    const char *host = *p == '@' ? p + 1 : a;
    size_t hlen = strcspn(host, "/?");
    if (memchr(host, '@', hlen) != NULL)
        return true; /* a second '@': the password held one */
    if (host[hlen] != '/')
        return false;
    const char *path = host + hlen;
    return memchr(path, '@', strcspn(path, "?")) != NULL; /* the password held a '/' */
}

char *capvi_pg_make_location(const char *url, bool *parsed, char **password)
{
    *password = NULL;
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    *parsed = opts != NULL || msg == NULL; /* libpq: NULL without message = out of memory */
    PQfreemem(msg);
    if (opts == NULL)
        return NULL;
    capv_buf b = CAPV_BUF_INIT;
    bool ok = true;
    for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            ok = (*password = strdup(o->val)) != NULL;
    if (capv_registry_location_is_postgres(url))
        uri_location(&b, url);
    else
        conninfo_location(&b, opts);
    PQconninfoFree(opts);
    char *loc = ok ? (char *)capvi_buf_take(&b, NULL) : NULL;
    capvi_buf_free(&b);
    return loc;
}

/* ---- parameters ------------------------------------------------------------------------ */

/* The next slot, or -1 past the maximum (the statement then fails on the server with a
 * parameter count mismatch: a bug, reported as CAPV_E_IO). */
static int next_slot(capvi_pg_params *p)
{
    return p->n < CAPVI_PG_PARAMS_MAX ? p->n++ : -1;
}

void capvi_pg_param_text(capvi_pg_params *p, const char *s)
{
    int i = next_slot(p);
    if (i < 0)
        return;
    p->vals[i] = s;
    p->lens[i] = 0;
    p->fmts[i] = 0;
}

void capvi_pg_param_bytes(capvi_pg_params *p, const uint8_t *b, size_t len)
{
    int i = next_slot(p);
    if (i < 0)
        return;
    p->vals[i] = (const char *)b;
    p->lens[i] = (int)len;
    p->fmts[i] = 1;
}

void capvi_pg_param_int(capvi_pg_params *p, int64_t v)
{
    int i = next_slot(p);
    if (i < 0)
        return;
    snprintf(p->nums[i], sizeof p->nums[i], "%" PRId64, v);
    p->vals[i] = p->nums[i];
    p->lens[i] = 0;
    p->fmts[i] = 0;
}

/* ---- messages -------------------------------------------------------------------------- */

/* Every occurrence of `secret` in msg overwritten with '*'. */
static void scrub(char *msg, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n == 0)
        return;
    for (char *p = strstr(msg, secret); p != NULL; p = strstr(p + n, secret))
        memset(p, '*', n);
}

/* The first line of a libpq message, without any password the handle knows. */
static void reason_of(char *out, size_t cap, const capvi_pg *pg, const char *msg)
{
    if (msg == NULL || *msg == '\0')
        msg = "no reason given";
    snprintf(out, cap, "%.*s", (int)strcspn(msg, "\n"), msg);
    scrub(out, pg->password);
    scrub(out, pg->url_password);
}

static capv_status unreachable(const capvi_pg *pg, const char *what, const char *reason,
                               capv_error *err)
{
    return capvi_err_set(err, CAPV_E_STORAGE, NULL, "%s: database unreachable: %s (%s)", what,
                         reason, pg->location);
}

/* ---- connections ----------------------------------------------------------------------- */

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A new session: hex bytea output (capvi_pg_bytes reads it), a statement waits for a lock
 * at most the handle's busy timeout (lock_timeout: a table held exclusively elsewhere, a
 * `VACUUM FULL` or another version's migration, answers CAPV_E_BUSY instead of holding the
 * caller, and every request behind it, for as long as it lasts; docs/registry.md
 * "PostgreSQL backend"), readers read-only. */
static int session_setup(char *sql, size_t cap, const capvi_pg *pg, bool reader)
{
    return snprintf(sql, cap, "SET bytea_output = 'hex'; SET lock_timeout = %d%s", pg->timeout_ms,
                    reader ? "; SET default_transaction_read_only = on" : "");
}

static capv_status conn_open(capvi_pg *pg, capvi_pg_conn *c, capv_error *err)
{
    char timeout[16];
    int secs = pg->timeout_ms / 1000 + (pg->timeout_ms % 1000 != 0);
    snprintf(timeout, sizeof timeout, "%d", secs < 2 ? 2 : secs);
    /* Later entries override what the expanded URL sets; those before it are defaults the
     * URL may change: the name, and how soon a server that vanished without a word (its
     * machine or the network gone) is noticed. Without them a statement waiting for its
     * answer would hang for the operating system's keepalive, two hours, with the writer
     * and every caller behind it: now an idle wait is probed after 10 s (three probes 5 s
     * apart) and data the server does not acknowledge for 30 s ends the session. */
    const char *kw[] = { "application_name", "keepalives",
                         "keepalives_idle",  "keepalives_interval",
                         "keepalives_count", "tcp_user_timeout",
                         "dbname",           "connect_timeout",
                         "password",         NULL };
    const char *val[] = { "capverify", "1",     "10",    "5",          "3",
                          "30000",     pg->url, timeout, pg->password, NULL };
    if (pg->password == NULL)
        kw[sizeof kw / sizeof *kw - 2] = NULL; /* the password, last */
    PGconn *pc = PQconnectdbParams(kw, val, 1);
    if (pc == NULL)
        return capvi_err_nomem(err);
    PQsetNoticeProcessor(pc, ignore_notice, NULL);
    char reason[CAPV_ERROR_MESSAGE_SIZE];
    if (PQstatus(pc) != CONNECTION_OK) {
        reason_of(reason, sizeof reason, pg, PQerrorMessage(pc));
        PQfinish(pc);
        return unreachable(pg, "connecting", reason, err);
    }
    if (PQserverVersion(pc) < CAPVI_PG_SERVER_MIN) {
        int v = PQserverVersion(pc);
        PQfinish(pc);
        return capvi_err_set(err, CAPV_E_UNSUPPORTED_FORMAT, NULL,
                             "PostgreSQL %d.%d: the registry needs PostgreSQL %d or later (%s)",
                             v / 10000, v % 10000, CAPVI_PG_SERVER_MIN / 10000, pg->location);
    }
    char setup[160];
    session_setup(setup, sizeof setup, pg, c->reader);
    PGresult *r = PQexec(pc, setup);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        reason_of(reason, sizeof reason, pg, PQerrorMessage(pc));
        PQfinish(pc);
        return capvi_err_set(err, CAPV_E_IO, NULL, "setting up a session: %s", reason);
    }
    c->pc = pc;
    return CAPV_OK;
}

/* No attempt for the current wait, and the next wait twice as long. A connect that
 * succeeds does not end the backoff: only a statement that succeeds on the session does
 * (capvi_pg_exec). A server that accepts sessions and drops them at once (a pooler
 * refusing, a server shutting down) is so tried again at the backoff's pace, not at once. */
static void backoff(capvi_pg_conn *c)
{
    c->retry_at_ms = capvi_mono_ms() + c->backoff_ms;
    c->backoff_ms =
        c->backoff_ms * 2 > CAPVI_PG_BACKOFF_MAX_MS ? CAPVI_PG_BACKOFF_MAX_MS : c->backoff_ms * 2;
}

capv_status capvi_pg_conn_ready(capvi_pg *pg, capvi_pg_conn *c, capv_error *err)
{
    if (c->lost)
        return unreachable(pg, "in a transaction", "the connection was lost; roll back", err);
    if (c->pc != NULL)
        return CAPV_OK;
    int64_t now = capvi_mono_ms();
    if (now < c->retry_at_ms) {
        char reason[64];
        snprintf(reason, sizeof reason, "reconnecting, next attempt in %" PRId64 " ms",
                 c->retry_at_ms - now);
        return unreachable(pg, "connecting", reason, err);
    }
    capv_status st = conn_open(pg, c, err);
    if (st == CAPV_OK) {
        c->generation++;
        c->proven = false;
        c->retry_at_ms = 0;
    } else {
        backoff(c);
    }
    return st;
}

void capvi_pg_conn_close(capvi_pg_conn *c)
{
    PQfinish(c->pc);
    c->pc = NULL;
    /* the session's prepared statements went with it */
    for (int i = 0; i < c->nprepared; i++)
        free(c->prepared[i]);
    c->nprepared = 0;
    c->in_tx = false;
    c->lost = false;
    c->retry_at_ms = 0;
}

/* ---- errors ---------------------------------------------------------------------------- */

static bool connection_gone(const char *state)
{
    return state != NULL && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
                             strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

/* The status of SQLSTATE `state` and, for the ones with a phrase of their own, that phrase. */
static capv_status map_state(const char *state, const char **phrase)
{
    static const struct {
        const char *state;
        capv_status st;
        const char *phrase;
    } map[] = {
        { "53100", CAPV_E_STORAGE, "disk is full" },
        { "53200", CAPV_E_NOMEM, "the server is out of memory" },
        { "57014", CAPV_E_STORAGE, "statement cancelled (statement_timeout, or an operator)" },
        { "58030", CAPV_E_STORAGE, "I/O error on the server" },
        { "XX001", CAPV_E_STORAGE, "data corrupted on the server" },
        { "40001", CAPV_E_BUSY, "serialization failure" },
        { "40P01", CAPV_E_BUSY, "deadlock" },
        { "55P03", CAPV_E_BUSY, "lock not available" },
        { "23505", CAPV_E_CONFLICT, "already stored" }, /* of a registry key only: registry_key */
    };
    *phrase = NULL;
    for (size_t i = 0; state != NULL && i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(state, map[i].state) == 0) {
            *phrase = map[i].phrase;
            return map[i].st;
        }
    }
    return CAPV_E_IO;
}

/* The unique constraints that are keys of the registry's writes (docs/registry.md, "Writes
 * across replicas"), by the names PostgreSQL gives the schema's UNIQUE clauses
 * (registry_pg_schema.c): entries by id and by their hashes, verifications by request_id,
 * policies by hash and by id and version. A violation of one means a row with that key is
 * stored: CAPV_E_CONFLICT, which the write resolves by comparing with it (the verifications'
 * first insert rolls back and records again, registry_pg_record.c). Any other unique
 * violation (a primary key whose identity sequence is behind its rows, a report body's key,
 * an index added to the tables) is no answer about the write's content: the storage's fault
 * (CAPV_E_STORAGE), so a record is retried, never refused as a conflict. */
static bool registry_key(const char *constraint)
{
    static const char *const keys[] = {
        "entries_id_key",
        "entries_manifest_key_proof_key_key",
        "verifications_request_id_key",
        "policies_policy_key_key",
        "policies_policy_id_policy_version_key",
    };
    for (size_t i = 0; constraint != NULL && i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(constraint, keys[i]) == 0)
            return true;
    return false;
}

/* The status of a failed statement; a connection found gone is closed (inside a transaction
 * the transaction is lost until it is ended). */
static capv_status result_error(capvi_pg *pg, capvi_pg_conn *c, const PGresult *r, const char *what,
                                capv_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char reason[CAPV_ERROR_MESSAGE_SIZE];
    reason_of(reason, sizeof reason, pg, primary ? primary : PQerrorMessage(c->pc));
    if (PQstatus(c->pc) == CONNECTION_BAD || connection_gone(state)) {
        bool in_tx = c->in_tx, proven = c->proven;
        capvi_pg_conn_close(c);
        c->lost = in_tx;
        c->in_tx = in_tx;
        if (!proven) /* lost before it did anything: not reconnected at once */
            backoff(c);
        return unreachable(pg, what, reason, err);
    }
    if (r == NULL)
        return capvi_err_nomem(err);
    const char *phrase;
    capv_status st = map_state(state, &phrase);
    const char *constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    if (st == CAPV_E_CONFLICT && !registry_key(constraint)) {
        const char *table = PQresultErrorField(r, PG_DIAG_TABLE_NAME);
        return capvi_err_set(err, CAPV_E_STORAGE, NULL,
                             "%s: unique violation of \"%s\" on %s, no key of the registry (an "
                             "index added to the table, or an identity sequence behind its "
                             "rows; SQLSTATE %s)",
                             what, constraint ? constraint : "?", table ? table : "?", state);
    }
    if (phrase != NULL)
        return capvi_err_set(err, st, NULL, "%s: %s (%s, SQLSTATE %s)", what, phrase, reason,
                             state);
    return capvi_err_set(err, st, NULL, "%s: %s (SQLSTATE %s)", what, reason,
                         state ? state : "none");
}

/* The index of `sql` among the statements prepared on c's session, preparing it when there is
 * room; -1: run it unprepared (no room); -2: the server refused to prepare it, and *failed
 * is its answer. That answer is the statement's: running it unprepared would say the same
 * outside a transaction, and inside one only that the transaction is aborted (the refusal
 * aborted it), hiding a deadlock or a lock timeout behind SQLSTATE 25P02. */
static int prepared_index(capvi_pg_conn *c, const char *sql, int nparams, PGresult **failed)
{
    for (int i = 0; i < c->nprepared; i++)
        if (strcmp(c->prepared[i], sql) == 0)
            return i;
    if (c->nprepared == CAPVI_PG_PREPARED_MAX)
        return -1;
    char *copy = strdup(sql);
    if (copy == NULL)
        return -1;
    char name[24];
    snprintf(name, sizeof name, "capv_%d", c->nprepared);
    PGresult *r = PQprepare(c->pc, name, sql, nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        free(copy);
        *failed = r;
        return -2;
    }
    PQclear(r);
    c->prepared[c->nprepared] = copy;
    return c->nprepared++;
}

capv_status capvi_pg_exec(PGresult **out, capvi_pg *pg, capvi_pg_conn *c, const char *what,
                          const char *sql, const capvi_pg_params *p, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    for (int attempt = 0;; attempt++) {
        capv_status st = capvi_pg_conn_ready(pg, c, err);
        if (st != CAPV_OK)
            return st;
        PGresult *r = NULL;
        if (p == NULL) {
            r = PQexec(c->pc, sql);
        } else {
            int k = prepared_index(c, sql, p->n, &r);
            char name[24];
            snprintf(name, sizeof name, "capv_%d", k);
            if (k >= 0)
                r = PQexecPrepared(c->pc, name, p->n, p->vals, p->lens, p->fmts, 0);
            else if (k == -1)
                r = PQexecParams(c->pc, sql, p->n, NULL, p->vals, p->lens, p->fmts, 0);
        }
        ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
            if (!c->proven) {
                c->proven = true;
                c->backoff_ms = CAPVI_PG_BACKOFF_MIN_MS;
            }
            if (out != NULL)
                *out = r;
            else
                PQclear(r);
            return CAPV_OK;
        }
        /* a session that died while idle (a server restart): once more on a new one; not
         * one lost before it did anything, which waits out the backoff (and its failure
         * keeps the server's reason) */
        bool retry = attempt == 0 && !c->in_tx && c->proven && PQstatus(c->pc) == CONNECTION_BAD;
        st = result_error(pg, c, r, what, err);
        PQclear(r);
        if (!retry)
            return st;
    }
}

/* ---- the reader pool ------------------------------------------------------------------- */

capv_status capvi_pg_reader_acquire(capvi_pg_conn **out, capvi_pg *pg, capv_error *err)
{
    *out = NULL;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += pg->timeout_ms / 1000;
    until.tv_nsec += (long)(pg->timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&pg->rlock);
    for (;;) {
        for (unsigned int i = 0; i < pg->nreaders; i++) {
            if (!pg->readers[i].busy) {
                pg->readers[i].busy = true;
                *out = &pg->readers[i];
                pthread_mutex_unlock(&pg->rlock);
                return CAPV_OK;
            }
        }
        if (pthread_cond_clockwait(&pg->rcond, &pg->rlock, CLOCK_MONOTONIC, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&pg->rlock);
    return capvi_err_set(err, CAPV_E_BUSY, NULL,
                         "no read connection to the database came free within %d ms (all %u "
                         "in use: their statements wait)",
                         pg->timeout_ms, pg->nreaders);
}

capv_status capvi_pg_read(PGresult **r, capvi_pg *pg, const char *what, const char *sql,
                          const capvi_pg_params *p, capv_error *err)
{
    capvi_pg_conn *c = NULL;
    capv_status st = capvi_pg_reader_acquire(&c, pg, err);
    if (st != CAPV_OK)
        return st;
    st = capvi_pg_exec(r, pg, c, what, sql, p, err);
    capvi_pg_reader_release(pg, c);
    return st;
}

void capvi_pg_reader_release(capvi_pg *pg, capvi_pg_conn *c)
{
    pthread_mutex_lock(&pg->rlock);
    c->busy = false;
    pthread_cond_signal(&pg->rcond);
    pthread_mutex_unlock(&pg->rlock);
}

/* ---- result columns -------------------------------------------------------------------- */

const char *capvi_pg_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

int64_t capvi_pg_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool capvi_pg_bytes(uint8_t *out, size_t want, const PGresult *r, int row, int col)
{
    const char *t = capvi_pg_text(r, row, col);
    size_t len = t ? strlen(t) : 0;
    return len == 2 + 2 * want && t[0] == '\\' && t[1] == 'x' &&
           capv_hex_decode(out, want, t + 2, len - 2, NULL) == CAPV_OK;
}
