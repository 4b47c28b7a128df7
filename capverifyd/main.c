/* capverifyd: the CAP verification service (docs/architecture.md, docs/runbook.md). A thin
 * front-end over libcapverify: configuration, lifecycle and signals here; HTTP in server.c;
 * routes in handlers.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"

#define DEFAULT_CONFIG_DIR "/etc/cap-verifier"
#define REGISTRY_READERS_MAX 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: capverifyd [--config-dir DIR] [--set section.key=value]... [--check-config]\n"
            "                  [--print-config] [--print-config-reference] [--version]\n\n"
            "Serves CAP package verification over HTTP. Configuration: YAML files in DIR\n"
            "(default " DEFAULT_CONFIG_DIR ", optional), then CAPV_<SECTION>_<KEY>\n"
            "environment variables, then --set flags. docs/configuration.md lists every key.\n\n"
            "  --check-config            check the configuration as a start would (files,\n"
            "                            addresses, keys that need each other) and exit\n"
            "  --print-config            print the effective configuration as YAML (secrets\n"
            "                            redacted, derived values as comments) and exit\n"
            "                            without starting; with --check-config, check it too\n"
            "  --print-config-reference  print docs/configuration.md\n\n"
            "Signals: TERM drains and exits, HUP reloads TLS certificate, trust store and\n"
            "policies, USR1 / USR2 make the log more / less verbose.\n\n"
            "Exit status: 0 clean shutdown (or configuration ok), 1 requests were still running\n"
            "when shutdown.timeout_seconds ended, 3 configuration error, 5 registry or listener\n"
            "unavailable, 6 internal error.\n");
}

static capv_verify_options *make_options(const capvd_config *c, capv_package_limits **limits)
{
    capv_verify_options *o = NULL;
    if (capv_verify_options_new(&o, NULL) != CAPV_OK)
        return NULL;
    capv_verify_options_set(o, CAPV_OPT_REQUIRE_SIGNATURE, c->verify_require_signature, NULL);
    capv_verify_options_set(o, CAPV_OPT_REQUIRE_TIMESTAMP, c->verify_require_timestamp, NULL);
    capv_verify_options_set(o, CAPV_OPT_CHECK_REGISTRY, c->verify_check_registry, NULL);
    capv_verify_options_set(o, CAPV_OPT_STRICT, c->verify_strict, NULL);
    capv_verify_options_set(o, CAPV_OPT_ALLOW_UNTRUSTED, c->verify_allow_untrusted, NULL);
    capv_verify_options_set_mock_policy(o,
                                        strcmp(c->verify_mock_policy, "fail") == 0 ? CAPV_MOCK_FAIL
                                        : strcmp(c->verify_mock_policy, "accept") == 0
                                            ? CAPV_MOCK_ACCEPT
                                            : CAPV_MOCK_WARN,
                                        NULL);
    if (capv_package_limits_new(limits, NULL) == CAPV_OK) {
        capv_package_limits_set(*limits, CAPV_LIMIT_ENTRIES, (uint64_t)c->verify_max_entries, NULL);
        capv_verify_options_set_limits(o, *limits, NULL);
    }
    return o;
}

/* Builds a verifier from the trust configuration. */
static capv_verifier *build_verifier(capvd *d, char *errbuf, size_t errlen)
{
    capv_verifier *v = NULL;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_verifier_new(&v, &err) != CAPV_OK)
        goto fail;
    if (*d->cfg.trust_dir && capv_verifier_load_trust(v, d->cfg.trust_dir, &err) != CAPV_OK)
        goto fail;
    if (*d->cfg.trust_policy_dir &&
        capv_verifier_load_policy_dir(v, d->cfg.trust_policy_dir, &err) != CAPV_OK)
        goto fail;
    if (*d->cfg.trust_tsa_ca_file &&
        capv_verifier_load_tsa_roots(v, d->cfg.trust_tsa_ca_file, &err) != CAPV_OK)
        goto fail;
    capv_verifier_set_registry(v, d->registry);
    capv_verifier_set_cache(v, d->cache);
    return v;
