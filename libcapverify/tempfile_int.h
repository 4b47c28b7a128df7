/* SPDX-License-Identifier: Apache-2.0 */
/* Files the library writes beside user data (tempfile.c; docs/registry.md "Backup" and
 * "Restore"): temporary names nobody can guess, created so that nothing planted at a name is
 * ever opened or followed, and renames made durable. */
#ifndef CAPV_TEMPFILE_INT_H
#define CAPV_TEMPFILE_INT_H

#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "error_int.h"

/* Creates a new file "<dir>/<prefix><24 random hex digits>" with
 * O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, read-write, `mode` (less the umask): a file or
 * symbolic link already at the name is never opened (the name is drawn again, up to 16
 * times). `*fd` is the open file, `path` its name. CAPV_E_IO (naming the directory),
 * CAPV_E_INVALID_ARG (too long), CAPV_E_CRYPTO (no randomness). */
capv_status capvi_temp_create(int *fd, char path[PATH_MAX], const char *dir, const char *prefix,
                              mode_t mode, capv_error *err);

/* Creates a new directory "<dir>/<prefix><24 random hex digits>", mode 0700, as
 * capvi_temp_create names its files: nothing at a drawn name is used. `path` is its name. */
capv_status capvi_temp_mkdir(char path[PATH_MAX], const char *dir, const char *prefix,
                             capv_error *err);

/* Creates the new file `path` itself, as capvi_temp_create does (O_CREAT | O_EXCL |
 * O_NOFOLLOW | O_CLOEXEC, read-write, `mode`): CAPV_E_EXISTS when anything is at the name — a
 * file, a directory, a FIFO, a symbolic link (dangling or not), none of which is opened or
 * followed; CAPV_E_IO otherwise. */
capv_status capvi_temp_open(int *fd, const char *path, mode_t mode, capv_error *err);

/* Whether `path` names, without following a symbolic link, the very file open as `fd` (same
 * device and inode, a regular file): the file a name-based step (an open by SQLite, a
 * rename) reached is the one this process created. */
bool capvi_temp_is(int fd, const char *path);

/* rename(from, to) that never replaces: -1 with errno EEXIST when anything is at `to`.
 * Where the file system has no RENAME_NOREPLACE, link() then unlink(), which refuses an
 * existing name as well. */
int capvi_rename_noreplace(const char *from, const char *to);

/* fsync of a directory, so that the renames and creations in it survive a crash. */
capv_status capvi_dir_sync(const char *dir, capv_error *err);

#endif
