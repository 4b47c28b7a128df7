/* SPDX-License-Identifier: Apache-2.0 */
/* Table-driven configuration: one descriptor per key gives its type, default, bounds and
 * documentation; YAML files, environment and flags all go through the same setter, which
 * also records where each value came from, so the checks across keys (capvd_config_check)
 * can name the file and line, variable or flag to fix. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include <capverify.h>
#include <capverify/unstable/log.h>

#include "budget_default.h"
#include "cidr.h"

enum cfg_type { T_STR, T_INT, T_BOOL, T_LIST, T_ENUM };

/* Key flags. */
enum {
    /* The value may carry a credential (a password in a URL): --print-config and error
     * messages show it redacted. */
    CFG_SECRET = 1 << 0,
    /* 0 means "derived at start"; --print-config shows the derived value as a comment. */
    CFG_DERIVED = 1 << 1,
};

typedef struct cfg_key {
    const char *section;
    const char *key;
    enum cfg_type type;
    unsigned flags;
    size_t offset;
    const char *def; /* default as text (lists comma-separated) */
    int64_t min, max;
    const char *choices; /* T_ENUM: '|'-separated */
    const char *doc;
} cfg_key;

#define OFF(f) offsetof(capvd_config, f)
#define MiB (1024 * 1024)

static const cfg_key keys[] = {
    { "server", "listen", T_STR, 0, OFF(server_listen), "0.0.0.0:8080", 0, 0, NULL,
      "API listener `host:port` (all routes)." },
    { "server", "admin_listen", T_STR, 0, OFF(server_admin_listen), "0.0.0.0:9090", 0, 0, NULL,
      "Admin listener `host:port`: /healthz, /readyz, /metrics only, with its own threads so "
      "slow API clients never starve the probes. Empty disables it." },
    { "server", "threads", T_INT, 0, OFF(server_threads), "256", 1, 4096, NULL,
      "Worker threads of the API listener. Each holds one connection, idle or slow ones "
      "included, until a deadline cuts it off: keep it above the number of concurrent "
      "connections you expect, slow clients included (an idle thread costs little memory; "
      "request bodies are bounded by server.memory_budget_bytes, not by this)." },
    { "server", "admin_threads", T_INT, 0, OFF(server_admin_threads), "4", 1, 64, NULL,
      "Worker threads of the admin listener." },
    { "server", "max_body_bytes", T_INT, 0, OFF(server_max_body_bytes), "16777216", 1024,
      1073741824, NULL, "Largest request body; larger requests get 413 before the body is read." },
    { "server", "request_timeout_ms", T_INT, 0, OFF(server_request_timeout_ms), "30000", 100,
      600000, NULL,
      "Time a client may take to send a whole request, headers and body (a connection's "
      "first request: from its accept); past it a late body gets 408 and the connection is "
      "closed, a late head only the close (docs/hardening.md)." },
    { "server", "keep_alive_ms", T_INT, 0, OFF(server_keep_alive_ms), "5000", 0, 600000, NULL,
      "Idle time a keep-alive connection is held open (0 disables keep-alive)." },
    { "server", "cors_origins", T_LIST, 0, OFF(server_cors_origins), "", 0, 0, NULL,
      "Origins allowed by CORS; empty (default) sends no CORS headers." },
    { "server", "rate_limit_per_second", T_INT, 0, OFF(server_rate_limit_per_second), "0", 0,
      1000000, NULL,
      "Token-bucket rate of API requests per second (0 = off): one bucket per "
      "authenticated subject, and one per client address for unauthenticated and failed "
      "requests; excess requests get 429 with Retry-After." },
    { "server", "rate_limit_burst", T_INT, CFG_DERIVED, OFF(server_rate_limit_burst), "0", 0,
      1000000, NULL,
      "Requests a bucket holds (the burst above the rate); 0 = "
      "rate_limit_per_second. Needs rate_limit_per_second." },
    { "server", "trusted_proxies", T_LIST, 0, OFF(server_trusted_proxies), "", 0, 0, NULL,
      "CIDRs (`10.0.0.0/8`, `::1/128`; a single address is a /32 or /128) of proxies whose "
      "X-Forwarded-For is believed: the client address is the right-most address in it that "
      "is not a trusted proxy. Empty = the peer address is the client." },
    { "server", "min_body_bytes_per_second", T_INT, 0, OFF(server_min_body_bytes_per_second),
      "4096", 0, 1073741824, NULL,
      "Slowest average rate a request body may arrive at after its first second; a slower "
      "body gets 408 and the connection is closed (0 = off: only request_timeout_ms bounds "
      "it)." },
    { "server", "memory_budget_bytes", T_INT, CFG_DERIVED, OFF(server_memory_budget_bytes), "0", 0,
      1099511627776LL, NULL,
      "Memory that request bodies and their verification, and the large answers of GET "
      "routes (stored policies, list pages, reports), may hold together: each request "
      "is let in when its worst case fits, holds its body's raw bytes while they arrive and "
      "its worst case once the body is whole (docs/hardening.md \"Memory budget\"); one "
      "that does not fit waits up to "
      "memory_wait_ms, then gets 503. 0 = 60% of the cgroup memory limit "
      "(`memory.max`, or v1 `memory.limit_in_bytes`), or 256 MiB without one. Must be at "
      "least max_body_bytes." },
    { "server", "memory_wait_ms", T_INT, 0, OFF(server_memory_wait_ms), "2000", 0, 60000, NULL,
      "How long a request waits for room in the memory budget before it gets 503." },
    { "tls", "cert_file", T_STR, 0, OFF(tls_cert_file), "", 0, 0, NULL,
      "PEM certificate chain; with key_file enables HTTPS on the API listener (the admin "
      "listener stays plain HTTP for probes and scrapes). Reloaded on SIGHUP and when the "
      "file changes." },
    { "tls", "key_file", T_STR, 0, OFF(tls_key_file), "", 0, 0, NULL, "PEM private key." },
    { "tls", "client_ca_file", T_STR, 0, OFF(tls_client_ca_file), "", 0, 0, NULL,
      "PEM CA bundle; when set, API clients must present a certificate it issued (mTLS)." },
    { "tls", "min_version", T_ENUM, 0, OFF(tls_min_version), "1.2", 0, 0, "1.2|1.3",
      "Lowest TLS version accepted." },
    { "auth", "enabled", T_BOOL, 0, OFF(auth_enabled), "false", 0, 0, NULL,
      "Require `Authorization: Bearer <JWT>` on API routes. Off by default, with a loud "
      "warning at start." },
    { "auth", "issuer", T_STR, 0, OFF(auth_issuer), "", 0, 0, NULL,
      "Exact `iss` every token must carry." },
    { "auth", "audiences", T_LIST, 0, OFF(auth_audiences), "", 0, 0, NULL,
      "Accepted audiences; a token's `aud` (string or array) must contain one." },
    { "auth", "jwks_url", T_STR, CFG_SECRET, OFF(auth_jwks_url), "", 0, 0, NULL,
      "`https://…` JWKS of the identity provider, or `file:///path/jwks.json` (re-read on "
      "SIGHUP)." },
    { "auth", "jwks_cache_ttl_seconds", T_INT, 0, OFF(auth_jwks_cache_ttl_seconds), "600", 60,
      86400, NULL,
      "How long a fetched key set is fresh (a Cache-Control max-age of the IdP, "
      "clamped to [60 s, 1 h], wins)." },
    { "auth", "leeway_seconds", T_INT, 0, OFF(auth_leeway_seconds), "60", 0, 600, NULL,
      "Clock skew allowed for exp / nbf / iat." },
    { "auth", "refresh_min_interval_seconds", T_INT, 0, OFF(auth_refresh_min_interval_seconds),
      "30", 1, 3600, NULL, "At most one JWKS fetch per interval for unknown key ids." },
    { "auth", "max_stale_seconds", T_INT, 0, OFF(auth_max_stale_seconds), "3600", 0, 604800, NULL,
      "How long the last good key set keeps serving while the IdP is unreachable; after "
      "that requests get 503 and /readyz fails." },
    { "auth", "fetch_timeout_ms", T_INT, 0, OFF(auth_fetch_timeout_ms), "2000", 100, 60000, NULL,
      "Longest a JWKS fetch (and so a request waiting for one) may take." },
    { "auth", "max_lifetime_seconds", T_INT, 0, OFF(auth_max_lifetime_seconds), "0", 0, 31536000,
      NULL, "Reject tokens whose exp - iat exceeds this (0 = no limit)." },
    { "auth", "allowed_algs", T_LIST, 0, OFF(auth_allowed_algs), "RS256,PS256,ES256,EdDSA", 0, 0,
      NULL, "JWS algorithms accepted; `none` and HS* are always rejected." },
    { "auth", "allow_insecure_http", T_BOOL, 0, OFF(auth_allow_insecure_http), "false", 0, 0, NULL,
      "Allow an `http://` JWKS URL on a loopback address (tests only)." },
    { "auth", "ca_file", T_STR, 0, OFF(auth_ca_file), "", 0, 0, NULL,
      "PEM CA bundle for the IdP's TLS certificate (default: the system store)." },
    { "auth", "metrics_requires_scope", T_BOOL, 0, OFF(auth_metrics_requires_scope), "false", 0, 0,
      NULL,
      "Require scope `metrics:read` for /metrics on the API port (never on the admin port); "
      "needs auth.enabled." },
    { "ui", "enabled", T_BOOL, 0, OFF(ui_enabled), "true", 0, 0, NULL,
      "Serve the web UI (docs/ui.md) on the API listener: `/ui/`, `/ui/config.json`, and `/` "
      "redirecting to `/ui/`. The UI calls the same API routes, with the same scopes." },
    { "ui", "client_id", T_STR, 0, OFF(ui_client_id), "", 0, 0, NULL,
      "OAuth client id of the UI at auth.issuer: a public client (no secret) allowed the "
      "authorization-code flow with PKCE and the redirect URI `<API origin>/ui/`. Empty with "
      "auth.enabled: the UI only offers pasting a token." },
    { "ui", "scopes", T_LIST, 0, OFF(ui_scopes),
      "openid,verify:run,registry:read,verifications:read,policy:compile,policy:read", 0, 0, NULL,
      "Scopes the UI asks the identity provider for when it signs in." },
    { "ui", "token_origin", T_STR, 0, OFF(ui_token_origin), "", 0, 0, NULL,
      "Origin (scheme://host[:port]) of the identity provider's token endpoint when it is not "
      "auth.issuer's: the UI's Content-Security-Policy then lets it connect there too. Empty: "
      "the issuer's origin. Needs ui.client_id." },
    { "cache", "enabled", T_BOOL, 0, OFF(cache_enabled), "true", 0, 0, NULL,
      "Cache verification reports of zip uploads (keyed by package bytes, options and the "
      "trust / policy / registry epoch, so a reload never serves a stale verdict)." },
    { "cache", "size", T_INT, 0, OFF(cache_size), "10000", 1, 10000000, NULL,
      "Most cached reports." },
    { "cache", "ttl_seconds", T_INT, 0, OFF(cache_ttl_seconds), "300", 1, 86400, NULL,
      "Age after which a cached report is not served." },
    { "cache", "max_bytes", T_INT, 0, OFF(cache_max_bytes), "67108864", 65536, 17179869184LL, NULL,
      "Most bytes of cached reports. The cache is split into up to 16 shards, each with its "
      "share (`cache.size` / 64 and this / 1024 shards, at most 16): a report larger than one "
      "share (4 MiB with the defaults) is not cached." },
    { "registry", "path", T_STR, 0, OFF(registry_path), "./data/registry.sqlite", 0, 0, NULL,
      "SQLite registry database (created if missing); this process is its only writer. Not used "
      "when registry.url is set." },
    { "registry", "url", T_STR, CFG_SECRET, OFF(registry_url), "", 0, 0, NULL,
      "PostgreSQL registry shared by several replicas (postgresql://USER@HOST:5432/DB?sslmode="
      "verify-full&sslrootcert=CA.pem; docs/registry.md#postgresql-backend). Set, it replaces "
      "registry.path; keep the password out of it (registry.password_file or PGPASSWORD)." },
    { "registry", "password_file", T_STR, 0, OFF(registry_password_file), "", 0, 0, NULL,
      "File whose first line is the PostgreSQL password (never logged); empty = libpq's own "
      "sources (PGPASSWORD, PGPASSFILE)." },
    { "registry", "synchronous", T_ENUM, 0, OFF(registry_synchronous), "full", 0, 0, "full|normal",
      "SQLite synchronous mode. full: a commit with entries or policies is on disk when it "
      "returns, and queued verification records within a second (docs/registry.md#durability); "
      "normal: the last commits of any kind may be lost on a power failure (never corrupted)." },
    { "registry", "busy_timeout_ms", T_INT, 0, OFF(registry_busy_timeout_ms), "5000", 1, 600000,
      NULL,
      "SQLite: how long a statement waits for a lock another connection or process holds. "
      "PostgreSQL: how long a statement waits for a lock (lock_timeout) and a request for a "
      "free read connection, and how long a session may take to connect (libpq's "
      "connect_timeout, in whole seconds, at least 2; the daemon's main thread waits for it "
      "on a SIGHUP, so keep it well under a systemd WatchdogSec)." },
    { "registry", "record_verifications", T_BOOL, 0, OFF(registry_record_verifications), "true", 0,
      0, NULL, "Record every verification (subject, hashes, result, report) in the registry." },
    { "registry", "record_queue_max", T_INT, 0, OFF(registry_record_queue_max), "2000", 0, 10000000,
      NULL,
      "Verification records waiting to be written, at most: /verify answers without waiting for "
      "the registry, a writer stores the queue in batches (docs/registry.md#recording-"
      "verifications); a full queue makes /verify wait for the writer while the storage works "
      "and drops records (counted) while it fails. 0 = every /verify waits for its "
      "record's commit." },
    { "registry", "record_flush_ms", T_INT, 0, OFF(registry_record_flush_ms), "5", 1, 1000, NULL,
      "Longest a queued record waits before its batch is written: a kill -9 loses at most the "
      "records of this interval (SIGTERM writes them all)." },
    { "registry", "signing_key_file", T_STR, 0, OFF(registry_signing_key_file), "", 0, 0, NULL,
      "PEM Ed25519 key that signs new registry entries (docs/registry.md#entry-signatures); "
      "empty = unsigned." },
    { "registry", "max_report_bytes", T_INT, 0, OFF(registry_max_report_bytes), "16384", 1024,
      16777216, NULL,
      "Largest report stored with a verification; a larger one is stored as its summary "
      "(result, failing checks, hashes and the full report's SHA3-256)." },
    { "registry", "verification_retention_days", T_INT, 0,
      OFF(registry_verification_retention_days), "90", 0, 36500, NULL,
      "Verification records older than this are pruned by the writer in small batches "
      "(0 = kept forever). Registry entries are never pruned." },
    { "trust", "dir", T_STR, 0, OFF(trust_dir), "", 0, 0, NULL,
      "Trust store: directory of `*.pub` / cap-key.v1 `*.json` keys (reloaded on SIGHUP). "
      "Empty = no trusted keys (every signature fails; a warning is logged)." },
    { "trust", "policy_dir", T_STR, 0, OFF(trust_policy_dir), "", 0, 0, NULL,
      "Directory of known policies for policy.binding: IR v1 `*.json`, PolicyV2 and policy v1 "
      "`*.yml` / `*.yaml` (reloaded on SIGHUP)." },
    { "trust", "tsa_ca_file", T_STR, 0, OFF(trust_tsa_ca_file), "", 0, 0, NULL,
      "PEM roots of trusted RFC 3161 time-stamping authorities, with any intermediate CA "
      "certificate their tokens do not embed." },
    { "verify", "require_signature", T_BOOL, 0, OFF(verify_require_signature), "true", 0, 0, NULL,
      "An unsigned manifest fails (false: warns)." },
    { "verify", "require_timestamp", T_BOOL, 0, OFF(verify_require_timestamp), "false", 0, 0, NULL,
      "A package without a timestamp token warns." },
    { "verify", "check_registry", T_BOOL, 0, OFF(verify_check_registry), "false", 0, 0, NULL,
      "A package without a registry entry warns." },
    { "verify", "strict", T_BOOL, 0, OFF(verify_strict), "false", 0, 0, NULL,
      "Unknown policies and unverifiable proof backends fail instead of warn." },
    { "verify", "allow_untrusted", T_BOOL, 0, OFF(verify_allow_untrusted), "false", 0, 0, NULL,
      "A valid signature by an untrusted key warns instead of fails." },
    { "verify", "mock_policy", T_ENUM, 0, OFF(verify_mock_policy), "warn", 0, 0, "warn|fail|accept",
      "Result of the proof.backend check for mock proofs (no cryptographic assurance)." },
    { "verify", "max_entries", T_INT, 0, OFF(verify_max_entries), "10000", 1, 1000000, NULL,
      "Most members in an uploaded package (zip entries)." },
    { "backup", "dir", T_STR, 0, OFF(backup_dir), "./data/backups", 0, 0, NULL,
      "Directory of registry backups (`registry-<UTC>.sqlite` + `.json` sidecar)." },
    { "backup", "interval_seconds", T_INT, 0, OFF(backup_interval_seconds), "86400", 0, 31536000,
      NULL, "Scheduled online backup interval (the runbook's RPO); 0 disables the schedule." },
    { "backup", "retain", T_INT, 0, OFF(backup_retain), "7", 1, 10000, NULL,
      "Backups kept (newest first)." },
    { "backup", "signing_key_file", T_STR, 0, OFF(backup_signing_key_file), "", 0, 0, NULL,
      "PEM Ed25519 key that signs each backup's sidecar (docs/registry.md#signed-backups; "
      "read at start and on SIGHUP, never logged): `capverify registry restore "
      "--require-signed --trust DIR` then accepts only backups signed by a key in DIR. "
      "Empty = unsigned sidecars." },
    { "backup", "s3.url", T_STR, 0, OFF(backup_s3_url), "", 0, 0, NULL,
      "Off-site copies (docs/registry.md#off-site-copies): `s3://BUCKET[/PREFIX]` of an "
      "S3-compatible store. After each successful backup the daemon uploads it there (the "
      "file, then its sidecar, which marks the copy complete) and keeps backup.s3.retain of "
      "them. Empty = no off-site copies." },
    { "backup", "s3.endpoint", T_STR, 0, OFF(backup_s3_endpoint), "", 0, 0, NULL,
      "`https://HOST[:PORT]` of the store (`http://` only on a loopback host, for tests); "
      "empty = AWS S3 in backup.s3.region." },
    { "backup", "s3.region", T_STR, 0, OFF(backup_s3_region), "us-east-1", 0, 0, NULL,
      "Region the requests are signed for (AWS Signature Version 4)." },
    { "backup", "s3.path_style", T_BOOL, 0, OFF(backup_s3_path_style), "false", 0, 0, NULL,
      "Address the bucket as `ENDPOINT/BUCKET/KEY` (most non-AWS stores) instead of "
      "`BUCKET.ENDPOINT/KEY`." },
    { "backup", "s3.credentials_file", T_STR, 0, OFF(backup_s3_credentials_file), "", 0, 0, NULL,
      "AWS shared-credentials file (`[default]` with aws_access_key_id, aws_secret_access_key, "
      "optionally aws_session_token), e.g. a mounted Secret; read at each upload, so a rotated "
      "Secret is picked up; never logged. Empty = AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and "
      "AWS_SESSION_TOKEN from the environment." },
    { "backup", "s3.ca_file", T_STR, 0, OFF(backup_s3_ca_file), "", 0, 0, NULL,
      "PEM CA bundle of the store's TLS certificate (default: the system store)." },
    { "backup", "s3.retain", T_INT, 0, OFF(backup_s3_retain), "30", 0, 100000, NULL,
      "Off-site backups kept, newest first: older ones are deleted after each upload (the "
      "sidecar first); 0 = keep all (a bucket lifecycle rule decides)." },
    { "backup", "s3.retry_seconds", T_INT, 0, OFF(backup_s3_retry_seconds), "60", 1, 86400, NULL,
      "After a failed upload (each request is already retried with backoff) the daemon tries "
      "again after this long, doubling up to an hour, until the upload succeeds or a newer "
      "backup replaces it." },
    { "logging", "level", T_ENUM, 0, OFF(logging_level), "info", 0, 0, "debug|info|warn|error",
      "Log level; SIGUSR1 lowers it one step (more verbose), SIGUSR2 raises it." },
    { "logging", "flush_ms", T_INT, 0, OFF(logging_flush_ms), "20", 0, CAPV_LOG_FLUSH_MS_MAX, NULL,
      "DEBUG and INFO lines (request lines among them) wait up to this long and are written "
      "together, in one write; WARN and ERROR lines are written at once, after every line "
      "before them, and a clean exit writes what waits. A crash loses at most the lines of "
      "this interval. 0 = every line is written when it is made." },
    { "shutdown", "grace_seconds", T_INT, 0, OFF(shutdown_grace_seconds), "5", 0, 300, NULL,
      "After SIGTERM: /readyz answers 503 at once, new connections are still accepted and "
      "served this long; then the API listener accepts no more (docs/hardening.md, "
      "\"Shutdown\")." },
    { "shutdown", "timeout_seconds", T_INT, 0, OFF(shutdown_timeout_seconds), "25", 1, 3600, NULL,
      "Then the requests accepted get at most this long to finish, those whose head is still "
      "arriving included, before the process exits; requests still running then are cut, "
      "counted in an ERROR log line (`event=shutdown_cut`) and the exit status is 1." },
};