fail:
    snprintf(errbuf, errlen, "%s%s%s", err.field, err.field[0] ? ": " : "", err.message);
    capv_verifier_free(v);
    return NULL;
}

static int64_t now_ms(void)
{
    return capv_clock_system(NULL);
}

/* Creates the directory holding `path` (one level) when it is missing. */
static void make_parent_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0750);
    }
}

/* Opens the registry read-write with the writer thread (docs/registry.md): this process is
 * its only writer; a second one gets CAPV_E_BUSY from the registry's lock. The message names
 * the file and the library's reason, on one line. */
static capv_registry *open_registry(capvd *d, char *errbuf, size_t errlen)
{
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD;
    if (strcmp(d->cfg.registry_synchronous, "normal") == 0)
        o.flags |= CAPV_REGISTRY_SYNC_NORMAL;
    o.busy_timeout_ms = (int)d->cfg.registry_busy_timeout_ms;
    /* a quarter of the workers read at once at most; capv_registry_open takes up to 64 */
    int64_t readers = d->cfg.server_threads / 4 + 2;
    o.readers = (unsigned)(readers > REGISTRY_READERS_MAX ? REGISTRY_READERS_MAX : readers);
    make_parent_dir(d->cfg.registry_path);
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_open(&reg, d->cfg.registry_path, &o, &err);
    if (st != CAPV_OK) {
        snprintf(errbuf, errlen, "cannot open the registry %s: %s (%s)", d->cfg.registry_path,
                 err.message[0] ? err.message : capv_strerror(st), capv_status_name(st));
        for (char *p = errbuf; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        return NULL;
    }
    capv_registry_set_signing_key(reg, d->registry_key);
    /* the disk budget (docs/hardening.md): capped reports, records that expire */
    if (capv_registry_set_max_report_bytes(reg, (size_t)d->cfg.registry_max_report_bytes) !=
            CAPV_OK ||
        capv_registry_set_retention(reg, d->cfg.registry_verification_retention_days *
                                             86400LL * 1000) != CAPV_OK) {
        snprintf(errbuf, errlen, "registry.max_report_bytes or "
                                 "registry.verification_retention_days is out of range");
        capv_registry_close(reg);
        return NULL;
    }
    return reg;
}

static void *backup_thread(void *arg)
{
    capvd *d = arg;
    capv_backup_info *info = NULL;
    capv_error err = CAPV_ERROR_INIT;
    pthread_rwlock_rdlock(&d->lock);
    (void)daemon_backup(d, &info, &err);
    pthread_rwlock_unlock(&d->lock);
    capv_backup_info_free(info);
    return NULL;
}

capv_status daemon_backup(capvd *d, capv_backup_info **info, capv_error *err)
{
    if (pthread_mutex_trylock(&d->backup_lock) != 0) {
        if (err != NULL) {
            err->code = CAPV_E_BUSY;
            snprintf(err->message, sizeof err->message, "a backup is already running");
        }
        return CAPV_E_BUSY;
    }
    mkdir(d->cfg.backup_dir, 0750);
    int64_t start = now_ms();
    capv_status st = capv_registry_backup(info, d->registry, d->cfg.backup_dir,
                                          (unsigned)d->cfg.backup_retain, NULL, NULL, err);
    pthread_mutex_unlock(&d->backup_lock);
    metrics_backup(st == CAPV_OK, now_ms());
    capv_log_entry *e = capv_log_begin(d->log, st == CAPV_OK ? CAPV_LOG_INFO : CAPV_LOG_ERROR,
                                       "backup");
    capv_log_int(e, "duration_ms", now_ms() - start);
    if (st == CAPV_OK && *info != NULL) {
        capv_log_str(e, "path", (*info)->path);
        capv_log_int(e, "entries", (int64_t)(*info)->entries);
        capv_log_int(e, "size_bytes", (int64_t)(*info)->size_bytes);
    } else {
        capv_log_str(e, "error", capv_status_name(st));
    }
    capv_log_end(e, st == CAPV_OK ? "registry backup written" : "registry backup failed: %s",
                 err ? err->message : "");
    return st;
}

/* Unix ms of the newest complete backup in backup.dir, or 0. */
static int64_t newest_backup_ms(const capvd *d)
{
    capv_backup_list *list = NULL;
    int64_t ms = 0;
    if (capv_registry_backup_list(&list, d->cfg.backup_dir, NULL) == CAPV_OK &&
        capv_backup_list_count(list) > 0) {
        const char *at = capv_backup_list_get(list, 0)->created_at;
        if (capv_rfc3339_parse(&ms, at, strlen(at)) != 0)
            ms = 0;
    }
    capv_backup_list_free(list);
    return ms;
}

static void reload(capvd *d)
{
    char errbuf[512];
    auth_reload(d->auth);
    if (d->tls != NULL) {
        int r = tls_reload(d->tls, true, errbuf, sizeof errbuf);
        capv_log_entry *e = capv_log_begin(d->log, r < 0 ? CAPV_LOG_ERROR : CAPV_LOG_INFO,
                                           "tls_reload");
        capv_log_end(e, r < 0 ? "TLS certificate not reloaded, the old one stays: %s"
                              : "TLS certificate reloaded",
                     errbuf);
    }
    /* Everything is swapped under the write lock, which waits for in-flight requests: the
     * registry is reopened (a restore with --force replaced its file) and the verifier is
     * rebuilt around it. */
    pthread_rwlock_wrlock(&d->lock);
    capv_registry *old_reg = d->registry;
    capv_registry_close(old_reg); /* releases the writer lock so the file can be reopened */
    d->registry = open_registry(d, errbuf, sizeof errbuf);
    if (d->registry == NULL) {
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "registry_reload");
        capv_log_end(e, "registry not reopened: %s", errbuf);
    }
    capv_verifier *v = build_verifier(d, errbuf, sizeof errbuf);
    capv_verifier *old = NULL;
    if (v == NULL) {
        /* keep the old trust configuration, but never a dangling registry pointer */
        capv_verifier_set_registry(d->verifier, d->registry);
        capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_ERROR, "trust_reload");
        capv_log_end(e, "trust store / policies not reloaded, the old ones stay: %s", errbuf);
    } else {
        old = d->verifier;
        d->verifier = v;
    }
    d->generation++;
    pthread_rwlock_unlock(&d->lock);
    if (v == NULL)
        return;
    capv_verifier_free(old);
    capv_cache_invalidate_all(d->cache); /* no stale verdict survives a trust change */
    atomic_store(&d->trust_loaded, true);
    capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_INFO, "trust_reload");
    capv_log_int(e, "trusted_keys",
                 (int64_t)capv_trust_store_count(capv_verifier_trust_store(v)));
    capv_log_end(e, "trust store and policies reloaded");
}

