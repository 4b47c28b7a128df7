/* SPDX-License-Identifier: Apache-2.0 */
/* Connection deadlines and the watchdog that enforces them (docs/hardening.md).
 *
 * CivetWeb serves each connection on one worker thread and gives its handlers no socket:
 * its own timeouts restart whenever a byte moves, so a client trickling a body or reading
 * a response a few bytes at a time keeps a worker for as long as it likes. We find the
 * connection's socket once, when its first request head has arrived (the one whose peer
 * and local ports match the connection's: CivetWeb tells a connection's addresses only from
 * then on), and cut it with shutdown(2) when it misses a deadline: the worker's
 * blocked recv/send/poll returns at once and CivetWeb closes the connection. A cut body
 * read (SHUT_RD) still lets the handler answer 408 before the close.
 *
 * Before its first head has arrived a connection is known only as a socket on one of our
 * listening ports that no request has claimed (a "stray"): it waits for a worker, or a
 * worker waits for its head. The watchdog lists the process's descriptors every
 * STRAY_SCAN_MS, times each stray from the scan that first saw it, and cuts it when
 * request_timeout_ms has passed: CivetWeb's own limit on that head starts only when a
 * worker takes the connection and is checked only when a byte arrives. Under pressure a
 * stray whose received bytes a worker has taken in (or that sent none) is cut after
 * PRESSURE_GRACE_MS: one queued for a worker has its bytes waiting in the kernel. */
#include "conn.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WATCH_INTERVAL_MS 100
/* How often the descriptors are listed for strays: a first head's deadline is kept to this. */
#define STRAY_SCAN_MS 250
/* Listening ports of the two listeners (each may listen on IPv4 and IPv6). */
#define MAX_LISTEN_PORTS 8
/* Under pressure a connection idle between requests or sending a request's head keeps its
 * worker this long at most. */
#define PRESSURE_GRACE_MS 1000
/* The pressure rule starts when this share (per mille) of the API workers hold a
 * connection. */
#define PRESSURE_PERMILLE 900
/* After an answer that left a request body unread: how long, and how many bytes, the
 * client's remaining bytes are taken in before the connection closes. */
#define LINGER_MS 500
#define LINGER_MAX_BYTES (256u << 10)

/* A listening socket, known by its inode too: the descriptor's number alone could be
 * another file's by the time it is used. */
typedef struct listener_fd {
    int fd;
    dev_t dev;
    ino_t ino;
} listener_fd;

/* A socket on one of our listening ports that no request has claimed yet. */
typedef struct stray {
    int fd;
    int peer_port, local_port;    /* with fd and peer, tells one connection from a later one */
    struct sockaddr_storage peer; /* (a later one may come from another address, same port) */
    int64_t seen;                 /* the scan that first saw it (monotonic ms) */
    bool drained;                 /* the last scan found no unread bytes (under pressure) */
    cut_reason cut;
} stray;

struct conn_state {
    conn_state *prev, *next;
    const struct mg_connection *mg;
    int fd; /* -1 when the socket was not found: deadlines then rest on CivetWeb's own */
    bool admin;
    conn_phase phase;
    int64_t phase_start; /* monotonic ms */
    int64_t deadline;    /* 0 = none */
    int64_t head_start;  /* when the current request's head started */
    bool first_request;
    int64_t body_start;
    int64_t declared;
    _Atomic uint64_t received;
    _Atomic int cut; /* cut_reason */
    int64_t idle_rx; /* while draining: the bytes it had received when it went idle; -1 */
};

static struct {
    pthread_mutex_t lock;
    conn_state *head;
    bool *fd_used; /* sockets of tracked connections: skipped by the scan */
    size_t fd_cap;
    conn_limits limits;
    pthread_t thread;
    bool running;
    pthread_cond_t wake;
    atomic_uint_fast64_t cuts[CUT_REASON_COUNT];
    int64_t api_open, api_busy;
    int ports[MAX_LISTEN_PORTS];
    bool port_admin[MAX_LISTEN_PORTS];
    int nports;
    listener_fd listeners[MAX_LISTEN_PORTS]; /* the API listener's listening sockets */
    int nlisteners;
    int never_ready;      /* an eventfd never written: stands in for closed listeners */
    atomic_bool draining; /* connections between requests remember what they had received */
    bool pressure;        /* the last sweep found the API workers under pressure */
    stray *strays;        /* sorted by fd */
    size_t nstrays;
} w = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .never_ready = -1 };

