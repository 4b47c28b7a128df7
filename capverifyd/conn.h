/* SPDX-License-Identifier: Apache-2.0 */
/* Connection deadlines (docs/hardening.md): every connection of both listeners is tracked
 * from accept to close with the phase it is in and the time by which that phase must end.
 * Until its first request head has arrived a connection is known only by its socket, which
 * the watchdog finds on a listening port within a quarter of a second of the accept; that
 * head must arrive within request_timeout_ms of it. A watchdog thread cuts connections that
 * miss their deadline, or send a body slower than server.min_body_bytes_per_second, by
 * shutting their socket down: the worker blocked in a read or write returns at once, so no
 * client can hold a worker longer than its deadline. Under pressure (the API's workers
 * nearly all busy) connections idle between requests or sending a later request's head are
 * cut after a short grace. */
#ifndef CAPVD_CONN_H
#define CAPVD_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <civetweb.h>

typedef enum conn_phase {
    PHASE_HEAD,    /* waiting for or reading a request head (also keep-alive idle) */
    PHASE_HANDLER, /* a handler is working: no deadline of the client's */
    PHASE_BODY,    /* reading a request body */
    PHASE_WRITE    /* writing a response */
} conn_phase;

typedef enum cut_reason {
    CUT_NONE,
    CUT_HEAD_TIMEOUT,
    CUT_BODY_TIMEOUT,
    CUT_BODY_SLOW,
    CUT_WRITE_TIMEOUT,
    CUT_PRESSURE,
    CUT_REASON_COUNT
} cut_reason;

typedef struct conn_state conn_state;

typedef struct conn_limits {
    int64_t request_timeout_ms; /* head + body of one request */
    int64_t keep_alive_ms;      /* idle time between requests */
    int64_t min_body_rate;      /* bytes per second after the first second, 0 = off */
    int64_t api_threads;        /* the API listener's workers, for the pressure rule */
} conn_limits;

/* CivetWeb's own request_timeout_ms is ours plus this: the watchdog, which counts and logs
 * its cuts, ends a late first head (docs/hardening.md). That option also bounds each wait
 * of a body read or a write (restarting whenever a byte moves) and a TLS handshake: the
 * watchdog's deadlines on those are as short or shorter. The watchdog cuts a first head up
 * to two stray scans (0.5 s) after its deadline. */
#define CONN_CIVETWEB_TIMEOUT_SLACK_MS 1000

/* Starts the watchdog thread. */
bool conn_watch_start(const conn_limits *limits);
/* Stops it; connections still open are left to CivetWeb. */
void conn_watch_stop(void);
/* A port a listener accepts connections on (both listeners, once each started; `admin` says
 * which): its sockets that no request has claimed are timed from their accept. */
void conn_watch_port(int port, bool admin);

/* Remembers the API listener's listening sockets: called once it has started and before
 * the admin listener starts, so that every listening socket on an API port is its own (the
 * admin listener may use the same port number on another address). */
void conn_api_listening(void);
/* How many listening sockets conn_stop_accepting can close (0 without /proc). */
int conn_api_listeners(void);
/* A SIGTERM (docs/hardening.md, "Shutdown"): connections between requests remember what they
 * have received, now and whenever a request ends from now on, so that conn_api_busy sees a
 * next request whose head CivetWeb has begun to read. */
void conn_drain_begin(void);
/* The drain after the grace period. The API listener stops accepting connections: each of
 * its listening sockets is shut down, so the kernel refuses new connections, and CivetWeb's
 * accept loop is handed a descriptor that never becomes readable in its place; the accepted
 * connections are served to their end. Returns how many listening sockets were closed. */
int conn_stop_accepting(void);
/* API connections that hold a request: in a handler, reading a body or writing an answer;
 * between requests with the next one begun (bytes waiting, or received since it went idle);
 * or accepted and not yet claimed by a request with bytes received. Idle connections and
 * ones on which nothing has arrived are not counted: closing them loses nothing. */
int64_t conn_api_busy(void);

/* CivetWeb init_connection / connection_close callbacks (both listeners). `admin` says
 * which listener the connection belongs to. */
conn_state *conn_open(const struct mg_connection *conn, bool admin);
void conn_close(conn_state *c);

/* The connection's state (NULL when it is not tracked). */
conn_state *conn_of(const struct mg_connection *conn);

/* A request head arrived (`ri` is its request info): the phase becomes PHASE_HANDLER. On
 * the connection's first request (or a later one, while it is not found) this finds its
 * socket. The request's deadline runs from the start of its head. */
void conn_request_begin(conn_state *c, const struct mg_request_info *ri);
/* The request ended (its answer was written): the connection idles in PHASE_HEAD. */
void conn_request_end(conn_state *c);

/* A body is read in pieces of at most this many bytes; its progress is known to that
 * precision, and the rate rule allows for it. */
#define CONN_BODY_READ_CHUNK 4096

/* Body reading: `declared` is the Content-Length (-1 for chunked). */
void conn_body_begin(conn_state *c, int64_t declared);
void conn_body_progress(conn_state *c, uint64_t total_received);
void conn_body_end(conn_state *c);

/* Response writing, bounded by request_timeout_ms from here. */
void conn_write_begin(conn_state *c);
void conn_write_end(conn_state *c);

/* After an answer that left the request body unread, before CivetWeb closes the
 * connection: half-closes it and takes in the client's remaining bytes for at most 0.5 s
 * or 256 KiB, so the close does not reset the connection before the client has read the
 * answer (docs/hardening.md). The unread body is never read as such. */
void conn_linger(conn_state *c);

/* Why the watchdog cut this connection (CUT_NONE when it did not). */
cut_reason conn_cut_reason(const conn_state *c);
const char *cut_reason_name(cut_reason r);

/* Connections open now on the API listener, and how many of those a handler works on. */
void conn_counts(int64_t *open, int64_t *busy);
/* Connections cut by reason since start. */
uint64_t conn_cut_total(cut_reason r);

#endif
