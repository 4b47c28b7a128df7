#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include <capverify.h>

const char *tu_vectors_dir(void)
{
    const char *e = getenv("CAPV_TEST_VECTORS");
    return e ? e : CAPV_TEST_VECTORS_DIR;
}

const char *tu_shared_dir(void)
{
    const char *e = getenv("CAPV_SHARED_VECTORS");
    return e ? e : CAPV_SHARED_VECTORS_DIR;
}

const char *tu_fixtures_dir(void)
{
    const char *e = getenv("CAPV_TEST_FIXTURES");
    ck_assert_msg(e != NULL, "CAPV_TEST_FIXTURES is not set (run through ctest)");
    return e;
}

uint8_t *tu_read(const char *dir, const char *rel, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open test vector %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    ck_assert(n >= 0);
    uint8_t *buf = malloc((size_t)n + 1);
    ck_assert(buf != NULL);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

const char *tu_hex(const uint8_t d[32])
{
    static char hex[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(hex, d);
    return hex;
}
