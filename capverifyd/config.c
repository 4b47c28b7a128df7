/* Table-driven configuration: one descriptor per key gives its type, default, bounds and
 * documentation; YAML files, environment and flags all go through the same setter. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

enum cfg_type { T_STR, T_INT, T_BOOL, T_LIST, T_ENUM };

typedef struct cfg_key {
    const char *section;
    const char *key;
    enum cfg_type type;
    size_t offset;
    const char *def; /* default as text (lists comma-separated) */
    int64_t min, max;
    const char *choices; /* T_ENUM: '|'-separated */
    const char *doc;
} cfg_key;

#define OFF(f) offsetof(capvd_config, f)
#define MiB (1024 * 1024)

static const cfg_key keys[] = {
    { "server", "listen", T_STR, OFF(server_listen), "0.0.0.0:8080", 0, 0, NULL,
      "API listener `host:port` (all routes)." },
    { "server", "admin_listen", T_STR, OFF(server_admin_listen), "0.0.0.0:9090", 0, 0, NULL,
      "Admin listener `host:port`: /healthz, /readyz, /metrics only, with its own threads so "
      "slow API clients never starve the probes. Empty disables it." },
    { "server", "threads", T_INT, OFF(server_threads), "256", 1, 4096, NULL,
      "Worker threads of the API listener. Each holds one connection, idle or slow ones "
      "included, until a deadline cuts it off: keep it above the number of concurrent "
      "connections you expect, slow clients included (an idle thread costs little memory; "
      "request bodies are bounded by server.memory_budget_bytes, not by this)." },
    { "server", "admin_threads", T_INT, OFF(server_admin_threads), "4", 1, 64, NULL,
      "Worker threads of the admin listener." },
    { "server", "max_body_bytes", T_INT, OFF(server_max_body_bytes), "16777216", 1024,
      1073741824, NULL, "Largest request body; larger requests get 413 before the body is read." },
    { "server", "request_timeout_ms", T_INT, OFF(server_request_timeout_ms), "30000", 100,
      600000, NULL, "Time a client may take to send a request (slow clients are cut off)." },
    { "server", "keep_alive_ms", T_INT, OFF(server_keep_alive_ms), "5000", 0, 600000, NULL,
      "Idle time a keep-alive connection is held open (0 disables keep-alive)." },
    { "server", "cors_origins", T_LIST, OFF(server_cors_origins), "", 0, 0, NULL,
      "Origins allowed by CORS; empty (default) sends no CORS headers." },
    { "server", "rate_limit_per_second", T_INT, OFF(server_rate_limit_per_second), "0", 0,
      1000000, NULL, "Token-bucket rate of API requests per second (0 = off): one bucket per "
      "authenticated subject, and one per client address for unauthenticated and failed "
      "requests; excess requests get 429 with Retry-After." },
    { "server", "rate_limit_burst", T_INT, OFF(server_rate_limit_burst), "0", 0, 1000000,
      NULL, "Requests a bucket holds (the burst above the rate); 0 = rate_limit_per_second." },
    { "server", "trusted_proxies", T_LIST, OFF(server_trusted_proxies), "", 0, 0, NULL,
      "CIDRs (`10.0.0.0/8`, `::1/128`) of proxies whose X-Forwarded-For is believed: the "
      "client address is the right-most address in it that is not a trusted proxy. Empty = "
      "the peer address is the client." },
    { "tls", "cert_file", T_STR, OFF(tls_cert_file), "", 0, 0, NULL,
      "PEM certificate chain; with key_file enables HTTPS on the API listener (the admin "
      "listener stays plain HTTP for probes and scrapes). Reloaded on SIGHUP and when the "
      "file changes." },
    { "tls", "key_file", T_STR, OFF(tls_key_file), "", 0, 0, NULL, "PEM private key." },
    { "tls", "client_ca_file", T_STR, OFF(tls_client_ca_file), "", 0, 0, NULL,
      "PEM CA bundle; when set, API clients must present a certificate it issued (mTLS)." },
    { "tls", "min_version", T_ENUM, OFF(tls_min_version), "1.2", 0, 0, "1.2|1.3",
      "Lowest TLS version accepted." },
    { "auth", "enabled", T_BOOL, OFF(auth_enabled), "false", 0, 0, NULL,
      "Require `Authorization: Bearer <JWT>` on API routes. Off by default, with a loud "
      "warning at start." },
    { "auth", "issuer", T_STR, OFF(auth_issuer), "", 0, 0, NULL,
      "Exact `iss` every token must carry." },
    { "auth", "audiences", T_LIST, OFF(auth_audiences), "", 0, 0, NULL,
      "Accepted audiences; a token's `aud` (string or array) must contain one." },
    { "auth", "jwks_url", T_STR, OFF(auth_jwks_url), "", 0, 0, NULL,
      "`https://…` JWKS of the identity provider, or `file:///path/jwks.json` (re-read on "
      "SIGHUP)." },
    { "auth", "jwks_cache_ttl_seconds", T_INT, OFF(auth_jwks_cache_ttl_seconds), "600", 60,
      86400, NULL, "How long a fetched key set is fresh (a Cache-Control max-age of the IdP, "
      "clamped to [60 s, 1 h], wins)." },
    { "auth", "leeway_seconds", T_INT, OFF(auth_leeway_seconds), "60", 0, 600, NULL,
      "Clock skew allowed for exp / nbf / iat." },
    { "auth", "refresh_min_interval_seconds", T_INT, OFF(auth_refresh_min_interval_seconds),
      "30", 1, 3600, NULL, "At most one JWKS fetch per interval for unknown key ids." },
    { "auth", "max_stale_seconds", T_INT, OFF(auth_max_stale_seconds), "3600", 0, 604800, NULL,
      "How long the last good key set keeps serving while the IdP is unreachable; after "
      "that requests get 503 and /readyz fails." },
    { "auth", "fetch_timeout_ms", T_INT, OFF(auth_fetch_timeout_ms), "2000", 100, 60000, NULL,
      "Longest a JWKS fetch (and so a request waiting for one) may take." },
    { "auth", "max_lifetime_seconds", T_INT, OFF(auth_max_lifetime_seconds), "0", 0,
      31536000, NULL, "Reject tokens whose exp - iat exceeds this (0 = no limit)." },
    { "auth", "allowed_algs", T_LIST, OFF(auth_allowed_algs), "RS256,PS256,ES256,EdDSA", 0, 0,
      NULL, "JWS algorithms accepted; `none` and HS* are always rejected." },
    { "auth", "allow_insecure_http", T_BOOL, OFF(auth_allow_insecure_http), "false", 0, 0, NULL,
      "Allow an `http://` JWKS URL on a loopback address (tests only)." },
    { "auth", "ca_file", T_STR, OFF(auth_ca_file), "", 0, 0, NULL,
      "PEM CA bundle for the IdP's TLS certificate (default: the system store)." },
    { "auth", "metrics_requires_scope", T_BOOL, OFF(auth_metrics_requires_scope), "false", 0, 0,
      NULL, "Require scope `metrics:read` for /metrics on the API port (never on the admin port)." },
    { "cache", "enabled", T_BOOL, OFF(cache_enabled), "true", 0, 0, NULL,
      "Cache verification reports of zip uploads (keyed by package bytes, options and the "
      "trust / policy / registry epoch, so a reload never serves a stale verdict)." },
    { "cache", "size", T_INT, OFF(cache_size), "10000", 1, 10000000, NULL,
      "Most cached reports." },
    { "cache", "ttl_seconds", T_INT, OFF(cache_ttl_seconds), "300", 1, 86400, NULL,
      "Age after which a cached report is not served." },
    { "cache", "max_bytes", T_INT, OFF(cache_max_bytes), "67108864", 65536, 17179869184LL, NULL,
      "Most bytes of cached reports." },
    { "registry", "path", T_STR, OFF(registry_path), "./data/registry.sqlite", 0, 0, NULL,
      "SQLite registry database (created if missing); this process is its only writer." },
    { "registry", "synchronous", T_ENUM, OFF(registry_synchronous), "full", 0, 0, "full|normal",
      "SQLite synchronous mode: full (durable on power loss) or normal." },
    { "registry", "busy_timeout_ms", T_INT, OFF(registry_busy_timeout_ms), "5000", 0, 600000,
      NULL, "How long readers wait on a locked database." },
    { "registry", "record_verifications", T_BOOL, OFF(registry_record_verifications), "true", 0,
      0, NULL, "Record every verification (subject, hashes, result, report) in the registry." },
    { "registry", "signing_key_file", T_STR, OFF(registry_signing_key_file), "", 0, 0, NULL,
      "PEM Ed25519 key that signs new registry entries (SPEC §3.7); empty = unsigned." },
    { "registry", "max_report_bytes", T_INT, OFF(registry_max_report_bytes), "16384", 1024,
      16777216, NULL,
      "Largest report stored with a verification; a larger one is stored as its summary "
      "(result, failing checks, hashes and the full report's SHA3-256)." },
    { "registry", "verification_retention_days", T_INT,
      OFF(registry_verification_retention_days), "90", 0, 36500, NULL,
      "Verification records older than this are pruned by the writer in small batches "
      "(0 = kept forever). Registry entries are never pruned." },
    { "trust", "dir", T_STR, OFF(trust_dir), "", 0, 0, NULL,
      "Trust store: directory of `*.pub` / cap-key.v1 `*.json` keys (reloaded on SIGHUP). "
      "Empty = no trusted keys (every signature fails; a warning is logged)." },
    { "trust", "policy_dir", T_STR, OFF(trust_policy_dir), "", 0, 0, NULL,
      "Directory of known policies for policy.binding: IR v1 `*.json`, PolicyV2 and policy v1 "
      "`*.yml` / `*.yaml` (reloaded on SIGHUP)." },
    { "trust", "tsa_ca_file", T_STR, OFF(trust_tsa_ca_file), "", 0, 0, NULL,
      "PEM roots of trusted RFC 3161 time-stamping authorities." },
    { "verify", "require_signature", T_BOOL, OFF(verify_require_signature), "true", 0, 0, NULL,
      "An unsigned manifest fails (false: warns)." },
    { "verify", "require_timestamp", T_BOOL, OFF(verify_require_timestamp), "false", 0, 0, NULL,
      "A package without a timestamp token warns." },
    { "verify", "check_registry", T_BOOL, OFF(verify_check_registry), "false", 0, 0, NULL,
      "A package without a registry entry warns." },
    { "verify", "strict", T_BOOL, OFF(verify_strict), "false", 0, 0, NULL,
      "Unknown policies and unverifiable proof backends fail instead of warn." },
    { "verify", "allow_untrusted", T_BOOL, OFF(verify_allow_untrusted), "false", 0, 0, NULL,
      "A valid signature by an untrusted key warns instead of fails." },
    { "verify", "mock_policy", T_ENUM, OFF(verify_mock_policy), "warn", 0, 0, "warn|fail|accept",
      "Result of the proof.backend check for mock proofs (no cryptographic assurance)." },
    { "verify", "max_entries", T_INT, OFF(verify_max_entries), "10000", 1, 1000000, NULL,
      "Most members in an uploaded package (zip entries)." },
    { "backup", "dir", T_STR, OFF(backup_dir), "./data/backups", 0, 0, NULL,
      "Directory of registry backups (`registry-<UTC>.sqlite` + `.json` sidecar)." },
    { "backup", "interval_seconds", T_INT, OFF(backup_interval_seconds), "86400", 0, 31536000,
      NULL, "Scheduled online backup interval (the runbook's RPO); 0 disables the schedule." },
    { "backup", "retain", T_INT, OFF(backup_retain), "7", 1, 10000, NULL,
      "Backups kept (newest first)." },
    { "logging", "level", T_ENUM, OFF(logging_level), "info", 0, 0, "debug|info|warn|error",
      "Log level; SIGUSR1 lowers it one step (more verbose), SIGUSR2 raises it." },
    { "shutdown", "grace_seconds", T_INT, OFF(shutdown_grace_seconds), "5", 0, 300, NULL,
      "After SIGTERM: /readyz answers 503 at once, new requests are still served this long." },
    { "shutdown", "timeout_seconds", T_INT, OFF(shutdown_timeout_seconds), "25", 1, 3600, NULL,
      "Then in-flight requests get at most this long to finish before the process exits." },
};

