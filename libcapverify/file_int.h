/* SPDX-License-Identifier: Apache-2.0 */
/* Reading whole files and listing directories, bounded and with precise statuses, for the
 * modules that load configuration-like inputs (trust stores, policies, key sets, backups). */
#ifndef CAPV_FILE_INT_H
#define CAPV_FILE_INT_H

#include <stdbool.h>

#include "error_int.h"

/* Reads `path` into a malloc'd, NUL-terminated buffer of at most `max` bytes (`*len`
 * excludes the NUL). CAPV_E_NOT_FOUND, CAPV_E_IO, CAPV_E_LIMIT (larger than `max`; nothing
 * beyond max + 1 bytes is read), CAPV_E_NOMEM; err->field is the path. `what` names the
 * file in messages ("key set", "policy", ...). */
capv_status capvi_file_read(uint8_t **out, size_t *len, const char *path, size_t max,
                            const char *what, capv_error *err);

/* The names of the entries of `dir` that `keep` accepts (NULL = all but "." and ".."),
 * sorted bytewise so loading order and error messages never depend on readdir.
 * Free with capvi_dir_list_free. */
capv_status capvi_dir_list(char ***names, size_t *count, const char *dir,
                           bool (*keep)(const char *name), capv_error *err);
void capvi_dir_list_free(char **names, size_t count);

/* Writes p[0..n) to `fd`, going on after short writes and EINTR, and waiting for room on a
 * descriptor that is not blocking (EAGAIN: a pipe another process made O_NONBLOCK), as a
 * blocking one would block: 0, or the errno of the write that failed (EIO for one that wrote
 * nothing). *done (may be NULL) is the number of bytes written, also on failure. */
int capvi_write_all_done(int fd, const void *p, size_t n, size_t *done);
/* capvi_write_all_done without the count. */
int capvi_write_all(int fd, const void *p, size_t n);
/* capvi_write_all as a status: CAPV_E_IO "cannot write '<path>': <reason>" on failure. */
capv_status capvi_file_write_all(int fd, const void *p, size_t n, const char *path,
                                 capv_error *err);

#endif
