/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd configuration (docs/configuration.md): YAML files in a directory, then
 * CAPV_<SECTION>_<KEY> environment variables, then --set flags. Every key is described once,
 * in config.c; the reference documentation (docs/configuration.md) is printed from the same
 * table. */
#ifndef CAPVD_CONFIG_H
#define CAPVD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_LIST_MAX 16
/* Room for the sources of every key (config.c asserts that the key table fits). */
#define CFG_KEYS_MAX 128

typedef struct cfg_list {
    int n;
    char *items[CFG_LIST_MAX];
} cfg_list;

typedef struct capvd_config {
    /* server */
    char *server_listen;
    char *server_admin_listen;
    int64_t server_threads;
    int64_t server_admin_threads;
    int64_t server_max_body_bytes;
    int64_t server_request_timeout_ms;
    int64_t server_keep_alive_ms;
    cfg_list server_cors_origins;
    int64_t server_rate_limit_per_second;
    int64_t server_rate_limit_burst;
    cfg_list server_trusted_proxies;
    int64_t server_min_body_bytes_per_second;
    int64_t server_memory_budget_bytes; /* 0 = derived from the cgroup at start */
    int64_t server_memory_wait_ms;
    /* tls */
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_client_ca_file;
    char *tls_min_version;
    /* auth */
    bool auth_enabled;
    char *auth_issuer;
    cfg_list auth_audiences;
    char *auth_jwks_url;
    int64_t auth_jwks_cache_ttl_seconds;
    int64_t auth_leeway_seconds;
    int64_t auth_refresh_min_interval_seconds;
    int64_t auth_max_stale_seconds;
    int64_t auth_fetch_timeout_ms;
    int64_t auth_max_lifetime_seconds;
    cfg_list auth_allowed_algs;
    bool auth_allow_insecure_http;
    char *auth_ca_file;
    bool auth_metrics_requires_scope;
    /* ui */
    bool ui_enabled;
    char *ui_client_id;
    cfg_list ui_scopes;
    char *ui_token_origin;
    /* cache */
    bool cache_enabled;
    int64_t cache_size;
    int64_t cache_ttl_seconds;
    int64_t cache_max_bytes;
    /* registry */
    char *registry_path;
    char *registry_url;
    char *registry_password_file;
    char *registry_synchronous;
    int64_t registry_busy_timeout_ms;
    bool registry_record_verifications;
    int64_t registry_record_queue_max;
    int64_t registry_record_flush_ms;
    char *registry_signing_key_file;
    int64_t registry_max_report_bytes;
    int64_t registry_verification_retention_days;
    /* trust */
    char *trust_dir;
    char *trust_policy_dir;
    char *trust_tsa_ca_file;
    /* verify */
    bool verify_require_signature;
    bool verify_require_timestamp;
    bool verify_check_registry;
    bool verify_strict;
    bool verify_allow_untrusted;
    char *verify_mock_policy;
    int64_t verify_max_entries;
    /* backup */
    char *backup_dir;
    int64_t backup_interval_seconds;
    int64_t backup_retain;
    char *backup_signing_key_file;
    char *backup_s3_url;
    char *backup_s3_endpoint;
    char *backup_s3_region;
    bool backup_s3_path_style;
    char *backup_s3_credentials_file;
    char *backup_s3_ca_file;
    int64_t backup_s3_retain;
    int64_t backup_s3_retry_seconds;
    /* logging */
    char *logging_level;
    int64_t logging_flush_ms;
    /* shutdown */
    int64_t shutdown_grace_seconds;
    int64_t shutdown_timeout_seconds;

    /* Where each key's final value came from, by key-table index (read it with
     * capvd_config_source): "FILE:LINE:COL" of the value in a YAML file, "env CAPV_…", or
     * "--set section.key=value" (a secret value redacted); NULL while the default holds.
     * Owned by the configuration (capvd_config_free). */
    char *source[CFG_KEYS_MAX];
} capvd_config;

/* Sets every key to its default. */
void capvd_config_defaults(capvd_config *c);
void capvd_config_free(capvd_config *c);

/* Loads `dir` (every *.yaml / *.yml file, sorted; a missing directory is fine only when
 * `dir_required` is false), then the environment, then each "key=value" of `sets`, and
 * records where each value came from. Checks each value on its own (type, range, choices);
 * a key given twice in one YAML mapping, or a section given twice in the directory, is an
 * error naming both places. On error writes "FILE:LINE:COL: key: reason" (or
 * "env NAME: key: reason", "--set key=value: key: reason") into errbuf and returns false.
 * Values are not checked against each other: see capvd_config_check. */
bool capvd_config_load(capvd_config *c, const char *dir, bool dir_required, char **sets, int nsets,
                       char *errbuf, size_t errlen);

/* Checks what capvd_config_load cannot see in one value: listen addresses (host:port, the
 * two listeners apart), TLS and auth settings that need each other, readable files and
 * directories, CIDRs, CORS origins, the memory budget against the largest body, where
 * backups go. `config_dir` is the configuration directory (backups must not land in it).
 * Every problem found is one line "SOURCE: key: reason" (SOURCE as capvd_config_source,
 * omitted for a default value); the lines, separated by '\n', go into errbuf (as many as
 * fit) and the function returns false. Both `--check-config` and a normal start call this,
 * so they never disagree. */
bool capvd_config_check(const capvd_config *c, const char *config_dir, char *errbuf, size_t errlen);

/* Where the value of `field` (the address of a member of `c`, e.g. &c->server_listen) came
 * from (see capvd_config.source); NULL for a default, or for a pointer that is no key. The
 * string is borrowed from `c`. */
const char *capvd_config_source(const capvd_config *c, const void *field);

/* The origin ("scheme://host[:port]") of an issuer URL (auth.issuer) into `out`: what the
 * UI's Content-Security-Policy lets its scripts connect to (docs/ui.md). NULL on success,
 * else why there is none (and `out` is ""). */
const char *capvd_issuer_origin(const char *issuer, char *out, size_t cap);

/* Prints the configuration reference as Markdown (docs/configuration.md is this output). */
void capvd_config_print_reference(void);
/* The same reference as mdoc, the CONFIGURATION section of capverifyd(8) (docs/man). */
void capvd_config_print_mdoc(void);

/* Prints the effective configuration as YAML, every key, in reference order. Values of keys
 * marked secret are redacted (a URL keeps all but its password, which prints as `***`);
 * a key whose 0 means "derived at start" is followed by the derived value as a comment. */
void capvd_config_print(const capvd_config *c);

#endif