#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS <= CFG_KEYS_MAX, "raise CFG_KEYS_MAX in config.h");

static const char *const sections[] = { "server", "tls",      "auth",    "ui",
                                        "cache",  "registry", "trust",   "verify",
                                        "backup", "logging",  "shutdown" };
#define NSECTIONS (sizeof sections / sizeof *sections)

/* The index of section `s`, or -1. */
static int section_index(const char *s)
{
    for (size_t i = 0; i < NSECTIONS; i++)
        if (strcmp(s, sections[i]) == 0)
            return (int)i;
    return -1;
}

static const cfg_key *find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

static const cfg_key *key_of_field(const capvd_config *c, const void *field)
{
    size_t off = (size_t)((const char *)field - (const char *)c);
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].offset == off)
            return &keys[i];
    return NULL;
}

static size_t key_index(const cfg_key *k)
{
    return (size_t)(k - keys);
}

/* Replaces the recorded source of key `k`. False when out of memory. */
static bool set_source(capvd_config *c, const cfg_key *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool set_source(capvd_config *c, const cfg_key *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (text == NULL)
        return false;
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    size_t i = key_index(k);
    free(c->source[i]);
    c->source[i] = text;
    return true;
}

const char *capvd_config_source(const capvd_config *c, const void *field)
{
    const cfg_key *k = key_of_field(c, field);
    return k != NULL ? c->source[key_index(k)] : NULL;
}

/* ---- secrets ---------------------------------------------------------------------------- */

/* Whether a URL query parameter name looks like it holds a credential. */
static bool secret_param(const char *name, size_t len)
{
    static const char *const words[] = { "pass", "pwd", "secret", "token",
                                         "key",  "sig", "auth",   "cred" };
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= len; i++)
            if (strncasecmp(name + i, words[w], wl) == 0)
                return true;
    }
    return false;
}

