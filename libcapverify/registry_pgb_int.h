/* SPDX-License-Identifier: Apache-2.0 */
/* The registry on PostgreSQL as a storage of registry_backend_int.h (registry_pgb.c, over
 * the libpq layer of registry_pg_int.h; docs/registry.md "PostgreSQL backend"). */
#ifndef CAPV_REGISTRY_PGB_INT_H
#define CAPV_REGISTRY_PGB_INT_H

#include "registry_backend_int.h"

extern const capvi_reg_backend capvi_reg_pg;

/* Opens the PostgreSQL storage of a handle whose read_only is set, at `url` (with
 * o->password_file): reg->path becomes the URL without any password. */
capv_status capvi_reg_pg_open(capv_registry *reg, const char *url, const capv_registry_options *o,
                              capv_error *err);

#endif
