/* SPDX-License-Identifier: Apache-2.0 */
/* The standalone fuzz driver of the ordinary (gcc) build: runs every file of the corpus
 * directories (and files) named on the command line through LLVMFuzzerTestOneInput once,
 * in byte order of their names, the way libFuzzer runs a corpus. With -m N each input is
 * also run as N deterministic variants (truncated, bit-flipped, bytes inserted or
 * duplicated), so CI explores a little around the seeds without a fuzzing engine.
 *
 *   fuzz_<target> [-m N] DIR_OR_FILE...
 *
 * Exit 0 when every input ran; a finding aborts (the driver's FUZZ_ASSERT, or a crash, or a
 * sanitizer in the ASan build). A run that finds no input at all fails: an empty or
 * misplaced corpus must not pass as a green test. */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (8u * 1024u * 1024u)

typedef struct run_stats {
    size_t inputs;
    size_t variants;
    size_t bytes;
} run_stats;

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    /* xorshift64*: reproducible from the input, nothing random in CI */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static void run_one(const uint8_t *data, size_t len)
{
    /* an exact-size heap copy, so ASan sees any read past the end */
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) {
        fprintf(stderr, "replay: out of memory\n");
        exit(2);
    }
    if (len)
        memcpy(copy, data, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
}

/* Variant k of data: one small structural mutation, seeded by the input and k. */
static size_t mutate(uint8_t *out, const uint8_t *data, size_t len, unsigned k)
{
    uint64_t seed = UINT64_C(1469598103934665603) ^ ((uint64_t)k << 32) ^ len;
    for (size_t i = 0; i < len; i++)
        seed = (seed ^ data[i]) * UINT64_C(1099511628211);
    rng_state = seed ? seed : 1;
    size_t pos = len ? (size_t)(rng_next() % len) : 0;
    switch (k % 4) {
    case 0: /* truncate */ memcpy(out, data, pos); return pos;
    case 1: /* flip one bit */
        memcpy(out, data, len);
        if (len)
            out[pos] ^= (uint8_t)(1u << (rng_next() % 8));
        return len;
    case 2: { /* insert an interesting byte */
        static const uint8_t interesting[] = { 0x00, 0xff, 0x7f, 0x80, '"', '\\', '{', '[',
                                               ':',  ',',  '\n', '-',  '.', '=',  '%' };
        memcpy(out, data, pos);
        out[pos] = interesting[rng_next() % sizeof interesting];
        memcpy(out + pos + 1, data + pos, len - pos);
        return len + 1;
    }
    default: { /* duplicate a chunk of up to 16 bytes in place */
        size_t n = len - pos < 16 ? len - pos : 16;
        memcpy(out, data, pos + n);
        memcpy(out + pos + n, data + pos, n);
        memcpy(out + pos + 2 * n, data + pos + n, len - pos - n);
        return len + n;
    }
    }
}

static int run_file(const char *path, unsigned variants, run_stats *s)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return -1;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > REPLAY_MAX_INPUT) {
        fprintf(stderr, "replay: %s: larger than 8 MiB\n", path);
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size + 1);
    uint8_t *var = malloc(2 * size + 32);
    if (buf == NULL || var == NULL) {
        fprintf(stderr, "replay: out of memory\n");
        exit(2);
    }
    size_t len = fread(buf, 1, size + 1, f);
    int bad = ferror(f) || len != size;
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        free(var);
        return -1;
    }
    run_one(buf, len);
    s->inputs++;
    s->bytes += len;
    for (unsigned k = 0; k < variants; k++) {
        size_t vlen = mutate(var, buf, len, k);
        run_one(var, vlen);
        s->variants++;
    }
    free(buf);
    free(var);
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, unsigned variants, run_stats *s)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path, variants, s);
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue; /* ., .., and libFuzzer's hidden lock/state files */
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **bigger = realloc(names, cap * sizeof *names);
            if (bigger == NULL) {
                fprintf(stderr, "replay: out of memory\n");
                exit(2);
            }
            names = bigger;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL) {
            fprintf(stderr, "replay: out of memory\n");
            exit(2);
        }
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, name_cmp);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        struct stat fst;
        if (rc == 0 && stat(full, &fst) == 0 && S_ISREG(fst.st_mode))
            rc = run_file(full, variants, s);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned variants = 0;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "-m") == 0) {
        char *end = NULL;
        unsigned long v = strtoul(argv[2], &end, 10);
        if (end == argv[2] || *end != '\0' || v > 1000) {
            fprintf(stderr, "replay: -m wants a count 0..1000\n");
            return 2;
        }
        variants = (unsigned)v;
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-m VARIANTS] CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_stats s = { 0, 0, 0 };
    for (int i = first; i < argc; i++)
        if (run_path(argv[i], variants, &s) != 0)
            return 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("replay: %zu inputs (%zu bytes) and %zu variants in %.2f s\n", s.inputs, s.bytes,
           s.variants, secs);
    if (s.inputs == 0) {
        fprintf(stderr, "replay: no input found: the corpus is empty or missing\n");
        return 1;
    }
    return 0;
}