static void on_evict(void *user, capv_evict_reason reason)
{
    capvd *d = user;
    static const char *const names[] = { "size", "ttl", "invalidated" };
    capv_log_entry *e = capv_log_begin(d->log, CAPV_LOG_DEBUG, "cache_evict");
    capv_log_str(e, "cache", "report");
    capv_log_str(e, "reason", names[reason]);
    capv_log_end(e, "cache entry evicted");
}

static char *read_text_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b != NULL && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b != NULL) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

/* How long stopping the listeners may take once in-flight requests are done or cut. */
#define STOP_TIMEOUT_SECONDS 5

/* Stops the listeners (run on its own thread, so the wait for it is bounded). */
static void *stopper(void *arg)
{
    server_stop(arg);
    return NULL;
}


int main(int argc, char **argv)
{
    const char *config_dir = DEFAULT_CONFIG_DIR;
    bool dir_given = false, check_only = false, print = false;
    char **sets = calloc((size_t)argc, sizeof *sets);
    int nsets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            free(sets);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("capverifyd %s (libcapverify %s, commit %s)\n", CAPV_VERSION_STRING,
                   capv_version_string(), capv_version_commit());
            free(sets);
            return 0;
        } else if (strcmp(a, "--print-config-reference") == 0) {
            capvd_config_print_reference();
            free(sets);
            return 0;
        } else if (strcmp(a, "--check-config") == 0) {
            check_only = true;
        } else if (strcmp(a, "--print-config") == 0) {
            print = true;
        } else if (strcmp(a, "--config-dir") == 0 && i + 1 < argc) {
            config_dir = argv[++i];
            dir_given = true;
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            sets[nsets++] = argv[++i];
        } else {
            fprintf(stderr, "capverifyd: unexpected argument '%s'\n", a);
            usage(stderr);
            free(sets);
            return 3;
        }
    }

    /* Signals are handled synchronously by the main thread only. Block them before any
     * thread exists (the JWKS refresher, CivetWeb's workers) so every thread inherits the
     * mask and no signal ever takes a default action on another thread. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    static capvd d;
    capvd_config_defaults(&d.cfg);
    char errbuf[4096];
    if (!capvd_config_load(&d.cfg, config_dir, dir_given, sets, nsets, errbuf, sizeof errbuf)) {
        fprintf(stderr, "capverifyd: configuration error: %s\n", errbuf);
        free(sets);
        capvd_config_free(&d.cfg);
        return 3;
    }
    free(sets);
    if (print) {
        capvd_config_print(&d.cfg);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "capverifyd: cannot write the configuration: %s\n",
                    strerror(errno));
            capvd_config_free(&d.cfg);
            return 6;
        }
        if (!check_only) { /* printing starts nothing: no logger, no registry, no listener */
            capvd_config_free(&d.cfg);
            return 0;
        }
    }
    /* The same checks for --check-config and a start: the two never disagree. */
    if (!capvd_config_check(&d.cfg, config_dir, errbuf, sizeof errbuf)) {
        for (char *line = errbuf; *line;) {
            size_t n = strcspn(line, "\n");
            fprintf(stderr, "capverifyd: configuration error: %.*s\n", (int)n, line);
            line += n + (line[n] == '\n');
        }
        capvd_config_free(&d.cfg);
        return 3;
    }

    capv_log_level level = CAPV_LOG_INFO;
    capv_log_level_parse(&level, d.cfg.logging_level);
    capv_error err = CAPV_ERROR_INIT;
    if (capv_global_init(&err) != CAPV_OK || capv_logger_new(&d.log, 1, level, &err) != CAPV_OK) {
        fprintf(stderr, "capverifyd: %s\n", err.message);
        return 6;
    }
    if (!auth_create(&d.auth, &d.cfg, !check_only, errbuf, sizeof errbuf)) {
        fprintf(stderr, "capverifyd: configuration error: %s\n", errbuf);
        return 3;
    }
    if (!tls_create(&d.tls, &d.cfg, errbuf, sizeof errbuf)) {
        fprintf(stderr, "capverifyd: configuration error: %s\n", errbuf);
        return 3;
    }
    if (*d.cfg.registry_signing_key_file &&
        capv_signing_key_load(&d.registry_key, d.cfg.registry_signing_key_file, &err) != CAPV_OK) {
        fprintf(stderr, "capverifyd: configuration error: registry.signing_key_file: %s\n",
                err.message);
        return 3;
    }
    d.verifier = build_verifier(&d, errbuf, sizeof errbuf);
    if (d.verifier == NULL) {
        fprintf(stderr, "capverifyd: configuration error: %s\n", errbuf);
        return 3;
    }
    if (check_only) {
        auth_free(d.auth);
        printf("configuration ok\n");
        return 0;
    }

    /* writer-preferring: a SIGHUP reload must not starve behind a stream of requests */
    pthread_rwlockattr_t rwattr;
    pthread_rwlockattr_init(&rwattr);
    pthread_rwlockattr_setkind_np(&rwattr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&d.lock, &rwattr);
    pthread_mutex_init(&d.backup_lock, NULL);
    d.opts = make_options(&d.cfg, &d.limits);
    if (d.cfg.cache_enabled) {
        if (capv_cache_new(&d.cache, (size_t)d.cfg.cache_size, (size_t)d.cfg.cache_max_bytes,
                           d.cfg.cache_ttl_seconds * 1000, &err) != CAPV_OK) {
            fprintf(stderr, "capverifyd: cache: %s\n", err.message);
            return 6;
        }
        capv_cache_set_evict_callback(d.cache, on_evict, &d);
    }
    d.registry = open_registry(&d, errbuf, sizeof errbuf);
    if (d.registry == NULL) {
        fprintf(stderr, "capverifyd: %s\n", errbuf);
        capv_log_entry *le = capv_log_begin(d.log, CAPV_LOG_ERROR, "startup_failed");
        capv_log_str(le, "registry", d.cfg.registry_path);
        capv_log_end(le, "%s", errbuf);
        return 5;
    }
    capv_verifier_set_registry(d.verifier, d.registry);
    capv_verifier_set_cache(d.verifier, d.cache);
    atomic_store(&d.trust_loaded, true);
    const char *api_doc = getenv("CAPVERIFYD_OPENAPI");
    d.openapi = read_text_file(api_doc ? api_doc : CAPVD_OPENAPI_PATH, &d.openapi_len);
    d.started_ms = now_ms();
    metrics_init(CAPV_VERSION_STRING, capv_version_commit());
    /* The backup age is continuous across restarts: it starts from the newest backup on
     * disk. The first scheduled backup is due one interval after it (or soon, if none). */
    int64_t last_backup = newest_backup_ms(&d);
    if (last_backup > 0)
        metrics_backup_seed(last_backup);
    int64_t interval_ms = d.cfg.backup_interval_seconds * 1000;
    int64_t next_backup = last_backup > 0 ? last_backup + interval_ms : now_ms() + 60000;


    if (!d.cfg.auth_enabled) {
        capv_log_entry *e = capv_log_begin(d.log, CAPV_LOG_WARN, "auth_disabled");
        capv_log_end(e, "AUTHENTICATION IS OFF: every client may call every route "
                        "(set auth.enabled=true in production)");
    }
    if (!*d.cfg.trust_dir) {
        capv_log_entry *e = capv_log_begin(d.log, CAPV_LOG_WARN, "trust_empty");
        capv_log_end(e, "no trust store configured (trust.dir): no signature can be trusted");
    }
    if (!server_start(&d, errbuf, sizeof errbuf)) {
        capv_log_entry *e = capv_log_begin(d.log, CAPV_LOG_ERROR, "startup_failed");
        capv_log_end(e, "%s", errbuf);
        return 5;
    }
    capv_log_entry *e = capv_log_begin(d.log, CAPV_LOG_INFO, "started");
    capv_log_str(e, "listen", d.cfg.server_listen);
    capv_log_str(e, "admin_listen", d.cfg.server_admin_listen);
    capv_log_bool(e, "tls", d.tls != NULL);
    capv_log_bool(e, "auth", d.cfg.auth_enabled);
    capv_log_str(e, "version", capv_version_string());
    capv_log_end(e, "capverifyd serving");

    int64_t drain_until = 0;
    for (;;) {
        struct timespec tick = { 1, 0 };
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            if (drain_until == 0) {
                atomic_store(&d.draining, true);
                drain_until = now_ms() + d.cfg.shutdown_grace_seconds * 1000;
                e = capv_log_begin(d.log, CAPV_LOG_INFO, "draining");
                capv_log_int(e, "grace_seconds", d.cfg.shutdown_grace_seconds);
                capv_log_end(e, "shutdown requested: not ready, still serving during the grace period");
            }
        } else if (sig == SIGHUP) {
            reload(&d);
        } else if (sig == SIGUSR1 || sig == SIGUSR2) {
            int lvl = (int)capv_logger_level(d.log) + (sig == SIGUSR1 ? -1 : 1);
            if (lvl >= CAPV_LOG_DEBUG && lvl <= CAPV_LOG_ERROR)
                capv_logger_set_level(d.log, (capv_log_level)lvl);
            e = capv_log_begin(d.log, CAPV_LOG_WARN, "log_level");
            /* not "level": that key is the line's own level (a duplicate key breaks parsers) */
            capv_log_str(e, "new_level", capv_log_level_name(capv_logger_level(d.log)));
            capv_log_end(e, "log level changed");
        } else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            break;
        }
        if (d.tls != NULL && drain_until == 0 &&
            tls_reload(d.tls, false, errbuf, sizeof errbuf) == 1) {
            e = capv_log_begin(d.log, CAPV_LOG_INFO, "tls_reload");
            capv_log_end(e, "TLS certificate file changed: reloaded");
        }
        if (interval_ms > 0 && drain_until == 0 && now_ms() >= next_backup) {
            next_backup = now_ms() + interval_ms;
            pthread_t bt;
            if (pthread_create(&bt, NULL, backup_thread, &d) == 0)
                pthread_detach(bt);
        }
        if (drain_until != 0 && now_ms() >= drain_until)
            break;
    }

    /* In-flight requests finish before the listeners stop (bounded by
     * shutdown.timeout_seconds): CivetWeb's mg_stop makes every read and write still in
     * progress fail at once, which would lose those requests. */
    int64_t drain_deadline = now_ms() + d.cfg.shutdown_timeout_seconds * 1000;
    while (metrics_inflight_get() > 0 && now_ms() < drain_deadline) {
        struct timespec pause = { 0, 10 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    /* What is still running now is cut by the stop below: say so, and how many. */
    int64_t cut = metrics_inflight_get();
    if (cut > 0) {
        e = capv_log_begin(d.log, CAPV_LOG_ERROR, "shutdown_cut");
        capv_log_int(e, "requests_cut", cut);
        capv_log_int(e, "timeout_seconds", d.cfg.shutdown_timeout_seconds);
        capv_log_end(e, "%lld request(s) still in flight after shutdown.timeout_seconds: cut",
                     (long long)cut);
    }

    /* Stop the listeners. Once nothing is in flight this takes CivetWeb's poll interval;
     * cut requests fail their next read or write at once. Bounded all the same: a worker
     * stuck elsewhere must not keep the process alive past its termination grace. */
    pthread_t t;
    bool stopped = false;
    if (pthread_create(&t, NULL, stopper, &d) == 0) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += STOP_TIMEOUT_SECONDS;
        stopped = pthread_timedjoin_np(t, NULL, &deadline) == 0;
    }
    if (!stopped) {
        /* workers may still use the registry: nothing is freed, the exit closes it */
        e = capv_log_begin(d.log, CAPV_LOG_ERROR, "stopped");
        capv_log_int(e, "requests_cut", cut);
        capv_log_end(e, "the listeners did not stop within %d s; exiting", STOP_TIMEOUT_SECONDS);
        return 1;
    }
    e = capv_log_begin(d.log, cut > 0 ? CAPV_LOG_ERROR : CAPV_LOG_INFO, "stopped");
    capv_log_int(e, "requests_cut", cut);
    capv_log_end(e, cut > 0 ? "stopped with requests cut; exiting with status 1"
                            : "all requests finished; exiting");
    pthread_mutex_lock(&d.backup_lock); /* a scheduled backup finishes first */
    capv_verifier_free(d.verifier);
    capv_registry_close(d.registry);
    pthread_mutex_unlock(&d.backup_lock);
    capv_signing_key_free(d.registry_key);
    capv_verify_options_free(d.opts);
    capv_package_limits_free(d.limits);
    capv_cache_free(d.cache);
    tls_free(d.tls);
    auth_free(d.auth);
    free(d.openapi);
    capv_logger_free(d.log);
    capvd_config_free(&d.cfg);
    capv_global_shutdown();
    return cut > 0 ? 1 : 0;
}
