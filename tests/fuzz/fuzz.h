/* SPDX-License-Identifier: Apache-2.0 */
/* Shared declarations of the fuzz drivers (tests/fuzz/fuzz_<target>.c).
 *
 * Each driver defines the two libFuzzer entry points below. The same driver links either
 * with libFuzzer (-DCAPV_FUZZ=ON, clang) or with replay.c (the ordinary build), which runs
 * every file of the given corpus directories through it once; docs/fuzzing.md.
 *
 * A driver calls only what a front-end would call with untrusted bytes, frees everything it
 * got, and abort()s (FUZZ_ASSERT) when a property the library promises does not hold — a
 * round trip that does not round-trip is as much a finding as a crash. */
#ifndef CAPV_FUZZ_H
#define CAPV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capverify.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the library does not hold for this input: report it the way libFuzzer and
 * the replay driver both notice (abort), with the place and the condition. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A parser's answer to bad input: the input is rejected or malformed, never "could not
 * check" (UNAVAILABLE, a 503) nor "the caller erred / a bug" (USAGE, INTERNAL, a 500). */
#define FUZZ_ASSERT_INPUT_STATUS(st)                                                               \
    FUZZ_ASSERT(capv_status_class_of(st) == CAPV_CLASS_REJECTED ||                                 \
                capv_status_class_of(st) == CAPV_CLASS_MALFORMED)

/* Error detail is shown to people and put into JSON answers and logs: it must be
 * NUL-terminated UTF-8 text, whatever the input was. */
static inline int fuzz_text_ok(const char *s, size_t cap)
{
    const char *end = memchr(s, '\0', cap);
    if (end == NULL)
        return 0;
    char *q = NULL;
    if (capv_json_quote(&q, NULL, s, (size_t)(end - s), NULL) != CAPV_OK)
        return 0;
    capv_free(q);
    return 1;
}

/* FUZZ_ASSERT_INPUT_STATUS, and the capv_error `e` that came with it holds text. */
#define FUZZ_ASSERT_INPUT_ERROR(st, e)                                                             \
    do {                                                                                           \
        FUZZ_ASSERT_INPUT_STATUS(st);                                                              \
        FUZZ_ASSERT(fuzz_text_ok((e).field, sizeof(e).field));                                     \
        FUZZ_ASSERT(fuzz_text_ok((e).message, sizeof(e).message));                                 \
    } while (0)

/* Setup failed (a missing vector file, no memory): not a finding, but nothing to fuzz. */
#define FUZZ_SETUP(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz setup: " __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                                   \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

/* capv_global_init() once per process (the library's init is reference-counted). */
static inline void fuzz_global_init(void)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_global_init(&err);
    FUZZ_SETUP(st == CAPV_OK, "capv_global_init: %s", err.message);
}

/* Where the data files the drivers load live: the build passes the directories in, the
 * environment (same names as the unit tests use) overrides them. */
static inline const char *fuzz_dir(const char *env, const char *fallback)
{
    const char *e = getenv(env);
    return e != NULL && *e != '\0' ? e : fallback;
}

#define FUZZ_VECTORS_DIR() fuzz_dir("CAPV_TEST_VECTORS", CAPV_TEST_VECTORS_DIR)
#define FUZZ_SHARED_DIR() fuzz_dir("CAPV_SHARED_VECTORS", CAPV_SHARED_VECTORS_DIR)
#define FUZZ_FIXTURES_DIR() fuzz_dir("CAPV_TEST_FIXTURES", CAPV_TEST_FIXTURES_DIR)

/* The whole file dir/rel, NUL-terminated (not counted in *len); exits when unreadable. */
static inline uint8_t *fuzz_read_file(const char *dir, const char *rel, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    FUZZ_SETUP(f != NULL, "cannot open %s", path);
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    FUZZ_SETUP(buf != NULL, "out of memory");
    for (;;) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        cap *= 2;
        uint8_t *bigger = realloc(buf, cap);
        FUZZ_SETUP(bigger != NULL, "out of memory");
        buf = bigger;
    }
    FUZZ_SETUP(!ferror(f), "cannot read %s", path);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

#endif