/* A secret-marked value as it may be shown (malloc'd; NULL when out of memory). A URL
 * (`scheme://…`) keeps everything but the password of its user info and the values of query
 * parameters named like credentials (password, token, key, …), which become `***`; any
 * other non-empty value becomes `***` as a whole. The user info ends at the last '@' before
 * the first '/' (libpq's reading: a password may hold a '?'); when it holds a '?' or '#',
 * all of it becomes `***`. */
static char *redacted(const char *v)
{
    size_t n = strlen(v);
    const char *sep = strstr(v, "://");
    if (n == 0)
        return strdup("");
    if (sep == NULL || sep == v ||
        strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") !=
            (size_t)(sep - v))
        return strdup("***");
    /* every redaction turns at least one byte into three */
    char *out = malloc(3 * n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    const char *p = v, *auth = sep + 3;
    const char *slash = auth + strcspn(auth, "/");
    const char *at = NULL;
    for (const char *q = auth; q < slash; q++)
        if (*q == '@')
            at = q;
    const char *auth_end = (at ? at + 1 : auth) + strcspn(at ? at + 1 : auth, "/?#");
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (at != NULL && strcspn(auth, "?#") < (size_t)(at - auth)) {
        memcpy(out + o, p, (size_t)(auth - p));
        o += (size_t)(auth - p);
        memcpy(out + o, "***", 3);
        o += 3;
        p = at;
    } else if (colon != NULL && colon + 1 < at) {
        memcpy(out + o, p, (size_t)(colon + 1 - p));
        o += (size_t)(colon + 1 - p);
        memcpy(out + o, "***", 3);
        o += 3;
        p = at;
    }
    /* up to the query */
    const char *query = auth_end + strcspn(auth_end, "?#");
    memcpy(out + o, p, (size_t)(query - p));
    o += (size_t)(query - p);
    p = query;
    if (*p == '?') {
        out[o++] = *p++;
        while (*p && *p != '#') {
            size_t plen = strcspn(p, "&#");
            const char *eq = memchr(p, '=', plen);
            if (eq != NULL && eq + 1 < p + plen && secret_param(p, (size_t)(eq - p))) {
                memcpy(out + o, p, (size_t)(eq + 1 - p));
                o += (size_t)(eq + 1 - p);
                memcpy(out + o, "***", 3);
                o += 3;
            } else {
                memcpy(out + o, p, plen);
                o += plen;
            }
            p += plen;
            if (*p == '&')
                out[o++] = *p++;
        }
    }
    size_t rest = strlen(p);
    memcpy(out + o, p, rest);
    o += rest;
    out[o] = '\0';
    return out;
}

static void list_clear(cfg_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->items[i]);
    l->n = 0;
}

static bool list_add(cfg_list *l, const char *item, size_t len, char *why, size_t whylen)
{
    while (len > 0 && isspace((unsigned char)*item)) {
        item++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)item[len - 1]))
        len--;
    if (len == 0)
        return true;
    if (l->n >= CFG_LIST_MAX) {
        snprintf(why, whylen, "more than %d items", CFG_LIST_MAX);
        return false;
    }
    l->items[l->n] = strndup(item, len);
    if (l->items[l->n] == NULL) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    l->n++;
    return true;
}

/* Sets one key from text. For lists, `append` adds one item (YAML sequences); otherwise the
 * text is a comma-separated list replacing the old value. */
