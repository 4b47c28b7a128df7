/* SPDX-License-Identifier: Apache-2.0 */
/* Peak memory of one verification (docs/architecture.md, "Packages"): a cap-bundle.v1 zip of
 * about 1.5 MB whose members expand to 60 MiB (sixty 1 MiB text members, listed with their
 * SHA3-256 in _meta.json, compressible but within the default ratio limit of 100) is
 * verified through capv_verify_zip_memory_json, and the growth of the process's peak RSS
 * (VmHWM, reset through /proc/self/clear_refs) over its RSS before the call is printed,
 * with the library's capv_package_memory_bound for that body. Prints figures; not a test
 * (tests/unit/test_verify.c asserts a bound on the same kind of package).
 *   bench_memory [members] [member_kib] */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <capverify.h>

static void check(capv_status st, const char *what)
{
    if (st != CAPV_OK) {
        fprintf(stderr, "%s: %s\n", what, capv_strerror(st));
        exit(1);
    }
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- a minimal zip writer (deflate, sizes known up front) ----------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} obuf;

static void put(obuf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL)
            exit(1);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put16(obuf *b, uint32_t v)
{
    uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    put(b, x, 2);
}

static void put32(obuf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    put(b, x, 4);
}

typedef struct {
    char name[64];
    uint32_t crc, comp, size, offset;
} zrec;

static void zip_add(obuf *z, obuf *cd, size_t *n, zrec *recs, const char *name, const uint8_t *data,
                    size_t len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        exit(1);
    size_t cap = (size_t)deflateBound(&zs, (uLong)len);
    uint8_t *out = xmalloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        exit(1);
    zrec *r = &recs[(*n)++];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)len);
    r->comp = (uint32_t)zs.total_out;
    r->size = (uint32_t)len;
    r->offset = (uint32_t)z->len;
    deflateEnd(&zs);
    size_t nl = strlen(name);
    put32(z, 0x04034b50u);
    put16(z, 20);
    put16(z, 0);
    put16(z, 8);
    put16(z, 0);
    put16(z, 0x21);
    put32(z, r->crc);
    put32(z, r->comp);
    put32(z, r->size);
    put16(z, (uint32_t)nl);
    put16(z, 0);
    put(z, name, nl);
    put(z, out, r->comp);
    free(out);
    put32(cd, 0x02014b50u);
    put16(cd, 3u << 8 | 20);
    put16(cd, 20);
    put16(cd, 0);
    put16(cd, 8);
    put16(cd, 0);
    put16(cd, 0x21);
    put32(cd, r->crc);
    put32(cd, r->comp);
    put32(cd, r->size);
    put16(cd, (uint32_t)nl);
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, 0);
    put32(cd, (uint32_t)0100644 << 16);
    put32(cd, r->offset);
    put(cd, name, nl);
}

/* Text of 8-word lines, each written 16 times: deflate makes ~40:1 of it. */
static void fill_part(uint8_t *d, size_t len, unsigned seed)
{
    static const char *const words[16] = { "supplier", "ubo",  "region", "EU",     "DE",   "FR",
                                           "status",   "ok",   "audit",  "record", "hash", "lksg",
                                           "policy",   "risk", "low",    "high" };
    uint64_t s = seed + 1u;
    size_t at = 0;
    while (at < len) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        char line[128];
        size_t ll = 0;
        for (int k = 0; k < 8; k++)
            ll += (size_t)snprintf(line + ll, sizeof line - ll, "%s%s", k ? " " : "",
                                   words[(s >> (8 + 4 * k)) & 15]);
        line[ll++] = '\n';
        for (int r = 0; r < 16 && at < len; r++) {
            size_t n = ll < len - at ? ll : len - at;
            memcpy(d + at, line, n);
            at += n;
        }
    }
}

static void hex32(char out[67], const uint8_t d[32])
{
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", d[i]);
}

