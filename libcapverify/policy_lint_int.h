/* SPDX-License-Identifier: Apache-2.0 */
/* Policy lints (policy_lint.c, docs/policies.md "Lints"): above the model, used by
 * compilation. */
#ifndef CAPV_POLICY_LINT_INT_H
#define CAPV_POLICY_LINT_INT_H

#include "error_int.h"

/* Runs the lints into a fresh diagnostics object. */
capv_status capvi_policy_lint_run(capv_policy_diagnostics **out, const capv_policy *p,
                                  capv_policy_lint_mode mode, capv_error *err);

#endif