static bool set_value(capvd_config *c, const cfg_key *k, const char *text, bool append, char *why,
                      size_t whylen)
{
    void *slot = (char *)c + k->offset;
    switch (k->type) {
    case T_STR: {
        char *dup = strdup(text);
        if (dup == NULL) {
            snprintf(why, whylen, "out of memory");
            return false;
        }
        free(*(char **)slot);
        *(char **)slot = dup;
        return true;
    }
    case T_ENUM: {
        size_t n = strlen(text);
        for (const char *p = k->choices; *p;) {
            const char *bar = strchr(p, '|');
            size_t m = bar ? (size_t)(bar - p) : strlen(p);
            if (m == n && strncasecmp(p, text, n) == 0) {
                char *dup = strndup(p, m);
                if (dup == NULL)
                    return false;
                free(*(char **)slot);
                *(char **)slot = dup;
                return true;
            }
            p += m + (bar ? 1 : 0);
        }
        snprintf(why, whylen, "'%s' is not one of %s", text, k->choices);
        return false;
    }
    case T_INT: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0') {
            snprintf(why, whylen, "'%s' is not an integer", text);
            return false;
        }
        if (v < k->min || v > k->max) {
            snprintf(why, whylen, "%lld is outside [%lld, %lld]", v, (long long)k->min,
                     (long long)k->max);
            return false;
        }
        *(int64_t *)slot = v;
        return true;
    }
    case T_BOOL:
        if (strcasecmp(text, "true") == 0)
            *(bool *)slot = true;
        else if (strcasecmp(text, "false") == 0)
            *(bool *)slot = false;
        else {
            snprintf(why, whylen, "'%s' is not true or false", text);
            return false;
        }
        return true;
    case T_LIST: {
        cfg_list *l = slot;
        if (append)
            return list_add(l, text, strlen(text), why, whylen);
        list_clear(l);
        for (const char *p = text;;) {
            const char *comma = strchr(p, ',');
            size_t m = comma ? (size_t)(comma - p) : strlen(p);
            if (!list_add(l, p, m, why, whylen))
                return false;
            if (comma == NULL)
                break;
            p = comma + 1;
        }
        return true;
    }
    }
    return false;
}

void capvd_config_defaults(capvd_config *c)
{
    memset(c, 0, sizeof *c);
    char why[160];
    for (size_t i = 0; i < NKEYS; i++)
        if (!set_value(c, &keys[i], keys[i].def, false, why, sizeof why)) {
            fprintf(stderr, "capverifyd: bad default for %s.%s: %s\n", keys[i].section, keys[i].key,
                    why);
            abort();
        }
}

void capvd_config_free(capvd_config *c)
{
    for (size_t i = 0; i < NKEYS; i++) {
        void *slot = (char *)c + keys[i].offset;
        if (keys[i].type == T_STR || keys[i].type == T_ENUM) {
            free(*(char **)slot);
            *(char **)slot = NULL;
        } else if (keys[i].type == T_LIST) {
            list_clear(slot);
        }
        free(c->source[i]);
        c->source[i] = NULL;
    }
}

/* ---- YAML files ------------------------------------------------------------------------ */

/* What the files of one directory have given so far: a section may appear once in all of
 * them, a key once in its section. */
typedef struct seen {
    char *section_at[NSECTIONS]; /* "FILE:LINE:COL" of each section */
    char *key_at[NKEYS];         /* "FILE:LINE:COL" of each key */
} seen;

static void seen_free(seen *s)
{
    for (size_t i = 0; i < NSECTIONS; i++)
        free(s->section_at[i]);
    for (size_t i = 0; i < NKEYS; i++)
        free(s->key_at[i]);
}

typedef struct yctx {
    yaml_parser_t p;
    yaml_event_t ev;
    bool have;
    const char *file;
    seen *seen;
    char *errbuf;
    size_t errlen;
} yctx;

static bool next(yctx *y)
{
    if (y->have)
        yaml_event_delete(&y->ev);
    y->have = false;
    if (!yaml_parser_parse(&y->p, &y->ev)) {
        snprintf(y->errbuf, y->errlen, "%s:%zu:%zu: YAML error: %s", y->file,
                 y->p.problem_mark.line + 1, y->p.problem_mark.column + 1,
                 y->p.problem ? y->p.problem : "unknown");
        return false;
    }
    y->have = true;
    return true;
}

/* "FILE:LINE:COL" of the current event (malloc'd, NULL when out of memory). */
static char *here(const yctx *y)
{
    size_t cap = strlen(y->file) + 48;
    char *text = malloc(cap);
    if (text != NULL)
        snprintf(text, cap, "%s:%zu:%zu", y->file, y->ev.start_mark.line + 1,
                 y->ev.start_mark.column + 1);
    return text;
}

/* A YAML null (`~`, `null`, plain and untagged) is no value: taken as text it would become
 * the string "null" (an issuer, a client id) or a path "~". */
#define NULL_VALUE                                                                                 \
    "null is not a value: leave the key out for its default, or write \"\" for an empty one"

static bool yaml_null(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.tag == NULL &&
           (strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
            strcmp(v, "NULL") == 0);
}

static bool fail_at(yctx *y, const char *what, const char *detail)
{
    snprintf(y->errbuf, y->errlen, "%s:%zu:%zu: %s: %s", y->file, y->ev.start_mark.line + 1,
             y->ev.start_mark.column + 1, what, detail);
    return false;
}

static bool remember(yctx *y, char **slot)
{
    *slot = here(y);
    return *slot != NULL || fail_at(y, "document", "out of memory");
}

/* Whether `section` has keys named "<group>.…" (backup.s3.url: group "s3"). */
static bool key_group(const char *section, const char *group)
{
    size_t n = strlen(group);
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strncmp(keys[i].key, group, n) == 0 &&
            keys[i].key[n] == '.')
            return true;
    return false;
}

/* The keys of a mapping whose start event was just read; `prefix` is "" for a section's own
 * mapping and "group." inside a nested one (`backup: {s3: {url: …}}` is backup.s3.url, as is
 * `backup: {s3.url: …}`). */
static bool load_keys(capvd_config *c, yctx *y, const char *section, const char *prefix)
{
    for (;;) {
        if (!next(y))
            return false;
        if (y->ev.type == YAML_MAPPING_END_EVENT)
            return true;
        if (y->ev.type != YAML_SCALAR_EVENT)
            return fail_at(y, section, "keys must be scalars");
        char name[64], full[160], why[400];
        snprintf(name, sizeof name, "%s%s", prefix, (const char *)y->ev.data.scalar.value);
        snprintf(full, sizeof full, "%s.%s", section, name);
        const cfg_key *k = find_key(section, name);
        if (k == NULL && key_group(section, name)) {
            if (!next(y))
                return false;
            if (y->ev.type != YAML_MAPPING_START_EVENT)
                return fail_at(y, full, "must be a mapping of keys");
            char group[sizeof name + 1]; /* a group name is a key's beginning: it fits */
            snprintf(group, sizeof group, "%s.", name);
            if (!load_keys(c, y, section, group))
                return false;
            continue;
        }
        if (k == NULL)
            return fail_at(y, full, "unknown key");
        char **first = &y->seen->key_at[key_index(k)];
        if (*first != NULL) {
            snprintf(why, sizeof why, "duplicate key, first given at %s", *first);
            return fail_at(y, full, why);
        }
        if (!remember(y, first) || !next(y))
            return false;
        if (!set_source(c, k, "%s:%zu:%zu", y->file, y->ev.start_mark.line + 1,
                        y->ev.start_mark.column + 1))
            return fail_at(y, full, "out of memory");
        if (y->ev.type == YAML_SCALAR_EVENT) {
            if (yaml_null(&y->ev))
                return fail_at(y, full, NULL_VALUE);
            if (!set_value(c, k, (const char *)y->ev.data.scalar.value, false, why, sizeof why))
                return fail_at(y, full, why);
        } else if (y->ev.type == YAML_SEQUENCE_START_EVENT && k->type == T_LIST) {
            list_clear((cfg_list *)((char *)c + k->offset));
            for (;;) {
                if (!next(y))
                    return false;
                if (y->ev.type == YAML_SEQUENCE_END_EVENT)
                    break;
                if (y->ev.type != YAML_SCALAR_EVENT)
                    return fail_at(y, full, "list items must be scalars");
                if (yaml_null(&y->ev))
                    return fail_at(y, full, NULL_VALUE);
                if (!set_value(c, k, (const char *)y->ev.data.scalar.value, true, why, sizeof why))
                    return fail_at(y, full, why);
            }
        } else {
            return fail_at(y, full,
                           k->type == T_LIST ? "must be a list or a scalar" : "must be a scalar");
        }
    }
}

static bool load_section(capvd_config *c, yctx *y, const char *section)
{
    if (!next(y))
        return false;
    if (y->ev.type == YAML_SCALAR_EVENT && y->ev.data.scalar.length == 0)
        return true; /* "section:" with nothing under it */
    if (y->ev.type != YAML_MAPPING_START_EVENT)
        return fail_at(y, section, "must be a mapping of keys");
    return load_keys(c, y, section, "");
}