/* The coarse clock (the kernel's tick, 4 ms here): deadlines of whole seconds and a watchdog
 * that looks every WATCH_INTERVAL_MS need no finer one, and a request reads it about eight
 * times, each at a quarter of the precise clock's cost (5 ns against 23 ns here). */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *cut_reason_name(cut_reason r)
{
    static const char *const names[CUT_REASON_COUNT] = {
        "none", "head_timeout", "body_timeout", "body_too_slow", "write_timeout", "pressure",
    };
    return r < CUT_REASON_COUNT ? names[r] : "none";
}

/* ---- finding the socket ------------------------------------------------------------------ */

static bool fd_is_used(int fd)
{
    return (size_t)fd < w.fd_cap && w.fd_used[fd];
}

static void fd_mark(int fd, bool used)
{
    if (fd < 0)
        return;
    if ((size_t)fd >= w.fd_cap) {
        if (!used)
            return;
        size_t cap = w.fd_cap ? w.fd_cap : 256;
        while (cap <= (size_t)fd)
            cap *= 2;
        bool *n = realloc(w.fd_used, cap * sizeof *n);
        if (n == NULL)
            return; /* the fd is merely scanned again later: correct, only slower */
        memset(n + w.fd_cap, 0, (cap - w.fd_cap) * sizeof *n);
        w.fd_used = n;
        w.fd_cap = cap;
    }
    w.fd_used[fd] = used;
}

static int port_of(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return -1;
}

/* Whether `port` is one the API listener accepts on. */
static bool api_port(int port)
{
    for (int i = 0; i < w.nports; i++)
        if (w.ports[i] == port && !w.port_admin[i])
            return true;
    return false;
}

/* The process's open descriptors above stderr, listed from /proc/self/fd: complete, and as
 * long as the list, whatever the descriptor limit. */
typedef struct fd_iter {
    DIR *dir;
    int self;
} fd_iter;

static bool fd_iter_open(fd_iter *it)
{
    it->dir = opendir("/proc/self/fd");
    it->self = it->dir != NULL ? dirfd(it->dir) : -1;
    return it->dir != NULL;
}

/* The next descriptor, -1 at the end. */
static int fd_iter_next(fd_iter *it)
{
    struct dirent *e;
    while ((e = readdir(it->dir)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (end != e->d_name && *end == '\0' && fd > 2 && fd != it->self && fd <= INT_MAX)
            return (int)fd;
    }
    return -1;
}

static void fd_iter_close(fd_iter *it)
{
    closedir(it->dir);
}

/* A connected TCP socket's local and peer ports (and the peer's address when `peer` is not
 * NULL); false for anything else. */
static bool socket_ports(int fd, int *local_port, int *peer_port, struct sockaddr_storage *peer)
{
    struct sockaddr_storage local, p;
    socklen_t ll = sizeof local, pl = sizeof p;
    if (getsockname(fd, (struct sockaddr *)&local, &ll) != 0 ||
        getpeername(fd, (struct sockaddr *)&p, &pl) != 0)
        return false;
    *local_port = port_of(&local);
    *peer_port = port_of(&p);
    if (peer != NULL)
        *peer = p;
    return *local_port >= 0 && *peer_port >= 0;
}

/* Whether two peer addresses are the same address (their ports are compared apart). */
static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                      &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr)) == 0;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
    return false;
}

