/* SPDX-License-Identifier: Apache-2.0 */
/* The writer lock of a SQLite registry (registry_lock.c; docs/registry.md "Connections and
 * the single writer"): an open-file-description lock on the database file itself, so every
 * path that reaches the file (a symbolic link, a hard link, a renamed directory) finds the
 * same lock. */
#ifndef CAPV_REGISTRY_LOCK_INT_H
#define CAPV_REGISTRY_LOCK_INT_H

#include <stdbool.h>

#include "error_int.h"

/* The byte of the database file the writer lock covers. SQLite's own POSIX locks on the file
 * are the bytes from 0x40000000 (its PENDING_BYTE) to 0x400001FF; POSIX and OFD locks on
 * Linux conflict only where their ranges overlap, so this one never meets them. */
#define CAPVI_REG_LOCK_BYTE 0x7FFFFFFEL

/* A handle's claim on a database file: the writer lock, or only a pin (readers). */
typedef struct capv_reg_lock capv_reg_lock;

/* Takes the writer lock of the database file `db_path` (following symbolic links; with
 * `create`, a missing file is created empty, as SQLite would). CAPV_E_BUSY when another
 * process, or another handle of this one, holds it — through whatever name; CAPV_E_STORAGE
 * when this process may not open the file for writing; CAPV_E_NOT_FOUND without the file.
 * Release with capvi_reg_unlock. */
capv_status capvi_reg_lock(capv_reg_lock **out, const char *db_path, bool create, capv_error *err);

/* A read-only handle's pin on the database file (no lock). Why pins exist: closing any
 * descriptor of a file drops every POSIX lock this process holds on it, SQLite's included,
 * so a descriptor the writer lock opened is closed only once no handle of this process uses
 * the file any more. CAPV_E_NOT_FOUND / CAPV_E_IO when `db_path` cannot be examined. */
capv_status capvi_reg_pin(capv_reg_lock **out, const char *db_path, capv_error *err);

/* CAPV_E_STATE when the database file has more than one hard link. The lock keeps two
 * writers off one file at the same time, whatever its names; but SQLite keeps the
 * write-ahead log beside the NAME a database is opened by, so writers one after the other
 * through two names each see a WAL of their own (committed writes missing, later replayed
 * over newer ones): a read-write open through either name is refused until one is gone. */
capv_status capvi_reg_single_link(const char *db_path, capv_error *err);

/* Releases a lock or a pin. NULL is a no-op. */
void capvi_reg_unlock(capv_reg_lock *lock);

#endif