static bool load_file(capvd_config *c, const char *path, seen *sn, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    yctx y = { .file = path, .seen = sn, .errbuf = errbuf, .errlen = errlen };
    yaml_parser_initialize(&y.p);
    yaml_parser_set_input_file(&y.p, f);
    bool ok = false;
    /* stream start, document start (or stream end for an empty file) */
    if (!next(&y) || !next(&y))
        goto out;
    if (y.ev.type == YAML_STREAM_END_EVENT) {
        ok = true;
        goto out;
    }
    if (!next(&y))
        goto out;
    if (y.ev.type == YAML_SCALAR_EVENT && y.ev.data.scalar.length == 0) {
        ok = true; /* an empty document */
        goto out;
    }
    if (y.ev.type != YAML_MAPPING_START_EVENT) {
        fail_at(&y, "document", "must be a mapping of sections (server:, auth:, ...)");
        goto out;
    }
    for (;;) {
        if (!next(&y))
            goto out;
        if (y.ev.type == YAML_MAPPING_END_EVENT)
            break;
        if (y.ev.type != YAML_SCALAR_EVENT) {
            fail_at(&y, "document", "section names must be scalars");
            goto out;
        }
        char section[64];
        snprintf(section, sizeof section, "%s", (const char *)y.ev.data.scalar.value);
        int si = section_index(section);
        if (si < 0) {
            fail_at(&y, section, "unknown section");
            goto out;
        }
        char **first = &sn->section_at[si];
        if (*first != NULL) {
            char why[400];
            snprintf(why, sizeof why,
                     "section given twice, first at %s (give each section once: in one "
                     "file, or one file per section)",
                     *first);
            fail_at(&y, section, why);
            goto out;
        }
        if (!remember(&y, first) || !load_section(c, &y, section))
            goto out;
    }
    if (!next(&y))
        goto out;
    if (y.ev.type != YAML_DOCUMENT_END_EVENT) {
        fail_at(&y, "document", "unexpected content");
        goto out;
    }
    if (!next(&y))
        goto out;
    if (y.ev.type != YAML_STREAM_END_EVENT) {
        fail_at(&y, "document", "only one YAML document per file");
        goto out;
    }
    ok = true;
out:
    if (y.have)
        yaml_event_delete(&y.ev);
    yaml_parser_delete(&y.p);
    fclose(f);
    return ok;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

#define MAX_FILES 256

static bool load_dir(capvd_config *c, const char *dir, bool required, char *errbuf, size_t errlen)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT && !required)
            return true;
        snprintf(errbuf, errlen, "%s: %s", dir, strerror(errno));
        return false;
    }
    char *names[MAX_FILES] = { NULL };
    int n = 0;
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue; /* includes Kubernetes' ..data symlink farm */
        if (!((l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0) ||
              (l > 4 && strcmp(de->d_name + l - 4, ".yml") == 0)))
            continue;
        if (n == MAX_FILES) {
            snprintf(errbuf, errlen, "%s: more than %d configuration files", dir, MAX_FILES);
            ok = false;
        } else if ((names[n] = strdup(de->d_name)) == NULL) {
            snprintf(errbuf, errlen, "%s: out of memory", dir);
            ok = false;
        } else {
            n++;
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, name_cmp);
    seen sn;
    memset(&sn, 0, sizeof sn);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (ok)
            ok = load_file(c, path, &sn, errbuf, errlen);
        free(names[i]);
    }
    seen_free(&sn);
    return ok;
}

/* ---- environment and flags ------------------------------------------------------------- */

static void env_name(char *out, size_t cap, const cfg_key *k)
{
    snprintf(out, cap, "CAPV_%s_%s", k->section, k->key);
    for (char *p = out; *p; p++) /* backup.s3.url: CAPV_BACKUP_S3_URL */
        *p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
}

extern char **environ;

static bool load_env(capvd_config *c, char *errbuf, size_t errlen)
{
    char why[400], name[128];
    for (size_t i = 0; i < NKEYS; i++) {
        env_name(name, sizeof name, &keys[i]);
        const char *v = getenv(name);
        if (v == NULL)
            continue;
        if (!set_value(c, &keys[i], v, false, why, sizeof why) ||
            !set_source(c, &keys[i], "env %s", name)) {
            snprintf(errbuf, errlen, "env %s: %s.%s: %s", name, keys[i].section, keys[i].key, why);
            return false;
        }
    }
    /* a CAPV_<SECTION>_* variable that names no key is a typo, not something to ignore */
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "CAPV_", 5) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        bool known_section = false, known = false;
        for (size_t s = 0; s < NSECTIONS; s++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "CAPV_%s_", sections[s]);
            for (char *p = prefix; *p; p++)
                *p = (char)toupper((unsigned char)*p);
            if (strncmp(*e, prefix, strlen(prefix)) == 0)
                known_section = true;
        }
        for (size_t i = 0; i < NKEYS && !known; i++) {
            env_name(name, sizeof name, &keys[i]);
            known = strlen(name) == len && strncmp(*e, name, len) == 0;
        }
        if (known_section && !known) {
            snprintf(errbuf, errlen, "env %.*s: unknown key", (int)len, *e);
            return false;
        }
    }
    return true;
}

static bool load_set(capvd_config *c, const char *set, char *errbuf, size_t errlen)
{
    const char *eq = strchr(set, '=');
    const char *dot = strchr(set, '.');
    char section[64] = "", key[64] = "", why[400];
    if (eq == NULL || dot == NULL || dot > eq) {
        snprintf(errbuf, errlen, "--set %s: expected section.key=value", set);
        return false;
    }
    snprintf(section, sizeof section, "%.*s", (int)(dot - set), set);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    const cfg_key *k = find_key(section, key);
    if (k == NULL) {
        /* the value is not echoed: it may be a secret given to a misspelt key */
        snprintf(errbuf, errlen, "--set %.*s=…: unknown key %s.%s", (int)(eq - set), set, section,
                 key);
        return false;
    }
    char *shown = k->flags & CFG_SECRET ? redacted(eq + 1) : strdup(eq + 1);
    bool ok = shown != NULL;
    if (!ok)
        snprintf(why, sizeof why, "out of memory");
    else if (!set_value(c, k, eq + 1, false, why, sizeof why))
        ok = false;
    else if (!set_source(c, k, "--set %s.%s=%s", section, key, shown)) {
        snprintf(why, sizeof why, "out of memory");
        ok = false;
    }
    if (!ok)
        snprintf(errbuf, errlen, "--set %s.%s=%s: %s.%s: %s", section, key, shown ? shown : "…",
                 section, key, why);
    free(shown);
    return ok;
}

bool capvd_config_load(capvd_config *c, const char *dir, bool dir_required, char **sets, int nsets,
                       char *errbuf, size_t errlen)
{
    if (dir != NULL && !load_dir(c, dir, dir_required, errbuf, errlen))
        return false;
    if (!load_env(c, errbuf, errlen))
        return false;
    for (int i = 0; i < nsets; i++)
        if (!load_set(c, sets[i], errbuf, errlen))
            return false;
    return true;
}

static const char *type_name(const cfg_key *k)
{
    switch (k->type) {
    case T_STR: return "string";
    case T_INT: return "integer";
    case T_BOOL: return "boolean";
    case T_LIST: return "list";
    case T_ENUM: return k->choices;
    }
    return "";
}

void capvd_config_print_reference(void)
{
    printf("# capverifyd configuration reference\n\n"
           "Generated by `capverifyd --print-config-reference`; the test suite checks that\n"
           "this file matches the binary.\n\n"
           "Sources, later ones winning: YAML files in the configuration directory (default\n"
           "`/etc/cap-verifier/`, every `*.yaml` / `*.yml` file in name order; each file holds\n"
           "top-level sections, so `cache.yaml` may hold just `cache:`), environment variables\n"
           "`CAPV_<SECTION>_<KEY>` (upper case; lists comma-separated; booleans `true|false`),\n"
           "then `--set section.key=value` flags. Unknown sections or keys, invalid values, a\n"
           "YAML null (`~`, `null`: leave the key out, or write `\"\"`), a key given twice in a\n"
           "section and a section given twice in the directory are startup errors naming the\n"
           "file, line and key.\n\n"
           "Values are also checked against each other and against the machine: listen\n"
           "addresses (`host:port` with an IPv4 address, `[IPv6]` or a host name, port\n"
           "1..65535 without a leading zero, the two listeners apart), TLS and authentication "
           "settings that need each\n"
           "other, readable certificate, key and trust files, CIDRs, CORS origins, the memory\n"
           "budget against the largest body, and where backups go. Each problem is reported\n"
           "as `SOURCE: key: reason`, SOURCE being `FILE:LINE:COL`, `env CAPV_…` or\n"
           "`--set key=value`; the daemon exits 3.\n\n"
           "`capverifyd --check-config` runs every check a start runs and exits (0 when the\n"
           "configuration is ok, 3 otherwise). `capverifyd --print-config` prints the\n"
           "effective configuration as YAML (secrets redacted, derived values as comments) and\n"
           "exits without starting anything.\n\n"
           "`capverify verify --daemon-config DIR PACKAGE` loads DIR and the environment as\n"
           "the daemon does (the same code, without `--set` flags and without the checks\n"
           "against the machine) and verifies with its `trust.*` and `verify.*` keys and its\n"
           "registry, read-only: the verdict a daemon with this configuration gives\n"
           "(docs/runbook.md).\n");
    const char *section = "";
    for (size_t i = 0; i < NKEYS; i++) {
        const cfg_key *k = &keys[i];
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            printf("\n## %s\n\n| key | type | default | environment | meaning |\n"
                   "|---|---|---|---|---|\n",
                   section);
        }
        char env[128];
        env_name(env, sizeof env, k);
        char range[64] = "", type[96], def[96];
        if (k->type == T_INT)
            snprintf(range, sizeof range, " (%lld..%lld)", (long long)k->min, (long long)k->max);
        /* a '|' would split the Markdown table cell; an empty `` is no code span */
        snprintf(type, sizeof type, "%s", type_name(k));
        for (char *p = type; *p; p++)
            if (*p == '|')
                *p = '/';
        if (*k->def)
            snprintf(def, sizeof def, "`%s`", k->def);
        else
            snprintf(def, sizeof def, "(empty)");
        printf("| `%s.%s` | %s%s | %s | `%s` | %s%s |\n", k->section, k->key, type, range, def, env,
               k->doc,
               k->flags & CFG_SECRET ? " Secret: `--print-config` shows it redacted (a URL's "
                                       "password as `***`)."
                                     : "");
    }
}

