/* SPDX-License-Identifier: Apache-2.0 */
/* What the rest of the library uses from the registry module: the verifier's `registry`
 * check (verify.c) looks entries up through capvi_reg_lookup_signed. The registry's own
 * files include the headers of their layers directly (registry_db_int.h describes them). */
#ifndef CAPV_REGISTRY_INT_H
#define CAPV_REGISTRY_INT_H

#include "registry_entry_int.h"

#endif