#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const sections[] = { "server", "tls", "auth", "cache", "registry", "trust",
                                        "verify", "backup", "logging", "shutdown" };

static bool is_section(const char *s)
{
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        if (strcmp(s, sections[i]) == 0)
            return true;
    return false;
}

static const cfg_key *find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
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
static bool set_value(capvd_config *c, const cfg_key *k, const char *text, bool append,
                      char *why, size_t whylen)
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
            fprintf(stderr, "capverifyd: bad default for %s.%s: %s\n", keys[i].section,
                    keys[i].key, why);
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
    }
}

/* ---- YAML files ------------------------------------------------------------------------ */

typedef struct yctx {
    yaml_parser_t p;
    yaml_event_t ev;
    bool have;
    const char *file;
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

static bool fail_at(yctx *y, const char *what, const char *detail)
{
    snprintf(y->errbuf, y->errlen, "%s:%zu:%zu: %s: %s", y->file, y->ev.start_mark.line + 1,
             y->ev.start_mark.column + 1, what, detail);
    return false;
}

static bool load_section(capvd_config *c, yctx *y, const char *section)
{
    if (!next(y))
        return false;
    if (y->ev.type == YAML_SCALAR_EVENT && y->ev.data.scalar.length == 0)
        return true; /* "section:" with nothing under it */
    if (y->ev.type != YAML_MAPPING_START_EVENT)
        return fail_at(y, section, "must be a mapping of keys");
    for (;;) {
        if (!next(y))
            return false;
        if (y->ev.type == YAML_MAPPING_END_EVENT)
            return true;
        if (y->ev.type != YAML_SCALAR_EVENT)
            return fail_at(y, section, "keys must be scalars");
        char name[64], full[160], why[200];
        snprintf(name, sizeof name, "%s", (const char *)y->ev.data.scalar.value);
        snprintf(full, sizeof full, "%s.%s", section, name);
        const cfg_key *k = find_key(section, name);
        if (k == NULL)
            return fail_at(y, full, "unknown key");
        if (!next(y))
            return false;
        if (y->ev.type == YAML_SCALAR_EVENT) {
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
                if (!set_value(c, k, (const char *)y->ev.data.scalar.value, true, why,
                               sizeof why))
                    return fail_at(y, full, why);
            }
        } else {
            return fail_at(y, full, k->type == T_LIST ? "must be a list or a scalar"
                                                      : "must be a scalar");
        }
    }
}