/* Text for roff: one sentence per line (a new sentence starts a new line), backslashes as
 * \e, a '.' or '\'' that would start a line escaped, Markdown code quotes dropped (the man
 * page sets no code spans). */
static void mdoc_text(const char *s)
{
    bool line_start = true;
    for (; *s; s++) {
        if (line_start && (*s == '.' || *s == '\''))
            fputs("\\&", stdout);
        line_start = false;
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s != '`')
            putchar(*s);
        if ((*s == '.' || *s == '?' || *s == '!' || *s == ':') && s[1] == ' ' && s[2] != '\0') {
            putchar('\n');
            s++; /* the space */
            line_start = true;
        }
    }
    putchar('\n');
}

void capvd_config_print_mdoc(void)
{
    const char *section = "";
    for (size_t i = 0; i < NKEYS; i++) {
        const cfg_key *k = &keys[i];
        if (strcmp(section, k->section) != 0) {
            if (*section)
                printf(".El\n");
            section = k->section;
            printf(".Ss %s\n.Bl -tag -width Ds\n", section);
        }
        char env[128];
        env_name(env, sizeof env, k);
        printf(".It Cm %s.%s Ar %s", k->section, k->key,
               k->type == T_ENUM ? "choice" : type_name(k));
        if (k->type == T_INT)
            printf(" Pq %lld..%lld", (long long)k->min, (long long)k->max);
        printf("\n");
        mdoc_text(k->doc);
        if (k->type == T_ENUM) {
            printf("One of:\n");
            mdoc_text(k->choices);
        }
        printf("Default:\n");
        mdoc_text(*k->def ? k->def : "(empty)");
        printf("Environment:\n.Ev %s .\n", env);
        if (k->flags & CFG_SECRET)
            printf("A secret:\n.Fl -print-config\nshows it redacted.\n");
    }
    if (*section)
        printf(".El\n");
}

/* ---- the effective configuration as YAML ---------------------------------------------- */

/* A YAML double-quoted scalar. */
static void print_quoted(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                printf("\\x%02x", *p);
            else
                putchar(*p);
        }
    }
    putchar('"');
}

static void print_string(const cfg_key *k, const char *v)
{
    if (!(k->flags & CFG_SECRET)) {
        print_quoted(v);
        return;
    }
    char *shown = redacted(v);
    print_quoted(shown != NULL ? shown : "***");
    free(shown);
}

/* The derived value of a CFG_DERIVED key whose value is 0, as a comment ("" if none). */
static void derived_comment(const capvd_config *c, const cfg_key *k, char *out, size_t cap)
{
    out[0] = '\0';
    if (k->offset == OFF(server_memory_budget_bytes)) {
        char why[300];
        int64_t b = capvd_memory_budget_explain(why, sizeof why);
        snprintf(out, cap, "  # derived: %lld (%s)", (long long)b, why);
    } else if (k->offset == OFF(server_rate_limit_burst) && c->server_rate_limit_per_second > 0) {
        snprintf(out, cap, "  # derived: %lld (= rate_limit_per_second)",
                 (long long)c->server_rate_limit_per_second);
    }
}

void capvd_config_print(const capvd_config *c)
{
    const char *section = "";
    for (size_t i = 0; i < NKEYS; i++) {
        const cfg_key *k = &keys[i];
        const void *slot = (const char *)c + k->offset;
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            printf("%s:\n", section);
        }
        printf("  %s: ", k->key);
        switch (k->type) {
        case T_STR:
        case T_ENUM: print_string(k, *(char *const *)slot); break;
        case T_INT: printf("%lld", (long long)*(const int64_t *)slot); break;
        case T_BOOL: fputs(*(const bool *)slot ? "true" : "false", stdout); break;
        case T_LIST: {
            const cfg_list *l = slot;
            putchar('[');
            for (int j = 0; j < l->n; j++) {
                fputs(j ? ", " : "", stdout);
                print_string(k, l->items[j]);
            }
            putchar(']');
            break;
        }
        }
        char comment[400] = "";
        if ((k->flags & CFG_DERIVED) && k->type == T_INT && *(const int64_t *)slot == 0)
            derived_comment(c, k, comment, sizeof comment);
        printf("%s\n", comment);
    }
}

/* ---- checks across keys ------------------------------------------------------------------ */

typedef struct checker {
    const capvd_config *c;
    char *buf;
    size_t cap, len;
    int problems;
} checker;

/* "SOURCE" of a field's value, or "default". */
static const char *src_of(const capvd_config *c, const void *field)
{
    const char *s = capvd_config_source(c, field);
    return s != NULL ? s : "default";
}

/* Adds one line "SOURCE: section.key: reason" about the value of `field`. */
static void problem(checker *ck, const void *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(checker *ck, const void *field, const char *fmt, ...)
{
    const cfg_key *k = key_of_field(ck->c, field);
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: %s.%s: ", src_of(ck->c, field), k ? k->section : "?",
                     k ? k->key : "?");
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    ck->problems++;
    if (ck->cap == 0)
        return;
    size_t need = strlen(line) + (ck->len > 0 ? 1 : 0);
    if (ck->len + need >= ck->cap)
        return; /* the first problems are the ones reported */
    snprintf(ck->buf + ck->len, ck->cap - ck->len, "%s%s", ck->len > 0 ? "\n" : "", line);
    ck->len += need;
}

/* Why a host name is not one ("" if it is), RFC 1123 labels. */
static const char *hostname_why(const char *h, size_t len, bool lower_only)
{
    if (len == 0 || len > 253)
        return "a host name has 1 to 253 characters";
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || h[i] == '.') {
            if (label == 0 || label > 63)
                return "each label of a host name has 1 to 63 characters";
            if (h[i - 1] == '-' || h[i - label] == '-')
                return "a host name label neither starts nor ends with '-'";
            label = 0;
            continue;
        }
        unsigned char ch = (unsigned char)h[i];
        if (lower_only && isupper(ch))
            return "browsers send origins in lower case: write the host in lower case";
        if (!isalnum(ch) && ch != '-')
            return "a host name has only letters, digits, '-' and '.'";
        label++;
    }
    return "";
}

enum host_kind { HOST_ANY4, HOST_ANY6, HOST_V4, HOST_V6, HOST_NAME };

typedef struct hostport {
    enum host_kind kind;
    uint8_t addr[16];
    char name[256];
    unsigned port;
} hostport;

/* Parses "host:port" (host: an IPv4 address, [IPv6], a host name, or empty for every
 * address). Returns NULL, or why it is not one. */
static const char *hostport_parse(hostport *hp, const char *s, bool lower_only)
{
    memset(hp, 0, sizeof *hp);
    const char *colon;
    char host[256];
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL)
            return "an IPv6 address in brackets lacks its ']'";
        size_t n = (size_t)(rb - s - 1);
        if (n == 0 || n >= sizeof host)
            return "not an IPv6 address inside [...]";
        memcpy(host, s + 1, n);
        host[n] = '\0';
        if (inet_pton(AF_INET6, host, hp->addr) != 1)
            return "not an IPv6 address inside [...]";
        static const uint8_t any6[16];
        hp->kind = memcmp(hp->addr, any6, 16) == 0 ? HOST_ANY6 : HOST_V6;
        if (rb[1] != ':')
            return "expected [IPv6]:port";
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return "expected host:port";
        size_t n = (size_t)(colon - s);
        if (memchr(s, ':', n) != NULL)
            return "an IPv6 address needs brackets: [ADDRESS]:PORT";
        if (n >= sizeof host)
            return "the host name is too long";
        memcpy(host, s, n);
        host[n] = '\0';
        if (n == 0) {
            hp->kind = HOST_ANY4; /* ":8080": every address */
        } else if (strspn(host, "0123456789.") == n) {
            if (inet_pton(AF_INET, host, hp->addr) != 1)
                return "not an IPv4 address";
            static const uint8_t any4[4];
            hp->kind = memcmp(hp->addr, any4, 4) == 0 ? HOST_ANY4 : HOST_V4;
        } else {
            const char *why = hostname_why(host, n, lower_only);
            if (*why)
                return why;
            hp->kind = HOST_NAME;
            for (size_t i = 0; i <= n; i++)
                hp->name[i] = (char)tolower((unsigned char)host[i]);
        }
    }
    const char *port = colon + 1;
    size_t pn = strlen(port);
    if (pn == 0 || pn > 5 || strspn(port, "0123456789") != pn)
        return "the port must be a number from 1 to 65535";
    if (port[0] == '0') /* CivetWeb would read "08080" as octal, or refuse it */
        return "the port must be a number from 1 to 65535, without a leading zero";
    unsigned long v = strtoul(port, NULL, 10);
    if (v < 1 || v > 65535)
        return "the port must be a number from 1 to 65535";
    hp->port = (unsigned)v;
    return NULL;
}

/* Whether two listeners would want the same socket (an address of each family's wildcard
 * covers every address of that family; a host name may resolve to any). */