/* Whether a socket with these ports and peer address is the connection of `ri`. */
static bool is_connection(const struct mg_request_info *ri, int local_port, int peer_port,
                          const struct sockaddr_storage *peer)
{
    if (peer_port != ri->remote_port || local_port != ri->server_port)
        return false;
    char text[INET6_ADDRSTRLEN] = "";
    const void *a = peer->ss_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)peer)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)peer)->sin6_addr;
    /* CivetWeb's text of a link-local IPv6 peer ends in "%<interface>" */
    if (inet_ntop(peer->ss_family, a, text, sizeof text) != NULL) {
        size_t tl = strlen(text);
        if (strncmp(text, ri->remote_addr, tl) != 0 ||
            (ri->remote_addr[tl] != '\0' && ri->remote_addr[tl] != '%'))
            return false;
    }
    return true;
}

/* The socket of an accepted connection: the one whose peer and local ports, and peer
 * address, are the connection's (the 4-tuple of a TCP connection is unique). Sockets of
 * connections we already track are skipped, so the scan touches only the few other
 * descriptors. -1 when it is not found (no /proc). */
static int find_socket(const struct mg_request_info *ri)
{
    fd_iter it;
    if (!fd_iter_open(&it))
        return -1;
    int found = -1;
    for (int fd; found < 0 && (fd = fd_iter_next(&it)) >= 0;) {
        struct sockaddr_storage peer;
        int local_port, peer_port;
        if (!fd_is_used(fd) && socket_ports(fd, &local_port, &peer_port, &peer) &&
            is_connection(ri, local_port, peer_port, &peer))
            found = fd;
    }
    fd_iter_close(&it);
    return found;
}

/* ---- the table --------------------------------------------------------------------------- */

conn_state *conn_open(const struct mg_connection *conn, bool admin)
{
    conn_state *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    int64_t now = mono_ms();
    c->mg = conn;
    c->fd = -1;
    c->admin = admin;
    c->phase = PHASE_HEAD;
    c->phase_start = c->head_start = now;
    c->first_request = true;
    c->idle_rx = -1;
    c->deadline = now + w.limits.request_timeout_ms;
    pthread_mutex_lock(&w.lock);
    c->next = w.head;
    if (w.head != NULL)
        w.head->prev = c;
    w.head = c;
    pthread_mutex_unlock(&w.lock);
    return c;
}

void conn_close(conn_state *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&w.lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w.head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    fd_mark(c->fd, false);
    pthread_mutex_unlock(&w.lock);
    free(c);
}

conn_state *conn_of(const struct mg_connection *conn)
{
    return mg_get_user_connection_data(conn);
}

static void set_phase(conn_state *c, conn_phase p, int64_t deadline)
{
    pthread_mutex_lock(&w.lock);
    c->phase = p;
    c->phase_start = mono_ms();
    c->deadline = deadline;
    pthread_mutex_unlock(&w.lock);
}

void conn_request_begin(conn_state *c, const struct mg_request_info *ri)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&w.lock);
    if (c->fd < 0) { /* the first request; a later one only when the listing failed */
        c->fd = find_socket(ri);
        fd_mark(c->fd, true);
    }
    int64_t now = mono_ms();
    /* A connection's first request is timed from its accept; a later one from the end of
     * its head (its head was bounded by keep_alive_ms, and the idle time before it is not
     * the request's). */
    c->head_start = c->first_request ? c->head_start : now;
    c->first_request = false;
    c->phase = PHASE_HANDLER;
    c->phase_start = now;
    c->deadline = 0;
    pthread_mutex_unlock(&w.lock);
}

/* How many bytes have arrived on a socket since it was accepted; -1 when unknown. */
static int64_t bytes_received(int fd)
{
    struct tcp_info ti;
    socklen_t l = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) != 0 ||
        l < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
        return -1;
    return ti.tcpi_bytes_received > INT64_MAX ? INT64_MAX : (int64_t)ti.tcpi_bytes_received;
}

