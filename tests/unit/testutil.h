/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the unit suites: test data locations and file reading. */
#ifndef CAPV_TESTUTIL_H
#define CAPV_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Directory of this repository's tests/vectors and of the shared interop vectors, passed in
 * by CMake (overridable with CAPV_TEST_VECTORS / CAPV_SHARED_VECTORS). */
const char *tu_vectors_dir(void);
const char *tu_shared_dir(void);

/* Directory of fixtures generated at test time (CAPV_TEST_FIXTURES), e.g. fixtures/tsa. */
const char *tu_fixtures_dir(void);

/* Reads a whole file (dir + "/" + rel) into a malloc'd, NUL-terminated buffer; aborts the
 * test with a clear message when it cannot. */
uint8_t *tu_read(const char *dir, const char *rel, size_t *len);

/* A fresh private directory "<$TMPDIR or /tmp>/<prefix>.XXXXXX" in out[cap] ($TMPDIR only
 * when at most 64 bytes long, so paths stay short); aborts the test when it cannot. */
void tu_temp_dir(char *out, size_t cap, const char *prefix);
/* The monotonic clock in milliseconds. */
int64_t tu_now_ms(void);
/* Steps this process's wall clock (CLOCK_REALTIME, as clock_gettime answers it to the
 * library too) by `ms` from the real time; 0 puts it back. */
void tu_wall_step(int64_t ms);

/* Removes a directory tree (files first); 0 when it all went. */
int tu_remove_tree(const char *dir);

/* Writes `text` to the file `path` (created or truncated); aborts the test when it cannot. */
void tu_write_file(const char *path, const char *text);

/* A TCP socket listening on 127.0.0.1 at a port the kernel chose (`*port`); aborts the test
 * when it cannot. */
int tu_listen_loopback(int *port);

/* The registry at `path` opened with `flags` (CAPV_REGISTRY_*); aborts the test with the
 * library's message when it cannot. */
struct capv_registry *tu_registry_open(const char *path, unsigned int flags);

/* Records the report text `json` in `reg` under the request id "<prefix>-<i>"; aborts the
 * test with the library's message unless it is accepted. */
void tu_record_report(struct capv_registry *reg, const char *json, const char *prefix, int i);

/* Switches this process's LC_NUMERIC to de_DE.UTF-8, whose decimal point is a comma,
 * compiled with localedef(1) from the `locales` package into a temporary directory named by
 * LOCPATH; aborts the test when it cannot. setlocale(LC_NUMERIC, "C") switches back. */
void tu_comma_locale(void);

/* Hex of a 32-byte digest, "0x"-prefixed, in a static buffer (one at a time). */
const char *tu_hex(const uint8_t d[32]);

#endif