/* The package: data/part-NN.txt members, a manifest, a proof.v1 JSON and _meta.json. */
static uint8_t *build_package(size_t parts, size_t part_len, size_t *zip_len, uint64_t *expanded)
{
    obuf z = { 0 }, cd = { 0 }, meta = { 0 };
    zrec *recs = xmalloc((parts + 3) * sizeof *recs);
    size_t n = 0;
    uint8_t *d = xmalloc(part_len);
    char line[512], hex[67];
    uint8_t h[32];
    const char *manifest =
        "{\"version\":\"manifest.v1.0\",\"created_at\":\"2026-01-01T00:00:00Z\","
        "\"supplier_root\":\"0x1111111111111111111111111111111111111111111111111111111111111111\","
        "\"ubo_root\":\"0x2222222222222222222222222222222222222222222222222222222222222222\","
        "\"company_commitment_root\":"
        "\"0x3333333333333333333333333333333333333333333333333333333333333333\","
        "\"policy\":{\"name\":\"lksg\",\"version\":\"1\",\"hash\":"
        "\"0x4444444444444444444444444444444444444444444444444444444444444444\"},"
        "\"audit\":{\"tail_digest\":"
        "\"0x5555555555555555555555555555555555555555555555555555555555555555\","
        "\"events_count\":1},\"proof\":{\"type\":\"mock\",\"status\":\"ok\"},\"signatures\":[]}";
    const char *proof = "{\"version\":\"proof.v1\",\"backend\":\"mock\",\"constraint_checks\":[]}";
    *expanded = 0;
    put(&meta, "{\"schema\":\"cap-bundle.v1\",\"bundle_id\":\"mem\",\"files\":{", 53);
    for (size_t i = 0; i < parts + 2; i++) {
        const uint8_t *data;
        size_t len;
        char name[64];
        if (i < parts) {
            fill_part(d, part_len, (unsigned)i);
            snprintf(name, sizeof name, "data/part-%02zu.txt", i);
            data = d;
            len = part_len;
        } else {
            snprintf(name, sizeof name, "%s", i == parts ? "manifest.json" : "proof.json");
            data = (const uint8_t *)(i == parts ? manifest : proof);
            len = strlen((const char *)data);
        }
        check(capv_hash(h, CAPV_HASH_SHA3_256, data, len, NULL), "hash");
        hex32(hex, h);
        int ln =
            snprintf(line, sizeof line, "%s\"%s\":{\"role\":\"%s\",\"hash\":\"%s\",\"size\":%zu}",
                     i ? "," : "", name,
                     i < parts    ? "data"
                     : i == parts ? "manifest"
                                  : "proof",
                     hex, len);
        put(&meta, line, (size_t)ln);
        zip_add(&z, &cd, &n, recs, name, data, len);
        *expanded += len;
    }
    const char *units = "},\"proof_units\":[{\"id\":\"main\",\"manifest_file\":\"manifest.json\","
                        "\"proof_file\":\"proof.json\"}]}";
    put(&meta, units, strlen(units));
    zip_add(&z, &cd, &n, recs, "_meta.json", meta.p, meta.len);
    *expanded += meta.len;
    uint32_t cd_start = (uint32_t)z.len;
    put(&z, cd.p, cd.len);
    put32(&z, 0x06054b50u);
    put16(&z, 0);
    put16(&z, 0);
    put16(&z, (uint32_t)n);
    put16(&z, (uint32_t)n);
    put32(&z, (uint32_t)cd.len);
    put32(&z, cd_start);
    put16(&z, 0);
    free(d);
    free(cd.p);
    free(meta.p);
    free(recs);
    *zip_len = z.len;
    return z.p;
}

/* ---- measuring ------------------------------------------------------------------------- */

static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, kl) == 0 && line[kl] == ':')
            v = atol(line + kl + 1);
    if (f != NULL)
        fclose(f);
    return v;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0). */
static bool reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL)
        return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

int main(int argc, char **argv)
{
    size_t parts = argc > 1 ? (size_t)atol(argv[1]) : 60;
    size_t part_kib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    check(capv_global_init(NULL), "init");
    capv_verifier *v = NULL;
    check(capv_verifier_new(&v, NULL), "verifier");
    size_t zlen;
    uint64_t expanded;
    uint8_t *zip = build_package(parts, part_kib * 1024, &zlen, &expanded);
    printf("package_zip_bytes %zu\npackage_expanded_bytes %llu\n", zlen,
           (unsigned long long)expanded);
    uint64_t bound = 0;
    check(capv_package_memory_bound(&bound, NULL, zlen, NULL), "memory bound");
    printf("memory_bound_bytes %llu\n", (unsigned long long)bound);
    for (int round = 1; round <= 2; round++) {
        malloc_trim(0);
        if (!reset_peak()) {
            fprintf(stderr, "cannot reset the peak RSS (/proc/self/clear_refs)\n");
            return 1;
        }
        long before = status_kib("VmRSS");
        char *json = NULL;
        size_t jlen = 0;
        capv_verdict verdict;
        check(
            capv_verify_zip_memory_json(&json, &jlen, &verdict, NULL, v, zip, zlen, NULL, 0, NULL),
            "verify");
        long peak = status_kib("VmHWM");
        static const char needle[] = "\"package.integrity\",\"status\":\"";
        const char *integ = strstr(json, needle);
        printf(
            "round %d: verdict %d, integrity %.4s, rss_before_kib %ld, peak_rss_growth_kib %ld\n",
            round, (int)verdict, integ ? integ + sizeof needle - 1 : "?", before, peak - before);
        capv_free(json);
    }
    free(zip);
    capv_verifier_free(v);
    capv_global_shutdown();
    return 0;
}