void conn_request_end(conn_state *c)
{
    if (c == NULL)
        return;
    /* while draining, what arrives after this is the next request (conn_api_busy) */
    int64_t rx = atomic_load(&w.draining) && c->fd >= 0 ? bytes_received(c->fd) : -1;
    int64_t now = mono_ms();
    pthread_mutex_lock(&w.lock);
    c->phase = PHASE_HEAD;
    c->phase_start = now;
    /* CivetWeb drops a keep-alive connection whose next head is not complete within
     * keep_alive_ms; the watchdog is the backstop when its poll overshoots. */
    c->deadline = now + w.limits.keep_alive_ms + 500;
    c->idle_rx = rx;
    pthread_mutex_unlock(&w.lock);
}

void conn_body_begin(conn_state *c, int64_t declared)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&w.lock);
    c->phase = PHASE_BODY;
    c->phase_start = c->body_start = mono_ms();
    c->declared = declared;
    atomic_store(&c->received, 0);
    c->deadline = c->head_start + w.limits.request_timeout_ms;
    pthread_mutex_unlock(&w.lock);
}

void conn_body_progress(conn_state *c, uint64_t total_received)
{
    if (c != NULL)
        atomic_store(&c->received, total_received);
}

void conn_body_end(conn_state *c)
{
    if (c != NULL)
        set_phase(c, PHASE_HANDLER, 0);
}

void conn_write_begin(conn_state *c)
{
    if (c != NULL)
        set_phase(c, PHASE_WRITE, mono_ms() + w.limits.request_timeout_ms);
}

void conn_write_end(conn_state *c)
{
    if (c != NULL)
        set_phase(c, PHASE_HANDLER, 0);
}

void conn_linger(conn_state *c)
{
    if (c == NULL || c->fd < 0 || atomic_load(&c->cut) != CUT_NONE)
        return;
    /* our answer is written: send FIN after it, then take in what the client is still
     * sending for a moment, so closing with unread bytes does not reset the connection
     * (and with it the answer) before the client has read it */
    shutdown(c->fd, SHUT_WR);
    int64_t until = mono_ms() + LINGER_MS;
    size_t taken = 0;
    char buf[4096];
    while (taken < LINGER_MAX_BYTES) {
        int64_t left = until - mono_ms();
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0)
            break;
        taken += (size_t)n;
    }
}

cut_reason conn_cut_reason(const conn_state *c)
{
    if (c == NULL)
        return CUT_NONE;
    cut_reason r = (cut_reason)atomic_load(&((conn_state *)c)->cut);
    /* No request has claimed the socket (CivetWeb answers a first head it could not read):
     * the watchdog may have cut it as a stray. */
    const struct mg_request_info *ri =
        r == CUT_NONE && c->fd < 0 ? mg_get_request_info(c->mg) : NULL;
    if (ri == NULL)
        return r;
    pthread_mutex_lock(&w.lock);
    for (size_t i = 0; i < w.nstrays && r == CUT_NONE; i++) {
        const stray *s = &w.strays[i];
        if (s->cut != CUT_NONE && is_connection(ri, s->local_port, s->peer_port, &s->peer))
            r = s->cut;
    }
    pthread_mutex_unlock(&w.lock);
    return r;
}

void conn_counts(int64_t *open, int64_t *busy)
{
    pthread_mutex_lock(&w.lock);
    *open = w.api_open;
    *busy = w.api_busy;
    pthread_mutex_unlock(&w.lock);
}

uint64_t conn_cut_total(cut_reason r)
{
    return r < CUT_REASON_COUNT ? atomic_load(&w.cuts[r]) : 0;
}

/* ---- the watchdog ------------------------------------------------------------------------ */

/* Called with the lock held. A body cut shuts only the reading side: the handler sees the
 * end of its body and still answers 408; every other cut ends the connection. */
static void cut(conn_state *c, cut_reason why)
{
    if (c->fd < 0 || atomic_load(&c->cut) != CUT_NONE)
        return;
    atomic_store(&c->cut, (int)why);
    atomic_fetch_add(&w.cuts[why], 1);
    bool body = why == CUT_BODY_TIMEOUT || why == CUT_BODY_SLOW;
    shutdown(c->fd, body ? SHUT_RD : SHUT_RDWR);
}

