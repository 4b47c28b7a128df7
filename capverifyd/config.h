/* capverifyd configuration (SPEC §9.1): YAML files in a directory, then CAPV_<SECTION>_<KEY>
 * environment variables, then --set flags. Every key is described once, in config.c; the
 * reference documentation (docs/configuration.md) is printed from the same table. */
#ifndef CAPVD_CONFIG_H
#define CAPVD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_LIST_MAX 16

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
    /* cache */
    bool cache_enabled;
    int64_t cache_size;
    int64_t cache_ttl_seconds;
    int64_t cache_max_bytes;
    /* registry */
    char *registry_path;
    char *registry_synchronous;
    int64_t registry_busy_timeout_ms;
    bool registry_record_verifications;
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
    /* logging */
    char *logging_level;
    /* shutdown */
    int64_t shutdown_grace_seconds;
    int64_t shutdown_timeout_seconds;
} capvd_config;

/* Sets every key to its default. */
void capvd_config_defaults(capvd_config *c);
void capvd_config_free(capvd_config *c);

/* Loads `dir` (every *.yaml / *.yml file, sorted; a missing directory is fine only when
 * `dir_required` is false), then the environment, then each "key=value" of `sets`.
 * On error writes "FILE:LINE:COL: key: reason" (or "env NAME: …", "--set …: …") into errbuf
 * and returns false. */
bool capvd_config_load(capvd_config *c, const char *dir, bool dir_required, char **sets,
                       int nsets, char *errbuf, size_t errlen);

/* Prints the configuration reference as Markdown (docs/configuration.md is this output). */
void capvd_config_print_reference(void);

/* Prints the effective configuration as YAML (secrets are not part of the configuration). */
void capvd_config_print(const capvd_config *c);

#endif