static bool same_address(const hostport *a, const hostport *b)
{
    if (a->port != b->port)
        return false;
    if (a->kind == b->kind) {
        switch (a->kind) {
        case HOST_ANY4:
        case HOST_ANY6: return true;
        case HOST_V4: return memcmp(a->addr, b->addr, 4) == 0;
        case HOST_V6: return memcmp(a->addr, b->addr, 16) == 0;
        case HOST_NAME: return strcmp(a->name, b->name) == 0;
        }
    }
    for (int swap = 0; swap < 2; swap++) {
        const hostport *x = swap ? b : a, *y = swap ? a : b;
        if (x->kind == HOST_ANY4 && (y->kind == HOST_V4 || y->kind == HOST_NAME))
            return true;
        if (x->kind == HOST_ANY6 && (y->kind == HOST_V6 || y->kind == HOST_NAME))
            return true;
        if (x->kind == HOST_NAME && (y->kind == HOST_V4 || y->kind == HOST_V6))
            return true; /* "localhost" is 127.0.0.1 */
    }
    return false;
}

/* Why `o` is not a CORS origin ("scheme://host[:port]"), or NULL. */
static const char *origin_why(const char *o)
{
    if (strchr(o, '*') != NULL)
        return "wildcards are not allowed: list each origin";
    const char *rest;
    if (strncmp(o, "https://", 8) == 0)
        rest = o + 8;
    else if (strncmp(o, "http://", 7) == 0)
        rest = o + 7;
    else
        return "an origin is scheme://host[:port] with scheme http or https";
    if (strpbrk(rest, "/?#") != NULL)
        return "an origin has no path, query or fragment (not even a trailing '/')";
    if (strchr(rest, '@') != NULL)
        return "an origin has no user info";
    if (*rest == '\0')
        return "the host is missing";
    /* with a default port: the same syntax as host:port */
    char hp_text[300];
    const char *last_colon = strrchr(rest, ':');
    bool has_port = last_colon != NULL && (rest[0] != '[' || last_colon > strchr(rest, ']'));
    snprintf(hp_text, sizeof hp_text, "%s%s", rest, has_port ? "" : ":443");
    hostport hp;
    const char *why = hostport_parse(&hp, hp_text, true);
    if (why == NULL && (hp.kind == HOST_ANY4 || hp.kind == HOST_ANY6))
        return "the host is missing or a wildcard address";
    return why;
}

const char *capvd_issuer_origin(const char *issuer, char *out, size_t cap)
{
    const char *p = strstr(issuer, "://");
    if (p == NULL)
        return "not a URL (scheme://host[:port]/...)";
    size_t n = (size_t)(p + 3 - issuer) + strcspn(p + 3, "/?#");
    if (n + 1 > cap)
        return "too long";
    memcpy(out, issuer, n);
    out[n] = '\0';
    const char *why = origin_why(out);
    if (why != NULL)
        out[0] = '\0';
    return why;
}

/* Why `path` cannot be read as a file, or NULL. */
static const char *file_why(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(buf, cap, "cannot open %s: %s", path, strerror(errno));
        return buf;
    }
    struct stat st;
    bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    close(fd);
    if (dir) {
        snprintf(buf, cap, "%s is a directory, not a file", path);
        return buf;
    }
    return NULL;
}

/* Why `path` cannot be listed as a directory, or NULL. */
static const char *dir_why(const char *path, char *buf, size_t cap)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        snprintf(buf, cap, "cannot read the directory %s: %s", path, strerror(errno));
        return buf;
    }
    closedir(d);
    return NULL;
}

/* `p` made absolute and normalized: the real path of its longest existing ancestor (symbolic
 * links resolved), then the remaining components with "." and ".." applied. */