static void sweep(void)
{
    int64_t now = mono_ms();
    int64_t open = 0, busy = 0;
    pthread_mutex_lock(&w.lock);
    for (conn_state *c = w.head; c != NULL; c = c->next)
        if (!c->admin) {
            open++;
            busy += c->phase != PHASE_HEAD;
        }
    w.api_open = open;
    w.api_busy = busy;
    bool pressure =
        w.limits.api_threads > 0 && open * 1000 >= w.limits.api_threads * PRESSURE_PERMILLE;
    w.pressure = pressure;
    for (conn_state *c = w.head; c != NULL; c = c->next) {
        if (atomic_load(&c->cut) != CUT_NONE)
            continue;
        switch (c->phase) {
        case PHASE_HEAD:
            if (c->deadline > 0 && now > c->deadline)
                cut(c, CUT_HEAD_TIMEOUT);
            else if (pressure && !c->admin && now - c->phase_start > PRESSURE_GRACE_MS)
                cut(c, CUT_PRESSURE); /* a first head has no socket yet: scan_strays */
            break;
        case PHASE_BODY: {
            if (now > c->deadline) {
                cut(c, CUT_BODY_TIMEOUT);
                break;
            }
            int64_t after = now - c->body_start - 1000;
            uint64_t got = atomic_load(&c->received);
            if (w.limits.min_body_rate > 0 && after > 0 &&
                (c->declared < 0 || got < (uint64_t)c->declared) &&
                got + CONN_BODY_READ_CHUNK < (uint64_t)(w.limits.min_body_rate * after / 1000))
                cut(c, CUT_BODY_SLOW);
            break;
        }
        case PHASE_WRITE:
            if (now > c->deadline)
                cut(c, CUT_WRITE_TIMEOUT);
            break;
        case PHASE_HANDLER: break;
        }
    }
    pthread_mutex_unlock(&w.lock);
}

static int stray_order(const void *a, const void *b)
{
    int x = ((const stray *)a)->fd, y = ((const stray *)b)->fd;
    return (x > y) - (x < y);
}

/* Whether the stray's descriptor is still its socket. */
static bool stray_socket(const stray *s)
{
    int local_port, peer_port;
    struct sockaddr_storage peer;
    return socket_ports(s->fd, &local_port, &peer_port, &peer) && local_port == s->local_port &&
           peer_port == s->peer_port && same_address(&peer, &s->peer);
}

/* Lists the strays, carries over when each was first seen, and cuts those that have waited
 * request_timeout_ms for their first head. Under pressure an API stray seen more than
 * PRESSURE_GRACE_MS ago is cut too when two scans in a row found no unread bytes on it: a
 * worker has taken in what it sent, or it sent nothing; one queued for a worker keeps its
 * bytes in the kernel until a worker takes it. (Two scans: a worker that has just read a
 * complete head claims the socket well within one.) The descriptors are read without the
 * lock; a socket a request claimed meanwhile is marked used by the time the lock is taken. */
