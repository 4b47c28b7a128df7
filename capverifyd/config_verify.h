/* SPDX-License-Identifier: Apache-2.0 */
/* What a capverifyd configuration makes of its verify.*, trust.* and registry location keys
 * (docs/configuration.md): the verification options with their package limits, a verifier
 * with the trust store, policies and TSA roots loaded, and where the registry is. capverifyd
 * builds its verifier with these calls, and so does `capverify verify --daemon-config DIR`,
 * which links the same static library (capvd_config): the two cannot apply a configuration
 * differently (docs/architecture.md, "The daemon's configuration"). */
#ifndef CAPVD_CONFIG_VERIFY_H
#define CAPVD_CONFIG_VERIFY_H

#include <capverify.h>

#include "config.h"

/* The options of verify.require_signature, require_timestamp, check_registry, strict,
 * allow_untrusted and mock_policy, holding a copy of `*limits`: the daemon's default package
 * limits (capv_package_limits_new) with verify.max_entries. The caller frees both
 * (capv_verify_options_free, capv_package_limits_free; the daemon keeps the limits for its
 * memory budget). On failure both are NULL. */
capv_status capvd_config_verify_options(capv_verify_options **opts, capv_package_limits **limits,
                                        const capvd_config *c, capv_error *err);

/* A verifier with trust.dir, trust.policy_dir and trust.tsa_ca_file loaded (each when set),
 * without a registry or a cache: the caller attaches those. On failure err->field is the key
 * that failed when the library named no field. Free with capv_verifier_free. */
capv_status capvd_config_verifier(capv_verifier **out, const capvd_config *c, capv_error *err);

/* Where the registry is: registry.url when set (a PostgreSQL URL; `*password_file` =
 * registry.password_file, or NULL for libpq's own sources), else registry.path
 * (`*password_file` NULL). Borrowed from `c`. */
const char *capvd_config_registry_location(const capvd_config *c, const char **password_file);

#endif