static bool abs_path(const char *p, char *out, size_t cap)
{
    char joined[PATH_MAX * 2];
    if (p[0] == '/') {
        snprintf(joined, sizeof joined, "%s", p);
    } else {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd) == NULL)
            return false;
        snprintf(joined, sizeof joined, "%s/%s", cwd, p);
    }
    /* lexical normalization */
    char norm[PATH_MAX * 2];
    size_t n = 0;
    norm[0] = '\0';
    for (const char *q = joined; *q;) {
        while (*q == '/')
            q++;
        size_t len = strcspn(q, "/");
        if (len == 0)
            break;
        if (len == 1 && q[0] == '.') {
        } else if (len == 2 && q[0] == '.' && q[1] == '.') {
            while (n > 0 && norm[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
            norm[n] = '\0';
        } else {
            if (n + 1 + len + 1 > sizeof norm)
                return false;
            norm[n++] = '/';
            memcpy(norm + n, q, len);
            n += len;
            norm[n] = '\0';
        }
        q += len;
    }
    if (n == 0)
        snprintf(norm, sizeof norm, "/");
    /* resolve the longest existing prefix */
    char head[PATH_MAX * 2];
    snprintf(head, sizeof head, "%s", norm);
    size_t cut = strlen(head);
    for (;;) {
        char real[PATH_MAX];
        if (realpath(head, real) != NULL) {
            const char *tail = norm + cut;
            int w = snprintf(out, cap, "%s%s", strcmp(real, "/") == 0 && *tail ? "" : real, tail);
            return w > 0 && (size_t)w < cap;
        }
        char *slash = strrchr(head, '/');
        if (slash == NULL || slash == head) {
            int w = snprintf(out, cap, "%s", norm);
            return w > 0 && (size_t)w < cap;
        }
        *slash = '\0';
        cut = (size_t)(slash - head);
    }
}

/* Whether `child` is `parent` or lies below it (both resolved with abs_path). */
static bool path_within(const char *child, const char *parent)
{
    char c[PATH_MAX * 2], p[PATH_MAX * 2];
    if (!abs_path(child, c, sizeof c) || !abs_path(parent, p, sizeof p))
        return false;
    size_t pl = strlen(p);
    if (strcmp(p, "/") == 0)
        return true;
    return strncmp(c, p, pl) == 0 && (c[pl] == '\0' || c[pl] == '/');
}

static void check_listeners(checker *ck)
{
    const capvd_config *c = ck->c;
    hostport api, admin;
    const char *why = hostport_parse(&api, c->server_listen, false);
    bool api_ok = why == NULL;
    if (!api_ok)
        problem(ck, &c->server_listen, "'%s': %s", c->server_listen, why);
    if (*c->server_admin_listen == '\0')
        return; /* no admin listener */
    why = hostport_parse(&admin, c->server_admin_listen, false);
    if (why != NULL)
        problem(ck, &c->server_admin_listen, "'%s': %s", c->server_admin_listen, why);
    else if (api_ok && same_address(&api, &admin))
        problem(ck, &c->server_admin_listen,
                "'%s' is the same address as server.listen '%s' (%s): the listeners need "
                "different ports",
                c->server_admin_listen, c->server_listen, src_of(c, &c->server_listen));
}

static void check_server(checker *ck)
{
    const capvd_config *c = ck->c;
    for (int i = 0; i < c->server_trusted_proxies.n; i++) {
        cidr range;
        const char *why = cidr_parse_why(&range, c->server_trusted_proxies.items[i]);
        if (why != NULL)
            problem(ck, &c->server_trusted_proxies, "'%s' is not a CIDR: %s",
                    c->server_trusted_proxies.items[i], why);
    }
    for (int i = 0; i < c->server_cors_origins.n; i++) {
        const char *why = origin_why(c->server_cors_origins.items[i]);
        if (why != NULL)
            problem(ck, &c->server_cors_origins, "'%s' is not an origin: %s",
                    c->server_cors_origins.items[i], why);
    }
    if (c->server_rate_limit_burst > 0 && c->server_rate_limit_per_second == 0)
        problem(ck, &c->server_rate_limit_burst,
                "a burst without server.rate_limit_per_second (%s: 0, rate limiting off) "
                "does nothing",
                src_of(c, &c->server_rate_limit_per_second));
    char why[300] = "";
    int64_t budget = c->server_memory_budget_bytes;
    if (budget == 0) {
        char how[280];
        budget = capvd_memory_budget_explain(how, sizeof how);
        snprintf(why, sizeof why, " (0: derived, %s)", how);
    }
    if (budget < c->server_max_body_bytes)
        problem(ck, &c->server_memory_budget_bytes,
                "a budget of %lld bytes%s cannot hold one body of server.max_body_bytes = %lld "
                "(%s): raise the budget or lower max_body_bytes",
                (long long)budget, why, (long long)c->server_max_body_bytes,
                src_of(c, &c->server_max_body_bytes));
}

static void check_tls(checker *ck)
{
    const capvd_config *c = ck->c;
    char buf[600];
    const char *why;
    bool cert = *c->tls_cert_file != '\0', key = *c->tls_key_file != '\0';
    if (cert && !key)
        problem(ck, &c->tls_cert_file, "set without tls.key_file: set both or neither");
    if (key && !cert)
        problem(ck, &c->tls_key_file, "set without tls.cert_file: set both or neither");
    if (cert && (why = file_why(c->tls_cert_file, buf, sizeof buf)) != NULL)
        problem(ck, &c->tls_cert_file, "%s", why);
    if (key && (why = file_why(c->tls_key_file, buf, sizeof buf)) != NULL)
        problem(ck, &c->tls_key_file, "%s", why);
    if (*c->tls_client_ca_file) {
        if (!cert || !key)
            problem(ck, &c->tls_client_ca_file,
                    "client certificates need TLS: set tls.cert_file and tls.key_file");
        if ((why = file_why(c->tls_client_ca_file, buf, sizeof buf)) != NULL)
            problem(ck, &c->tls_client_ca_file, "%s", why);
    }
}

static void check_auth(checker *ck)
{
    const capvd_config *c = ck->c;
    char buf[600];
    const char *why;
    if (c->auth_enabled) {
        bool no_issuer = !*c->auth_issuer, no_aud = c->auth_audiences.n == 0,
             no_jwks = !*c->auth_jwks_url;
        if (no_issuer || no_aud || no_jwks)
            problem(ck, &c->auth_enabled,
                    "true needs auth.issuer, auth.audiences and "
                    "auth.jwks_url; empty:%s%s%s",
                    no_issuer ? " auth.issuer" : "", no_aud ? " auth.audiences" : "",
                    no_jwks ? " auth.jwks_url" : "");
    } else if (c->auth_metrics_requires_scope) {
        problem(ck, &c->auth_metrics_requires_scope,
                "needs auth.enabled (%s: false): without authentication /metrics stays open",
                src_of(c, &c->auth_enabled));
    }
    /* the URL itself is not repeated: it may hold a password */
    if (c->auth_enabled && strncasecmp(c->auth_jwks_url, "http://", 7) == 0 &&
        !c->auth_allow_insecure_http)
        problem(ck, &c->auth_jwks_url,
                "a plain http:// key set needs auth.allow_insecure_http=true (loopback tests "
                "only); use https://");
    if (*c->auth_ca_file && (why = file_why(c->auth_ca_file, buf, sizeof buf)) != NULL)
        problem(ck, &c->auth_ca_file, "%s", why);
}

/* RFC 6749 §A.4 scope-token and §A.1 client_id characters: the UI's configuration document
 * carries them, and its sign-in request sends them. */
static bool printable(const char *s, bool space)
{
    for (; *s; s++)
        if ((unsigned char)*s < (space ? 0x20 : 0x21) || (unsigned char)*s > 0x7e ||
            (!space && (*s == '"' || *s == '\\')))
            return false;
    return true;
}

static void check_ui(checker *ck)
{
    const capvd_config *c = ck->c;
    if (!printable(c->ui_client_id, true))
        problem(ck, &c->ui_client_id, "must be printable ASCII");
    for (int i = 0; i < c->ui_scopes.n; i++)
        if (!*c->ui_scopes.items[i] || !printable(c->ui_scopes.items[i], false))
            problem(ck, &c->ui_scopes,
                    "'%s' is not a scope (printable ASCII without spaces, '\"' "
                    "or '\\')",
                    c->ui_scopes.items[i]);
    char origin[300];
    const char *why;
    if (c->ui_enabled && c->auth_enabled && *c->ui_client_id && *c->auth_issuer &&
        (why = capvd_issuer_origin(c->auth_issuer, origin, sizeof origin)) != NULL)
        problem(ck, &c->auth_issuer,
                "the UI signs in at this issuer (ui.client_id %s), which must be an http(s) URL "
                "with an origin: %s",
                src_of(c, &c->ui_client_id), why);
    if (*c->ui_token_origin) {
        if ((why = origin_why(c->ui_token_origin)) != NULL)
            problem(ck, &c->ui_token_origin, "'%s': %s", c->ui_token_origin, why);
        else if (!*c->ui_client_id)
            problem(ck, &c->ui_token_origin,
                    "has no effect without ui.client_id: the UI signs in only with one");
    }
}

static void check_storage(checker *ck, const char *config_dir)
{
    const capvd_config *c = ck->c;
    char buf[600];
    const char *why;
    struct stat st;
    if (*c->registry_url) {
        if (!capv_registry_location_is_postgres(c->registry_url))
            problem(ck, &c->registry_url,
                    "not a PostgreSQL URL: it must start with postgresql:// or postgres://");
        if (*c->registry_password_file &&
            (why = file_why(c->registry_password_file, buf, sizeof buf)) != NULL)
            problem(ck, &c->registry_password_file, "%s", why);
    } else if (*c->registry_password_file) {
        problem(ck, &c->registry_password_file,
                "set without registry.url: only a PostgreSQL registry has a password");
    } else if (!*c->registry_path) {
        problem(ck, &c->registry_path, "empty: the registry needs a database file");
    } else if (stat(c->registry_path, &st) == 0 && S_ISDIR(st.st_mode)) {
        problem(ck, &c->registry_path, "%s is a directory, not a database file", c->registry_path);
    }
    if (*c->registry_signing_key_file &&
        (why = file_why(c->registry_signing_key_file, buf, sizeof buf)) != NULL)
        problem(ck, &c->registry_signing_key_file, "%s", why);
    if (*c->trust_dir && (why = dir_why(c->trust_dir, buf, sizeof buf)) != NULL)
        problem(ck, &c->trust_dir, "%s", why);
    if (*c->trust_policy_dir && (why = dir_why(c->trust_policy_dir, buf, sizeof buf)) != NULL)
        problem(ck, &c->trust_policy_dir, "%s", why);
    if (*c->trust_tsa_ca_file && (why = file_why(c->trust_tsa_ca_file, buf, sizeof buf)) != NULL)
        problem(ck, &c->trust_tsa_ca_file, "%s", why);

    if (*c->backup_signing_key_file &&
        (why = file_why(c->backup_signing_key_file, buf, sizeof buf)) != NULL)
        problem(ck, &c->backup_signing_key_file, "%s", why);

    /* Backups are files named registry-<UTC>.sqlite with a .json sidecar: in a trust or
     * policy directory the next reload would read the sidecars as keys or policies, and a
     * configuration directory is replaced as a whole (a Kubernetes ConfigMap) or read-only. */
    if (!*c->backup_dir) {
        problem(ck, &c->backup_dir, "empty: backups need a directory");
        return;
    }
    if (stat(c->backup_dir, &st) == 0 && !S_ISDIR(st.st_mode))
        problem(ck, &c->backup_dir, "%s exists and is not a directory", c->backup_dir);
    if (*c->trust_dir && path_within(c->backup_dir, c->trust_dir))
        problem(ck, &c->backup_dir,
                "inside trust.dir %s (%s): the backups' .json sidecars would be read as keys",
                c->trust_dir, src_of(c, &c->trust_dir));
    if (*c->trust_policy_dir && path_within(c->backup_dir, c->trust_policy_dir))
        problem(ck, &c->backup_dir,
                "inside trust.policy_dir %s (%s): the backups' .json sidecars would be read as "
                "policies",
                c->trust_policy_dir, src_of(c, &c->trust_policy_dir));
    if (config_dir != NULL && *config_dir && path_within(c->backup_dir, config_dir))
        problem(ck, &c->backup_dir,
                "inside the configuration directory %s: keep backups on a data volume", config_dir);
    if (!*c->registry_url && *c->registry_path && path_within(c->registry_path, c->backup_dir))
        problem(ck, &c->backup_dir,
                "holds the live registry.path %s (%s): keep backups apart from the database",
                c->registry_path, src_of(c, &c->registry_path));
}

/* backup.s3.*: the library's own rule for the URL, endpoint and region
 * (capv_backup_remote_check_options: https, or http on a loopback host), and credentials
 * that can be found. */
static void check_offsite(checker *ck)
{
    const capvd_config *c = ck->c;
    char buf[600];
    const char *why;
    if (!*c->backup_s3_url) {
        const void *set = *c->backup_s3_endpoint ? (const void *)&c->backup_s3_endpoint
                          : *c->backup_s3_credentials_file
                              ? (const void *)&c->backup_s3_credentials_file
                          : *c->backup_s3_ca_file ? (const void *)&c->backup_s3_ca_file
                                                  : NULL;
        if (set != NULL)
            problem(ck, set, "set without backup.s3.url: off-site copies need a bucket");
        return;
    }
    capv_backup_remote_options o = CAPV_BACKUP_REMOTE_OPTIONS_INIT;
    o.url = c->backup_s3_url;
    o.endpoint = c->backup_s3_endpoint;
    o.region = c->backup_s3_region;
    o.path_style = c->backup_s3_path_style;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_backup_remote_check_options(&o, &err) != CAPV_OK)
        problem(ck,
                strcmp(err.field, "endpoint") == 0 ? (const void *)&c->backup_s3_endpoint
                : strcmp(err.field, "region") == 0 ? (const void *)&c->backup_s3_region
                                                   : (const void *)&c->backup_s3_url,
                "%s", err.message);
    if (*c->backup_s3_credentials_file) {
        if ((why = file_why(c->backup_s3_credentials_file, buf, sizeof buf)) != NULL)
            problem(ck, &c->backup_s3_credentials_file, "%s", why);
    } else if (getenv("AWS_ACCESS_KEY_ID") == NULL || getenv("AWS_SECRET_ACCESS_KEY") == NULL) {
        problem(ck, &c->backup_s3_credentials_file,
                "empty, and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set: off-site "
                "copies need credentials");
    }
    if (*c->backup_s3_ca_file && (why = file_why(c->backup_s3_ca_file, buf, sizeof buf)) != NULL)
        problem(ck, &c->backup_s3_ca_file, "%s", why);
}

bool capvd_config_check(const capvd_config *c, const char *config_dir, char *errbuf, size_t errlen)
{
    checker ck = { .c = c, .buf = errbuf, .cap = errlen };
    if (errlen > 0)
        errbuf[0] = '\0';
    check_listeners(&ck);
    check_server(&ck);
    check_tls(&ck);
    check_auth(&ck);
    check_ui(&ck);
    check_storage(&ck, config_dir);
    check_offsite(&ck);
    return ck.problems == 0;
}
