/* SPDX-License-Identifier: Apache-2.0 */
/* What the rest of the library uses from the registry module: the verifier's `registry`
 * check (verify.c) looks entries up through capvi_reg_lookup_signed, and its policy.binding
 * check loads stored policies with capvi_reg_policy_ir. The registry's own files include the
 * headers of their layers directly (registry_db_int.h describes them). */
#ifndef CAPV_REGISTRY_INT_H
#define CAPV_REGISTRY_INT_H

#include <capverify/policy.h>
#include <capverify/registry.h>

#include "registry_entry_int.h"

/* The IR of the stored policy `p` (as capv_registry_get_policy reads it), loaded with
 * capv_policy_ir_load (its ir_hash recomputed) and checked against the ir_hash stored beside
 * it. Any failure but CAPV_E_NOMEM describes a damaged or altered store. */
capv_status capvi_reg_policy_ir(capv_policy_ir **out, const capv_registry_policy *p,
                                capv_error *err);

#endif
