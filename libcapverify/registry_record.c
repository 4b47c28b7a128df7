/* SPDX-License-Identifier: Apache-2.0 */
/* Rows ready to store and rows found (registry_record_int.h, docs/registry.md "Recording
 * verifications"): what every storage uses to tell a retry from a conflict and to hand out
 * what it found. */
#include <string.h>

#include "hex_int.h"
#include "registry_db_int.h"
#include "registry_record_int.h"

static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

capv_status capvi_reg_record_compare(capvi_reg_record *r, const char *subject, const char *mh,
                                     const char *ph, const char *pol, const char *result,
                                     const char *at, const uint8_t *report_key)
{
    bool same = same_text(subject, r->subject) && same_text(mh, r->has_m ? r->mh : NULL) &&
                same_text(ph, r->has_p ? r->ph : NULL) &&
                same_text(pol, r->has_pol ? r->pol : NULL) && same_text(result, r->result) &&
                ((report_key == NULL && r->body == NULL) ||
                 (report_key != NULL && r->body != NULL && memcmp(report_key, r->key, 32) == 0)) &&
                (!r->at_given || same_text(at, r->at));
    r->st = same
                ? capvi_err_set(&r->err, CAPV_E_EXISTS, "request_id",
                                "verification '%s' is already recorded", r->request_id)
                : capvi_err_set(&r->err, CAPV_E_CONFLICT, "request_id",
                                "verification '%s' was recorded with other content", r->request_id);
    return r->st;
}

capv_registry_verification *capvi_reg_verification_from_texts(int64_t seq,
                                                              const char *const text[8])
{
    capv_registry_verification tmp;
    const char **dst[8] = { &tmp.request_id,  &tmp.subject, &tmp.manifest_hash, &tmp.proof_hash,
                            &tmp.policy_hash, &tmp.result,  &tmp.report_json,   &tmp.verified_at };
    capv_registry_verification *v = capvi_reg_pack_strings(sizeof *v, dst, text, 8);
    if (v != NULL) {
        tmp.version = CAPV_REGISTRY_VERIFICATION_VERSION;
        tmp.seq = seq;
        *v = tmp;
    }
    return v;
}

capv_registry_policy *capvi_reg_policy_from_texts(const char *const text[6])
{
    capv_registry_policy tmp;
    const char **dst[6] = { &tmp.policy_id, &tmp.policy_version, &tmp.policy_hash,
                            &tmp.ir_hash,   &tmp.ir_json,        &tmp.created_at };
    capv_registry_policy *p = capvi_reg_pack_strings(sizeof *p, dst, text, 6);
    if (p != NULL) {
        tmp.version = CAPV_REGISTRY_POLICY_VERSION;
        *p = tmp;
    }
    return p;
}

capv_status capvi_reg_policy_compare(const capv_registry_policy *in, const uint8_t policy_key[32],
                                     const uint8_t ir_key[32], const char *id, const char *version,
                                     const char *policy_hash, const char *ir_hash,
                                     const char *ir_json, bool by_id_version, capv_error *err)
{
    bool same = capvi_digest_is(policy_hash, policy_key) && capvi_digest_is(ir_hash, ir_key) &&
                same_text(id, in->policy_id) && same_text(version, in->policy_version) &&
                same_text(ir_json, in->ir_json);
    if (same)
        return capvi_err_set(err, CAPV_E_EXISTS, "policy_hash", "policy '%s' %s is already stored",
                             in->policy_id, in->policy_version);
    return capvi_err_set(err, CAPV_E_CONFLICT, by_id_version ? "policy_id" : "policy_hash",
                         "policy '%s' %s conflicts with a stored policy", in->policy_id,
                         in->policy_version);
}
