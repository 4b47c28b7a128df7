/* SPDX-License-Identifier: Apache-2.0 */
/* Reading command inputs: whole files or standard input, bounded. */
#ifndef CAPV_CLI_INPUT_H
#define CAPV_CLI_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* Reads `path` ("-" = standard input) into a malloc'd, NUL-terminated buffer of at most `max`
 * bytes. On failure prints "capverify <cmd>: <path>: <reason>" on stderr and returns the
 * exit code (5 unreadable, 4 too large); 0 on success. */
int cli_read_file(uint8_t **out, size_t *len, const char *path, size_t max, const char *cmd);

/* Writes `len` bytes to `path` ("-" = standard output). A regular file (or a new one) is
 * replaced atomically: a temporary file beside it, then a rename; when `path` is a symbolic
 * link, beside the file the link points to, which is replaced and the link kept. A path of one
 * of this process's descriptors (/dev/stdout, /dev/fd/N, /proc/self/fd/N) is written to that
 * descriptor, whatever it holds (a file the shell redirected to is not replaced). Anything
 * else that exists (a device such as /dev/null, a FIFO) is written as it is, never replaced.
 * Returns 0 or an exit code after reporting on stderr. */
int cli_write_file(const char *path, const void *data, size_t len, const char *cmd);

/* The file that writing `path` replaces, into `out`: `path` itself, or, when it is a
 * symbolic link, the file its chain of links ends at (which need not exist yet), so that the
 * link stays a link. When the chain passes through one of this process's descriptors
 * (/dev/stdout is /proc/self/fd/1), *fdno is that descriptor (else -1): the caller writes to
 * it, as the shell that opened it expects, never replaces what it names. 0 or an errno. For
 * outputs written as a stream (cli_write_file writes a buffer). */
int cli_output_target(char out[4096], int *fdno, const char *path);

#endif
