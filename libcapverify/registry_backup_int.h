/* SPDX-License-Identifier: Apache-2.0 */
/* What backup_remote.c uses of registry_backup.c: a download is verified in a private
 * directory, then moved beside the other backups (docs/registry.md "Off-site copies"). */
#ifndef CAPV_REGISTRY_BACKUP_INT_H
#define CAPV_REGISTRY_BACKUP_INT_H

#include <capverify/registry.h>

#include "error_int.h"

/* Removes what processes that died left in the backup directory `dir`: temporary files and
 * download directories (no error: what cannot be removed stays). */
void capvi_backup_dir_tidy(const char *dir);

/* The backup `info` (as capv_registry_backup_verify_with returned it) now lies in `dir`:
 * its path and sidecar path name the same files there. CAPV_E_INVALID_ARG (too long),
 * CAPV_E_NOMEM; `info` is unchanged on failure. */
capv_status capvi_backup_info_move(capv_backup_info *info, const char *dir, capv_error *err);

#endif