static void scan_strays(int64_t now)
{
    int ports[MAX_LISTEN_PORTS];
    pthread_mutex_lock(&w.lock);
    int nports = w.nports;
    memcpy(ports, w.ports, sizeof ports);
    pthread_mutex_unlock(&w.lock);
    fd_iter it;
    if (nports == 0 || !fd_iter_open(&it))
        return;
    stray *found = NULL;
    size_t n = 0, cap = 0;
    for (int fd; (fd = fd_iter_next(&it)) >= 0;) {
        int local_port, peer_port, i = 0;
        struct sockaddr_storage peer;
        if (!socket_ports(fd, &local_port, &peer_port, &peer))
            continue;
        while (i < nports && ports[i] != local_port)
            i++;
        if (i == nports)
            continue; /* not accepted by us: a database, an IdP, a timestamp authority */
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            stray *g = realloc(found, ncap * sizeof *g);
            if (g == NULL)
                break; /* the rest are listed again at the next scan */
            found = g;
            cap = ncap;
        }
        found[n++] = (stray){
            .fd = fd, .peer_port = peer_port, .local_port = local_port, .peer = peer, .seen = now
        };
    }
    fd_iter_close(&it);
    if (n > 1)
        qsort(found, n, sizeof *found, stray_order);
    pthread_mutex_lock(&w.lock);
    bool pressure = w.pressure;
    size_t kept = 0, j = 0;
    for (size_t i = 0; i < n; i++) {
        stray s = found[i];
        if (fd_is_used(s.fd))
            continue; /* a request claimed it */
        while (j < w.nstrays && w.strays[j].fd < s.fd)
            j++;
        if (j < w.nstrays && w.strays[j].fd == s.fd && w.strays[j].peer_port == s.peer_port &&
            w.strays[j].local_port == s.local_port && same_address(&w.strays[j].peer, &s.peer)) {
            s.seen = w.strays[j].seen;
            s.cut = w.strays[j].cut;
            s.drained = w.strays[j].drained;
        }
        if (s.cut != CUT_NONE) {
            found[kept++] = s;
            continue;
        }
        int unread = -1;
        bool drained = pressure && api_port(s.local_port) && ioctl(s.fd, FIONREAD, &unread) == 0 &&
                       unread == 0;
        cut_reason why = now - s.seen > w.limits.request_timeout_ms ? CUT_HEAD_TIMEOUT
                         : drained && s.drained && now - s.seen > PRESSURE_GRACE_MS ? CUT_PRESSURE
                                                                                    : CUT_NONE;
        s.drained = drained;
        if (why != CUT_NONE && stray_socket(&s)) {
            s.cut = why;
            atomic_fetch_add(&w.cuts[why], 1);
            shutdown(s.fd, SHUT_RDWR);
        }
        found[kept++] = s;
    }
    free(w.strays);
    w.strays = found;
    w.nstrays = kept;
    pthread_mutex_unlock(&w.lock);
}

static void *watch_main(void *arg)
{
    (void)arg;
    int64_t next_scan = 0;
    pthread_mutex_lock(&w.lock);
    while (w.running) {
        struct timespec until;
        /* monotonic: a step back of the wall clock must not stop the sweeps */
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += WATCH_INTERVAL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_clockwait(&w.wake, &w.lock, CLOCK_MONOTONIC, &until);
        if (!w.running)
            break;
        pthread_mutex_unlock(&w.lock);
        sweep();
        int64_t now = mono_ms();
        if (now >= next_scan) {
            scan_strays(now);
            next_scan = now + STRAY_SCAN_MS;
        }
        pthread_mutex_lock(&w.lock);
    }
    pthread_mutex_unlock(&w.lock);
    return NULL;
}

bool conn_watch_start(const conn_limits *limits)
{
    w.limits = *limits;
    w.running = true;
    if (pthread_create(&w.thread, NULL, watch_main, NULL) != 0) {
        w.running = false;
        return false;
    }
    return true;
}

void conn_watch_stop(void)
{
    pthread_mutex_lock(&w.lock);
    bool was = w.running;
    w.running = false;
    pthread_cond_signal(&w.wake);
    pthread_mutex_unlock(&w.lock);
    if (was)
        pthread_join(w.thread, NULL);
    free(w.strays);
    w.strays = NULL;
    w.nstrays = 0;
    w.nports = 0;
    w.nlisteners = 0;
    if (w.never_ready >= 0) {
        close(w.never_ready);
        w.never_ready = -1;
    }
}

void conn_watch_port(int port, bool admin)
{
    pthread_mutex_lock(&w.lock);
    if (w.nports < MAX_LISTEN_PORTS) {
        w.ports[w.nports] = port;
        w.port_admin[w.nports++] = admin;
    }
    pthread_mutex_unlock(&w.lock);
}

/* ---- the drain --------------------------------------------------------------------------- */

