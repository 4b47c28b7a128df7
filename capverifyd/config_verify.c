/* SPDX-License-Identifier: Apache-2.0 */
/* The verification a configuration describes (config_verify.h): one implementation for the
 * daemon and for `capverify verify --daemon-config`. */
#include "config_verify.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

capv_status capvd_config_verify_options(capv_verify_options **opts, capv_package_limits **limits,
                                        const capvd_config *c, capv_error *err)
{
    const struct {
        capv_option opt;
        bool on;
    } flags[] = {
        { CAPV_OPT_REQUIRE_SIGNATURE, c->verify_require_signature },
        { CAPV_OPT_REQUIRE_TIMESTAMP, c->verify_require_timestamp },
        { CAPV_OPT_CHECK_REGISTRY, c->verify_check_registry },
        { CAPV_OPT_STRICT, c->verify_strict },
        { CAPV_OPT_ALLOW_UNTRUSTED, c->verify_allow_untrusted },
    };
    *opts = NULL;
    *limits = NULL;
    capv_verify_options *o = NULL;
    capv_package_limits *l = NULL;
    capv_status st = capv_verify_options_new(&o, err);
    for (size_t i = 0; st == CAPV_OK && i < sizeof flags / sizeof *flags; i++)
        st = capv_verify_options_set(o, flags[i].opt, flags[i].on, err);
    capv_mock_policy mock = strcmp(c->verify_mock_policy, "fail") == 0     ? CAPV_MOCK_FAIL
                            : strcmp(c->verify_mock_policy, "accept") == 0 ? CAPV_MOCK_ACCEPT
                                                                           : CAPV_MOCK_WARN;
    if (st == CAPV_OK)
        st = capv_verify_options_set_mock_policy(o, mock, err);
    if (st == CAPV_OK)
        st = capv_package_limits_new(&l, err);
    if (st == CAPV_OK)
        st = capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, (uint64_t)c->verify_max_entries, err);
    if (st == CAPV_OK)
        st = capv_verify_options_set_limits(o, l, err);
    if (st != CAPV_OK) {
        capv_verify_options_free(o);
        capv_package_limits_free(l);
        return st;
    }
    *opts = o;
    *limits = l;
    return CAPV_OK;
}

/* Loads one trust.* key's file or directory; names the key when the library named nothing. */
static capv_status load_key(capv_verifier *v, const char *key, const char *value,
                            capv_status (*load)(capv_verifier *, const char *, capv_error *),
                            capv_error *err)
{
    if (*value == '\0')
        return CAPV_OK;
    capv_status st = load(v, value, err);
    if (st != CAPV_OK && err != NULL && err->field[0] == '\0')
        snprintf(err->field, sizeof err->field, "%s", key);
    return st;
}

capv_status capvd_config_verifier(capv_verifier **out, const capvd_config *c, capv_error *err)
{
    capv_verifier *v = NULL;
    capv_status st = capv_verifier_new(&v, err);
    if (st == CAPV_OK)
        st = load_key(v, "trust.dir", c->trust_dir, capv_verifier_load_trust, err);
    if (st == CAPV_OK)
        st = load_key(v, "trust.policy_dir", c->trust_policy_dir, capv_verifier_load_policy_dir,
                      err);
    if (st == CAPV_OK)
        st = load_key(v, "trust.tsa_ca_file", c->trust_tsa_ca_file, capv_verifier_load_tsa_roots,
                      err);
    if (st != CAPV_OK) {
        capv_verifier_free(v);
        v = NULL;
    }
    *out = v;
    return st;
}

const char *capvd_config_registry_location(const capvd_config *c, const char **password_file)
{
    *password_file = NULL;
    if (*c->registry_url == '\0')
        return c->registry_path;
    if (*c->registry_password_file != '\0')
        *password_file = c->registry_password_file;
    return c->registry_url;
}
