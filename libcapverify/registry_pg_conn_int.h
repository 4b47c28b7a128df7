/* SPDX-License-Identifier: Apache-2.0 */
/* The connection layer of the PostgreSQL registry backend (registry_pg_conn.c,
 * docs/registry.md "PostgreSQL backend"): the handle, its libpq connections and their
 * reconnection with backoff, statement parameters, execution, and the mapping of server
 * errors to capv_status. Used by registry_pg_schema.c and registry_pg.c only. */
#ifndef CAPV_REGISTRY_PG_CONN_INT_H
#define CAPV_REGISTRY_PG_CONN_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "error_int.h"

typedef struct capvi_pg capvi_pg;

/* The oldest server the registry runs on (PQserverVersion): 12 brought plan_cache_mode
 * (capvi_pg_begin); identity columns, starts_with() and pg_sequence_last_value() are
 * older. */
#define CAPVI_PG_SERVER_MIN 120000

/* The reconnection backoff: the first failed attempt waits this long, each further one
 * twice as long, up to the maximum: a server back is used again within about 3 s, the
 * writer's health probe asking every second (docs/registry.md, "PostgreSQL backend"). */
#define CAPVI_PG_BACKOFF_MIN_MS 100
#define CAPVI_PG_BACKOFF_MAX_MS 2000

/* Parameterized statements are prepared once per session, up to this many per connection
 * (more run unprepared): the server then does not parse them again, and plans them again
 * only while their plans made for the values look cheaper than the generic one
 * (plan_cache_mode; capvi_pg_begin). */
#define CAPVI_PG_PREPARED_MAX 32

typedef struct capvi_pg_conn {
    PGconn *pc;          /* NULL: not connected (not yet, or since a failure) */
    bool reader;         /* its sessions are read-only (default_transaction_read_only) */
    bool in_tx;          /* inside a transaction this layer was asked to keep */
    bool lost;           /* the connection failed inside the transaction: refused until the
                          * transaction is ended */
    bool busy;           /* a pool connection lent out (under the handle's rlock) */
    uint64_t generation; /* successful connects: a change means a new session */
    int64_t retry_at_ms; /* monotonic: no connection attempt before this */
    int backoff_ms;      /* the wait after the next failed attempt */
    bool proven;         /* a statement succeeded on this session (the backoff starts over) */
    /* the statements prepared on this session (capvi_pg_exec), named capv_<index> */
    char *prepared[CAPVI_PG_PREPARED_MAX];
    int nprepared;
} capvi_pg_conn;

/* Where the write connection's savepoint stands (registry_pg.c, capvi_pg_savepoint). The
 * writer opens a savepoint first thing in every transaction and releases each one before the
 * next or the commit, so two of its statements ride with others: the first SAVEPOINT with
 * the BEGIN, and a RELEASE with the next SAVEPOINT (before a COMMIT none is needed). */
typedef enum capvi_pg_sp {
    CAPVI_PG_SP_NONE,     /* none open */
    CAPVI_PG_SP_SPARE,    /* opened with the BEGIN, no write in it yet */
    CAPVI_PG_SP_OPEN,     /* a write runs in it */
    CAPVI_PG_SP_RELEASED, /* its write is over; RELEASE not sent yet */
} capvi_pg_sp;

struct capvi_pg {
    char *url;          /* as given, for libpq only (may hold a password) */
    char *location;     /* the URL without password */
    char *password;     /* the password file's first line, or NULL */
    char *url_password; /* the URL's own password, or NULL: scrubbed from libpq messages */
    int timeout_ms;
    bool read_only;
    int found_version;
    capvi_pg_conn w; /* the write connection (unused when read_only) */
    capvi_pg_conn *readers;
    unsigned int nreaders;
    pthread_mutex_t rlock;
    pthread_cond_t rcond;
    capvi_pg_conn leader; /* holds the leadership lock: under llock */
    pthread_mutex_t llock;
    bool leading;
    uint64_t leader_generation; /* the session that took the lock */
    capvi_pg_sp sp;             /* the write connection's savepoint capv_write */
    bool verdicts_changed;      /* the write transaction added entries or policies, or loaded rows:
                            * its commit moves registry_meta's verdict_mark */
    capvi_pg_conn snap;         /* snapshots: one at a time, under slock */
    pthread_mutex_t slock;      /* held from snapshot_begin to snapshot_end (error-checking) */
};