static bool load_file(capvd_config *c, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    yctx y = { .file = path, .errbuf = errbuf, .errlen = errlen };
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
        if (!is_section(section)) {
            fail_at(&y, section, "unknown section");
            goto out;
        }
        if (!load_section(c, &y, section))
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

static bool load_dir(capvd_config *c, const char *dir, bool required, char *errbuf,
                     size_t errlen)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT && !required)
            return true;
        snprintf(errbuf, errlen, "%s: %s", dir, strerror(errno));
        return false;
    }
    char *names[256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue; /* includes Kubernetes' ..data symlink farm */
        if ((l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0) ||
            (l > 4 && strcmp(de->d_name + l - 4, ".yml") == 0))
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, name_cmp);
    bool ok = true;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (ok && names[i] != NULL)
            ok = load_file(c, path, errbuf, errlen);
        free(names[i]);
    }
    return ok;
}

/* ---- environment and flags ------------------------------------------------------------- */

static void env_name(char *out, size_t cap, const cfg_key *k)
{
    snprintf(out, cap, "CAPV_%s_%s", k->section, k->key);
    for (char *p = out; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

extern char **environ;

static bool load_env(capvd_config *c, char *errbuf, size_t errlen)
{
    char why[200], name[128];
    for (size_t i = 0; i < NKEYS; i++) {
        env_name(name, sizeof name, &keys[i]);
        const char *v = getenv(name);
        if (v != NULL && !set_value(c, &keys[i], v, false, why, sizeof why)) {
            snprintf(errbuf, errlen, "env %s: %s.%s: %s", name, keys[i].section, keys[i].key,
                     why);
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
        for (size_t s = 0; s < sizeof sections / sizeof *sections; s++) {
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
    char section[64] = "", key[64] = "", why[200];
    if (eq == NULL || dot == NULL || dot > eq) {
        snprintf(errbuf, errlen, "--set %s: expected section.key=value", set);
        return false;
    }
    snprintf(section, sizeof section, "%.*s", (int)(dot - set), set);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    const cfg_key *k = find_key(section, key);
    if (k == NULL) {
        snprintf(errbuf, errlen, "--set %s: unknown key %s.%s", set, section, key);
        return false;
    }
    if (!set_value(c, k, eq + 1, false, why, sizeof why)) {
        snprintf(errbuf, errlen, "--set %s: %s.%s: %s", set, section, key, why);
        return false;
    }
    return true;
}

bool capvd_config_load(capvd_config *c, const char *dir, bool dir_required, char **sets,
                       int nsets, char *errbuf, size_t errlen)
{
    if (dir != NULL && !load_dir(c, dir, dir_required, errbuf, errlen))
        return false;
    if (!load_env(c, errbuf, errlen))
        return false;
    for (int i = 0; i < nsets; i++)
        if (!load_set(c, sets[i], errbuf, errlen))
            return false;
    if ((*c->tls_cert_file != '\0') != (*c->tls_key_file != '\0')) {
        snprintf(errbuf, errlen, "tls.cert_file and tls.key_file must be set together");
        return false;
    }
    if (*c->tls_client_ca_file && !*c->tls_cert_file) {
        snprintf(errbuf, errlen, "tls.client_ca_file needs tls.cert_file and tls.key_file");
        return false;
    }
    if (c->auth_enabled && (!*c->auth_issuer || c->auth_audiences.n == 0 || !*c->auth_jwks_url)) {
        snprintf(errbuf, errlen,
                 "auth.enabled needs auth.issuer, auth.audiences and auth.jwks_url");
        return false;
    }
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
           "then `--set section.key=value` flags. Unknown sections or keys and invalid values\n"
           "are startup errors naming the file, line and key. `capverifyd --check-config`\n"
           "validates and exits.\n");
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
        printf("| `%s.%s` | %s%s | %s | `%s` | %s |\n", k->section, k->key, type, range, def,
               env, k->doc);
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
        case T_ENUM: printf("\"%s\"\n", *(char *const *)slot); break;
        case T_INT: printf("%lld\n", (long long)*(const int64_t *)slot); break;
        case T_BOOL: printf("%s\n", *(const bool *)slot ? "true" : "false"); break;
        case T_LIST: {
            const cfg_list *l = slot;
            printf("[");
            for (int j = 0; j < l->n; j++)
                printf("%s\"%s\"", j ? ", " : "", l->items[j]);
            printf("]\n");
            break;
        }
        }
    }
}