void conn_api_listening(void)
{
    fd_iter it;
    if (!fd_iter_open(&it))
        return;
    pthread_mutex_lock(&w.lock);
    /* made now, not when the drain needs it, when descriptors may have run out */
    if (w.never_ready < 0)
        w.never_ready = eventfd(0, EFD_CLOEXEC);
    for (int fd; (fd = fd_iter_next(&it)) >= 0 && w.nlisteners < MAX_LISTEN_PORTS;) {
        int listening = 0;
        socklen_t l = sizeof listening;
        struct sockaddr_storage local;
        socklen_t ll = sizeof local;
        struct stat st;
        if (fd != w.never_ready && getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) == 0 &&
            listening && getsockname(fd, (struct sockaddr *)&local, &ll) == 0 &&
            api_port(port_of(&local)) && fstat(fd, &st) == 0)
            w.listeners[w.nlisteners++] = (listener_fd){ fd, st.st_dev, st.st_ino };
    }
    pthread_mutex_unlock(&w.lock);
    fd_iter_close(&it);
}

int conn_api_listeners(void)
{
    pthread_mutex_lock(&w.lock);
    int n = w.never_ready >= 0 ? w.nlisteners : 0;
    pthread_mutex_unlock(&w.lock);
    return n;
}

int conn_stop_accepting(void)
{
    int replaced = 0;
    pthread_mutex_lock(&w.lock);
    for (int i = 0; w.never_ready >= 0 && i < w.nlisteners; i++) {
        const listener_fd *f = &w.listeners[i];
        struct stat st;
        if (fstat(f->fd, &st) != 0 || st.st_dev != f->dev || st.st_ino != f->ino)
            continue; /* not that socket any more (replaced already) */
        int sock = fcntl(f->fd, F_DUPFD_CLOEXEC, 3);
        if (sock < 0)
            continue;
        /* CivetWeb's accept loop polls this descriptor number: it now polls the eventfd,
         * which never becomes readable, and closes it in mg_stop. The socket itself is shut
         * down (a poll in progress still holds it): the kernel refuses new connections at
         * once, and that poll returns, its accept failing on the eventfd. */
        if (dup3(w.never_ready, f->fd, O_CLOEXEC) == f->fd) {
            shutdown(sock, SHUT_RDWR);
            replaced++;
        }
        close(sock);
    }
    pthread_mutex_unlock(&w.lock);
    return replaced;
}

void conn_drain_begin(void)
{
    pthread_mutex_lock(&w.lock);
    atomic_store(&w.draining, true);
    for (conn_state *c = w.head; c != NULL; c = c->next)
        if (c->phase == PHASE_HEAD && !c->first_request && c->fd >= 0)
            c->idle_rx = bytes_received(c->fd);
    pthread_mutex_unlock(&w.lock);
}

/* Whether bytes wait to be read on a socket (a request has begun on an idle connection). */
static bool bytes_waiting(int fd)
{
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0;
}

int64_t conn_api_busy(void)
{
    int64_t busy = 0;
    /* Sockets no request has claimed first (waiting for a worker, or a worker waits for
     * their first head): one that has received bytes holds a request in its head. A socket
     * claimed meanwhile is found in the table below, which is read after. */
    fd_iter it;
    if (fd_iter_open(&it)) {
        for (int fd; (fd = fd_iter_next(&it)) >= 0;) {
            int local_port, peer_port;
            if (!socket_ports(fd, &local_port, &peer_port, NULL))
                continue;
            pthread_mutex_lock(&w.lock);
            bool unclaimed = api_port(local_port) && !fd_is_used(fd);
            pthread_mutex_unlock(&w.lock);
            if (unclaimed && bytes_received(fd) != 0) /* unknown counts as busy */
                busy++;
        }
        fd_iter_close(&it);
    }
    pthread_mutex_lock(&w.lock);
    for (conn_state *c = w.head; c != NULL; c = c->next) {
        if (c->admin || c->first_request) /* a first request: its socket was counted above */
            continue;
        /* between requests: the next one has begun when bytes wait, or when more have
         * arrived than when it went idle (CivetWeb may have read part of a head) */
        if (c->phase != PHASE_HEAD ||
            (c->fd >= 0 &&
             (bytes_waiting(c->fd) || (c->idle_rx >= 0 && bytes_received(c->fd) > c->idle_rx))))
            busy++;
    }
    pthread_mutex_unlock(&w.lock);
    return busy;
}