/* Statement parameters (at most CAPVI_PG_PARAMS_MAX): text (NULL = SQL NULL), binary bytea,
 * or integers. Many rows go as one array parameter per column (registry_pg_record.c). */
#define CAPVI_PG_PARAMS_MAX 16
typedef struct capvi_pg_params {
    int n;
    const char *vals[CAPVI_PG_PARAMS_MAX];
    int lens[CAPVI_PG_PARAMS_MAX], fmts[CAPVI_PG_PARAMS_MAX];
    char nums[CAPVI_PG_PARAMS_MAX][24];
} capvi_pg_params;

#define CAPVI_PG_PARAMS_INIT                                                                       \
    {                                                                                              \
        0, { NULL }, { 0 }, { 0 },                                                                 \
        {                                                                                          \
            {                                                                                      \
                0                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

void capvi_pg_param_text(capvi_pg_params *p, const char *s);
void capvi_pg_param_bytes(capvi_pg_params *p, const uint8_t *b, size_t len);
void capvi_pg_param_int(capvi_pg_params *p, int64_t v);

/* Connects `c` when it is not (honouring the backoff). CAPV_E_STORAGE when the database
 * cannot be reached, or when the connection failed inside a transaction not yet ended. */
capv_status capvi_pg_conn_ready(capvi_pg *pg, capvi_pg_conn *c, capv_error *err);
/* Closes the connection (a later call reconnects at once). */
void capvi_pg_conn_close(capvi_pg_conn *c);

/* Runs `sql` (with parameters `p`, or p NULL: a script of several statements, no
 * parameters) on `c`, connecting first when needed; outside a transaction a statement that
 * finds the connection gone is retried once on a fresh one. CAPV_OK with *out = the result
 * (out NULL: discarded; else the caller PQclear()s it); otherwise the mapped status with
 * "<what>: <reason>" in err. */
capv_status capvi_pg_exec(PGresult **out, capvi_pg *pg, capvi_pg_conn *c, const char *what,
                          const char *sql, const capvi_pg_params *p, capv_error *err);

/* Borrows a read connection from the pool, waiting while all are busy, at most the handle's
 * busy timeout (then CAPV_E_BUSY); release it after. */
capv_status capvi_pg_reader_acquire(capvi_pg_conn **out, capvi_pg *pg, capv_error *err);
/* One statement on a borrowed read connection, as capvi_pg_exec. */
capv_status capvi_pg_read(PGresult **r, capvi_pg *pg, const char *what, const char *sql,
                          const capvi_pg_params *p, capv_error *err);
void capvi_pg_reader_release(capvi_pg *pg, capvi_pg_conn *c);

/* Column helpers for text-format results: NULL for SQL NULL; an integer (0 for NULL); a
 * bytea column ("\x" + hex) decoded into `out` when it is exactly `want` bytes. */
const char *capvi_pg_text(const PGresult *r, int row, int col);
int64_t capvi_pg_int(const PGresult *r, int row, int col);
bool capvi_pg_bytes(uint8_t *out, size_t want, const PGresult *r, int row, int col);

/* Whether a libpq URI has an '@' after its user information, in its host or in its path
 * (before any '?'): a password holding an unencoded '@' or '/', which libpq would read as
 * part of the host or of the path and so echo in its messages. */
bool capvi_pg_uri_ambiguous(const char *url);

/* The location (the URL without password) of a URL or conninfo: NULL when libpq cannot
 * parse it, or on OOM (*parsed tells which). Its password, if any, in *password. */
char *capvi_pg_make_location(const char *url, bool *parsed, char **password);

#endif
