/* Verification records ready to store (registry_record_int.h, docs/registry.md "Recording
 * verifications"): what every storage uses to tell a retry from a conflict. */
#include <string.h>

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
