/* SPDX-License-Identifier: Apache-2.0 */
/* Package loading (docs/formats.md, "CAP packages") against hostile and edge-case input: unsafe
 * names, special files, zip bombs by ratio, total size and entry count, truncated and lying
 * archives, and what the verification entry points make of them (docs/formats.md, "Verification
 * report": package.layout). Every case asserts the exact status. Zips are built in memory:
 * well-formed ones with libzip's writer, hostile ones (duplicates, "..", lying sizes, raw symlink
 * attributes, NUL in names) by hand with craft_zip(), which libzip would refuse to write. */
#include <capverify.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include "package_int.h"
#include "suites.h"
#include "testutil.h"

/* ---- fixtures -------------------------------------------------------------------------- */

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
}

static void teardown(void)
{
    capv_global_shutdown();
}

/* One scratch directory per test case, made and removed by the parent process (an unchecked
 * fixture), so it is cleaned up even when a forked test fails. */
static char tmp_base[1024];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void tmp_setup(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmp_base, sizeof tmp_base, "%s/capv-package-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp_base));
}

static void tmp_teardown(void)
{
    if (tmp_base[0] != '\0')
        nftw(tmp_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmp_base[0] = '\0';
}

/* A fresh directory inside the scratch directory; `out` receives its path. */
static void tmp_dir(char *out, size_t cap)
{
    snprintf(out, cap, "%s/t-XXXXXX", tmp_base);
    ck_assert_ptr_nonnull(mkdtemp(out));
}

static void write_file(const char *dir, const char *rel, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void make_dir(const char *dir, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    ck_assert_msg(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
}

/* ---- a growable byte buffer ------------------------------------------------------------ */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} tbuf;

static void tb_put(tbuf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(p);
        b->p = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void tb_u16(tbuf *b, uint32_t v)
{
    uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    tb_put(b, x, 2);
}

static void tb_u32(tbuf *b, uint64_t v)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    tb_put(b, x, 4);
}

static void tb_u64(tbuf *b, uint64_t v)
{
    tb_u32(b, v & 0xffffffffu);
    tb_u32(b, v >> 32);
}

/* ---- hand-made zips -------------------------------------------------------------------- */

#define OPSYS_UNIX 3u

/* One entry as it is written, lies included. */
typedef struct {
    const char *name;
    size_t name_len;     /* 0 = strlen(name) */
    const uint8_t *data; /* the bytes in the archive (compressed already for method 8) */
    size_t data_len;
    uint16_t method;    /* 0 stored, 8 deflate */
    uint32_t crc;       /* CRC-32 of the uncompressed content */
    uint64_t size;      /* declared uncompressed size */
    uint64_t comp_size; /* declared compressed size */
    uint32_t ext_attr;  /* external attributes; UNIX mode in the high 16 bits */
} zentry;

/* The host every entry of the next crafted zip says it was made on, and its general purpose
 * flags (bit 0: encrypted). */
static uint8_t craft_opsys = OPSYS_UNIX;
static uint16_t craft_flags;

/* Extra fields of an entry's central directory record and local header. */
typedef struct {
    const uint8_t *central;
    size_t central_len;
    const uint8_t *local;
    size_t local_len;
} zextra;

static uint32_t crc_of(const void *data, size_t len)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)data, (uInt)len);
}

/* A truthful stored regular file. */
static zentry stored(const char *name, const char *text)
{
    size_t n = strlen(text);
    zentry e = { name, 0, (const uint8_t *)text,           n, 0, crc_of(text, n),
                 n,    n, (uint32_t)(S_IFREG | 0644) << 16 };
    return e;
}

/* Writes local headers, data, the central directory and the end records (ZIP64 ones when
 * there are more than 65,535 entries). Local and central headers always agree, but for the
 * extra fields `x` (NULL, or one per entry). */
static uint8_t *craft_zip_x(const zentry *e, const zextra *x, size_t n, size_t *out_len)
{
    static const zextra none = { NULL, 0, NULL, 0 };
    tbuf b = { 0 };
    uint64_t *offsets = calloc(n + 1, sizeof *offsets);
    ck_assert_ptr_nonnull(offsets);
    for (size_t i = 0; i < n; i++) {
        size_t nl = e[i].name_len ? e[i].name_len : strlen(e[i].name);
        offsets[i] = b.len;
        tb_u32(&b, 0x04034b50u);
        tb_u16(&b, 20);
        tb_u16(&b, craft_flags);
        tb_u16(&b, e[i].method);
        tb_u16(&b, 0);
        tb_u16(&b, 0x21); /* 1980-01-01 */
        tb_u32(&b, e[i].crc);
        tb_u32(&b, e[i].comp_size);
        tb_u32(&b, e[i].size);
        tb_u16(&b, (uint32_t)nl);
        tb_u16(&b, (uint32_t)(x ? x[i] : none).local_len);
        tb_put(&b, e[i].name, nl);
        tb_put(&b, (x ? x[i] : none).local, (x ? x[i] : none).local_len);
        tb_put(&b, e[i].data, e[i].data_len);
    }
    uint64_t cd_start = b.len;
    for (size_t i = 0; i < n; i++) {
        size_t nl = e[i].name_len ? e[i].name_len : strlen(e[i].name);
        tb_u32(&b, 0x02014b50u);
        tb_u16(&b, (uint32_t)craft_opsys << 8 | 20);
        tb_u16(&b, 20);
        tb_u16(&b, craft_flags);
        tb_u16(&b, e[i].method);
        tb_u16(&b, 0);
        tb_u16(&b, 0x21);
        tb_u32(&b, e[i].crc);
        tb_u32(&b, e[i].comp_size);
        tb_u32(&b, e[i].size);
        tb_u16(&b, (uint32_t)nl);
        tb_u16(&b, (uint32_t)(x ? x[i] : none).central_len);
        tb_u16(&b, 0); /* comment */
        tb_u16(&b, 0); /* disk */
        tb_u16(&b, 0); /* internal attributes */
        tb_u32(&b, e[i].ext_attr);
        tb_u32(&b, offsets[i]);
        tb_put(&b, e[i].name, nl);
        tb_put(&b, (x ? x[i] : none).central, (x ? x[i] : none).central_len);
    }
    uint64_t cd_size = b.len - cd_start;
    uint32_t count16 = n > 0xffff ? 0xffffu : (uint32_t)n;
    if (n > 0xffff) {
        uint64_t z64 = b.len;
        tb_u32(&b, 0x06064b50u); /* ZIP64 end of central directory record */
        tb_u64(&b, 44);
        tb_u16(&b, 45);
        tb_u16(&b, 45);
        tb_u32(&b, 0);
        tb_u32(&b, 0);
        tb_u64(&b, n);
        tb_u64(&b, n);
        tb_u64(&b, cd_size);
        tb_u64(&b, cd_start);
        tb_u32(&b, 0x07064b50u); /* ZIP64 locator */
        tb_u32(&b, 0);
        tb_u64(&b, z64);
        tb_u32(&b, 1);
    }
    tb_u32(&b, 0x06054b50u);
    tb_u16(&b, 0);
    tb_u16(&b, 0);
    tb_u16(&b, count16);
    tb_u16(&b, count16);
    tb_u32(&b, cd_size);
    tb_u32(&b, cd_start);
    tb_u16(&b, 0);
    free(offsets);
    *out_len = b.len;
    return b.p;
}

static uint8_t *craft_zip(const zentry *e, size_t n, size_t *out_len)
{
    return craft_zip_x(e, NULL, n, out_len);
}

/* Raw deflate (no zlib header) of `data`, behind `pad` empty non-final stored blocks of
 * exactly 5 bytes each (00 00 00 ff ff), which tune the compressed size without changing the
 * content. */
static uint8_t *deflate_raw(const uint8_t *data, size_t len, size_t pad, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = 5 * pad + (size_t)deflateBound(&zs, (uLong)len) + 64u;
    uint8_t *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < pad; i++)
        memcpy(out + 5 * i, "\x00\x00\x00\xff\xff", 5);
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    zs.next_out = out + 5 * pad;
    zs.avail_out = (uInt)(cap - 5 * pad);
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = 5 * pad + (size_t)zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* ---- libzip-made zips ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    const uint8_t *data;
    size_t len;
    bool deflate;
} lzentry;

/* A well-formed zip written by libzip into memory. */
static uint8_t *lz_build(const lzentry *e, size_t n, size_t *out_len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    ck_assert_ptr_nonnull(src);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    ck_assert_msg(za != NULL, "zip_open_from_source: %s", zip_error_strerror(&ze));
    zip_error_fini(&ze);
    zip_source_keep(src);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s =
            zip_source_buffer(za, e[i].len ? e[i].data : (const uint8_t *)"", e[i].len, 0);
        ck_assert_ptr_nonnull(s);
        zip_int64_t idx = zip_file_add(za, e[i].name, s, ZIP_FL_ENC_UTF_8);
        ck_assert_msg(idx >= 0, "zip_file_add %s: %s", e[i].name, zip_strerror(za));
        ck_assert_int_eq(zip_set_file_compression(za, (zip_uint64_t)idx,
                                                  e[i].deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                                  e[i].deflate ? 9 : 0),
                         0);
    }
    ck_assert_msg(zip_close(za) == 0, "zip_close: %s", zip_strerror(za));
    zip_stat_t st;
    zip_stat_init(&st);
    ck_assert_int_eq(zip_source_stat(src, &st), 0);
    ck_assert_int_eq(zip_source_open(src), 0);
    uint8_t *out = malloc(st.size ? (size_t)st.size : 1);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(zip_source_read(src, out, st.size), (zip_int64_t)st.size);
    zip_source_close(src);
    zip_source_free(src);
    *out_len = (size_t)st.size;
    return out;
}

/* Opens a zip from memory with the given limits (NULL = defaults) and returns the status,
 * freeing the package; `err` (may be NULL) receives the detail. */
static capv_status open_mem(const uint8_t *zip, size_t len, const capv_package_limits *l,
                            capv_error *err)
{
    capv_package *pkg = (capv_package *)&pkg; /* must be reset to NULL on failure */
    capv_status st = capv_package_open_zip_memory(&pkg, zip, len, l, err);
    if (st != CAPV_OK)
        ck_assert_ptr_null(pkg);
    capv_package_free(pkg);
    return st;
}

/* Error detail goes into JSON reports, logs and HTTP answers: whatever the name was, the
 * field and message are UTF-8 text. */
static void assert_error_text(const capv_error *err)
{
    char *q = NULL;
    ck_assert_msg(capv_json_quote(&q, NULL, err->field, strlen(err->field), NULL) == CAPV_OK,
                  "err.field is not UTF-8 text");
    capv_free(q);
    ck_assert_msg(capv_json_quote(&q, NULL, err->message, strlen(err->message), NULL) == CAPV_OK,
                  "err.message is not UTF-8 text");
    capv_free(q);
}

static capv_status open_crafted(const zentry *e, size_t n, capv_error *err)
{
    size_t len;
    uint8_t *zip = craft_zip(e, n, &len);
    capv_status st = open_mem(zip, len, NULL, err);
    free(zip);
    return st;
}

/* ---- limits ---------------------------------------------------------------------------- */

START_TEST(limits_defaults_and_setters)
{
    capv_package_limits *l = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_ENTRIES), 10000);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_TOTAL_BYTES), 64u * 1024 * 1024);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_ENTRY_BYTES), 64u * 1024 * 1024);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_RATIO), 100);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_VERIFY_BYTES), 16u * 1024 * 1024);

    /* 0 is rejected and changes nothing */
    capv_limit all[] = { CAPV_LIMIT_ENTRIES, CAPV_LIMIT_TOTAL_BYTES, CAPV_LIMIT_ENTRY_BYTES,
                         CAPV_LIMIT_RATIO, CAPV_LIMIT_VERIFY_BYTES };
    for (size_t i = 0; i < 5; i++) {
        uint64_t before = capv_package_limits_get(l, all[i]);
        ck_assert_int_eq(capv_package_limits_set(l, all[i], 0, &err), CAPV_E_INVALID_ARG);
        ck_assert_int_eq(err.code, CAPV_E_INVALID_ARG);
        ck_assert_uint_eq(capv_package_limits_get(l, all[i]), before);
    }
    ck_assert_int_eq(capv_package_limits_set(l, (capv_limit)99, 5, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_package_limits_set(NULL, CAPV_LIMIT_RATIO, 5, NULL), CAPV_E_INVALID_ARG);
    ck_assert_uint_eq(capv_package_limits_get(l, (capv_limit)99), 0);
    ck_assert_uint_eq(capv_package_limits_get(NULL, CAPV_LIMIT_ENTRIES), 0);

    /* TOTAL lowers ENTRY when ENTRY was larger; raising TOTAL leaves ENTRY alone */
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 1000, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_TOTAL_BYTES), 1000);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_ENTRY_BYTES), 1000);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 5000, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_ENTRY_BYTES), 1000);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRY_BYTES, 200, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 300, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_ENTRY_BYTES), 200);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 7, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_ENTRIES), 7);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_RATIO, 3, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_RATIO), 3);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_VERIFY_BYTES, 4096, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_limits_get(l, CAPV_LIMIT_VERIFY_BYTES), 4096);
    capv_package_limits_free(l);
    capv_package_limits_free(NULL);
    ck_assert_int_eq(capv_package_limits_new(NULL, NULL), CAPV_E_INVALID_ARG);
}
END_TEST

/* ---- building packages member by member ------------------------------------------------ */

typedef struct {
    const char *name;
    const char *why;
} bad_name;

/* Each is refused by the name rules of docs/formats.md ("CAP packages") with CAPV_E_UNSAFE_PATH. */
static const bad_name bad_names[] = {
    { "", "empty" },
    { "../evil", "parent" },
    { "a/../../evil", "parent inside" },
    { "a/..", "trailing parent" },
    { "..", "bare parent" },
    { "/etc/passwd", "absolute" },
    { "/", "root" },
    { "a\\b", "backslash" },
    { "..\\evil", "backslash parent" },
    { "a//b", "empty component" },
    { "a/", "trailing slash" },
    { "./a", "dot component" },
    { "a/./b", "inner dot" },
    { ".", "bare dot" },
    { "a\x01"
      "b",
      "control character" },
    { "a\nb", "newline" },
    { "a\x7f", "DEL" },
    { "a\xff"
      "b",
      "invalid UTF-8" },
    { "\xc0\xae\xc0\xae/evil", "overlong-encoded dots" },
};

START_TEST(add_member_rejects_unsafe_names)
{
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_new(&pkg, NULL, NULL), CAPV_OK);
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        capv_error err = CAPV_ERROR_INIT;
        capv_status st =
            capv_package_add_member(pkg, bad_names[i].name, (const uint8_t *)"x", 1, &err);
        ck_assert_msg(st == CAPV_E_UNSAFE_PATH, "%s: status %d", bad_names[i].why, (int)st);
        ck_assert_int_eq(err.code, CAPV_E_UNSAFE_PATH);
    }
    /* a name over 1024 bytes */
    char longname[1100];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(capv_package_add_member(pkg, longname, NULL, 0, NULL), CAPV_E_UNSAFE_PATH);
    longname[1024] = '\0';
    ck_assert_int_eq(capv_package_add_member(pkg, longname, NULL, 0, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_member_count(pkg), 1);
    ck_assert_int_eq(capv_package_add_member(pkg, NULL, NULL, 0, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_package_add_member(pkg, "x", NULL, 3, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_package_add_member(NULL, "x", NULL, 0, NULL), CAPV_E_INVALID_ARG);
    ck_assert_uint_eq(capv_package_member_count(pkg), 1);
    capv_package_free(pkg);
}
END_TEST

START_TEST(add_member_sorted_duplicates_find)
{
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_new(&pkg, NULL, NULL), CAPV_OK);
    ck_assert_str_eq(capv_package_source(pkg), "<memory>");
    const char *names[] = {
        "proof.dat",  "b/c.json", "manifest.json", "B",    "a.b",
        "_meta.json", "b/a",      "..a",           "a..b", "\xc3\xa9t\xc3\xa9"
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_int_eq(capv_package_add_member(pkg, names[i], (const uint8_t *)names[i],
                                                 strlen(names[i]), NULL),
                         CAPV_OK);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_package_add_member(pkg, "manifest.json", (const uint8_t *)"x", 1, &err),
                     CAPV_E_UNSAFE_PATH);
    ck_assert_str_eq(err.field, "manifest.json");
    ck_assert_int_eq(capv_package_add_member(pkg, "b/a", NULL, 0, NULL), CAPV_E_UNSAFE_PATH);

    /* byte order */
    const char *want[] = { "..a", "B",        "_meta.json",    "a..b",      "a.b",
                           "b/a", "b/c.json", "manifest.json", "proof.dat", "\xc3\xa9t\xc3\xa9" };
    ck_assert_uint_eq(capv_package_member_count(pkg), 10);
    for (size_t i = 0; i < 10; i++) {
        ck_assert_str_eq(capv_package_member_name(pkg, i), want[i]);
        size_t len = 0;
        const uint8_t *d = capv_package_member_data(pkg, i, &len);
        ck_assert_uint_eq(len, strlen(want[i]));
        ck_assert_mem_eq(d, want[i], len);
    }
    ck_assert_ptr_null(capv_package_member_name(pkg, 10));
    ck_assert_ptr_null(capv_package_member_data(pkg, 10, NULL));

    const uint8_t *d = NULL;
    size_t len = 0;
    ck_assert_int_eq(capv_package_find(&d, &len, pkg, "b/c.json", NULL), CAPV_OK);
    ck_assert_uint_eq(len, 8);
    ck_assert_mem_eq(d, "b/c.json", 8);
    ck_assert_int_eq(capv_package_find(NULL, NULL, pkg, "proof.dat", NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_find(&d, &len, pkg, "b", NULL), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_package_find(&d, &len, pkg, "Manifest.json", NULL), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_package_find(&d, &len, pkg, "", NULL), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_package_find(&d, &len, pkg, "zzz", NULL), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_package_find(&d, &len, pkg, NULL, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_package_find(&d, &len, NULL, "a", NULL), CAPV_E_INVALID_ARG);
    capv_package_free(pkg);
    capv_package_free(NULL);
    ck_assert_uint_eq(capv_package_member_count(NULL), 0);
}
END_TEST

START_TEST(add_member_limits)
{
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 3, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 10, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRY_BYTES, 6, NULL), CAPV_OK);
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_new(&pkg, l, NULL), CAPV_OK);
    capv_package_limits_free(l); /* the package copied them */
    const uint8_t *d = (const uint8_t *)"0123456789";
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_package_add_member(pkg, "big", d, 7, &err), CAPV_E_LIMIT);
    ck_assert_str_eq(err.field, "big");
    ck_assert_int_eq(capv_package_add_member(pkg, "a", d, 6, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_add_member(pkg, "b", d, 5, NULL), CAPV_E_LIMIT); /* total 11 */
    ck_assert_int_eq(capv_package_add_member(pkg, "b", d, 4, NULL), CAPV_OK);      /* total 10 */
    ck_assert_int_eq(capv_package_add_member(pkg, "c", d, 0, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_add_member(pkg, "d", d, 0, NULL), CAPV_E_LIMIT); /* 4th */
    ck_assert_uint_eq(capv_package_member_count(pkg), 3);
    capv_package_free(pkg);
}
END_TEST

/* ---- zip: names and types -------------------------------------------------------------- */

typedef struct {
    const char *name;
    size_t name_len; /* 0 = strlen */
    const char *why;
} zip_name;

START_TEST(json_upload_error_text)
{
    /* a 200-byte member name of two-byte characters: err.field (127 bytes) cuts one in
     * half, which must not reach a JSON answer (found by fuzz_package_json,
     * tests/fuzz/corpus/package_json/regress-field-cut-inside-character.json) */
    char body[512] = "{\"package\":{\"";
    for (int i = 0; i < 100; i++)
        strcat(body, "\xc3\xa9");
    strcat(body, "\":1}}");
    capv_package *pkg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_package_open_json(&pkg, (const uint8_t *)body, strlen(body), NULL, &err),
                     CAPV_E_TYPE);
    ck_assert_ptr_null(pkg);
    assert_error_text(&err);
    ck_assert_uint_eq(strlen(err.field), CAPV_ERROR_FIELD_SIZE - 1);
    ck_assert_int_eq(err.field[CAPV_ERROR_FIELD_SIZE - 2], '?');
}
END_TEST

START_TEST(zip_unsafe_names)
{
    static const zip_name cases[] = {
        { "../evil", 0, "parent" },
        { "a/../../evil", 0, "parent inside" },
        { "/etc/passwd", 0, "absolute" },
        { "a\\b", 0, "backslash" },
        { "..\\..\\evil", 0, "backslash parent" },
        { "a//b", 0, "empty component" },
        { "./a", 0, "dot component" },
        { "a/./b", 0, "inner dot" },
        { "..", 0, "bare parent" },
        { "../", 0, "parent directory entry" },
        { "/", 0, "root directory entry" },
        { "a\x01"
          "b",
          0, "control character" },
        { "a\nb", 0, "newline" },
        { "a\x1b[2J", 0, "escape sequence" },
        { "a\xc2\x85"
          "b",
          0, "C1 control character (U+0085)" },
        { "a\xc2\x9b"
          "2J",
          0, "C1 CSI (U+009B)" },
        { "a\0b", 3, "NUL inside" },
        { "proof.dat\0../../x", 17, "NUL hiding a parent" },
        { "", 0, "empty name" },
        { "caf\x82.json", 0, "CP437 byte, not UTF-8" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zentry e[3] = { stored("manifest.json", "{}"), stored("x", "evil"),
                        stored("proof.dat", "e30=") };
        e[1].name = cases[i].name;
        e[1].name_len = cases[i].name_len;
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = open_crafted(e, 3, &err);
        ck_assert_msg(st == CAPV_E_UNSAFE_PATH, "%s: status %d (%s)", cases[i].why, (int)st,
                      err.message);
        assert_error_text(&err);
    }
}
END_TEST

START_TEST(zip_directories_and_nesting)
{
    zentry e[] = { stored("dir/", ""),           stored("dir/sub/", ""),
                   stored("dir/sub/c.txt", "c"), stored("dir/a.txt", "a"),
                   stored("top", "t"),           stored("d\xc3\xa9j\xc3\xa0 vu.txt", "utf-8") };
    size_t len;
    uint8_t *zip = craft_zip(e, 6, &len);
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_open_zip_memory(&pkg, zip, len, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_member_count(pkg), 4); /* directories are not members */
    ck_assert_str_eq(capv_package_member_name(pkg, 0), "dir/a.txt");
    ck_assert_str_eq(capv_package_member_name(pkg, 1), "dir/sub/c.txt");
    ck_assert_str_eq(capv_package_member_name(pkg, 2), "d\xc3\xa9j\xc3\xa0 vu.txt"); /* bytes */
    ck_assert_str_eq(capv_package_member_name(pkg, 3), "top");
    ck_assert_str_eq(capv_package_source(pkg), "<memory>");
    capv_package_free(pkg);
    free(zip);

    /* directories count against the entry limit */
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 4, NULL), CAPV_OK);
    zip = craft_zip(e, 5, &len);
    ck_assert_int_eq(open_mem(zip, len, l, NULL), CAPV_E_LIMIT);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 5, NULL), CAPV_OK);
    ck_assert_int_eq(open_mem(zip, len, l, NULL), CAPV_OK);
    free(zip);
    capv_package_limits_free(l);

    /* a directory entry that carries data */
    zentry d[] = { stored("dir/", "data") };
    ck_assert_int_eq(open_crafted(d, 1, NULL), CAPV_E_MALFORMED);
}
END_TEST

START_TEST(zip_duplicate_names)
{
    zentry e[] = { stored("manifest.json", "{\"a\":1}"), stored("proof.dat", "x"),
                   stored("manifest.json", "{\"a\":2}") };
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = open_crafted(e, 3, &err);
    /* libzip finds it while opening, before any name is known to us */
    ck_assert_msg(st == CAPV_E_UNSAFE_PATH, "status %d (%s)", (int)st, err.message);
    /* the same name as a directory entry twice is a duplicate too */
    zentry f[] = { stored("d/", ""), stored("d/", "") };
    ck_assert_int_eq(open_crafted(f, 2, NULL), CAPV_E_UNSAFE_PATH);
    /* names that collide once extracted: equal but for case, or a member that is the
     * directory of another (also with names sorting between them) */
    zentry g[] = { stored("m.json", "1"), stored("M.json", "2") };
    ck_assert_int_eq(open_crafted(g, 2, &err), CAPV_E_UNSAFE_PATH);
    ck_assert_ptr_nonnull(strstr(err.message, "differ only in case"));
    zentry h[] = { stored("a", "1"), stored("a-x", "2"), stored("a.y", "3"), stored("a/b", "4") };
    ck_assert_int_eq(open_crafted(h, 4, &err), CAPV_E_UNSAFE_PATH);
    ck_assert_ptr_nonnull(strstr(err.message, "is also the directory of 'a/b'"));
    zentry k[] = { stored("a.json", "1"), stored("a/b.json", "2"), stored("ab", "3"),
                   stored("b/a", "4"), stored("B/c", "5") };
    ck_assert_int_eq(open_crafted(k, 5, NULL), CAPV_OK); /* b/ and B/: one directory, fine */
    zentry q[] = { stored("a", "1"), stored("A/b", "2") };
    ck_assert_int_eq(open_crafted(q, 2, &err), CAPV_E_UNSAFE_PATH);
}
END_TEST

/* A NUL in a name that the end records' scan would not see: the central directory of the
 * archive's real end record behind a decoy one (in the real one's comment) that libzip
 * turns down, and a local header's name, which libzip compares with the central one after
 * turning a NUL into a space. Both refused. */
START_TEST(zip_nul_name_hidden)
{
    zentry e[] = { stored("manifest.json", "{}"), stored("x\0y", "evil") };
    e[1].name_len = 3;
    size_t len;
    uint8_t *zip = craft_zip(e, 2, &len);
    uint8_t *z = malloc(len + 22);
    ck_assert_ptr_nonnull(z);
    memcpy(z, zip, len);
    z[len - 2] = 22; /* the real end record's comment: a decoy end record */
    static const uint8_t decoy[22] = { 'P', 'K', 5, 6, 0, 0, 0, 0, 1, 0, 0, 0 };
    memcpy(z + len, decoy, sizeof decoy);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(open_mem(z, len + 22, NULL, &err), CAPV_E_UNSAFE_PATH);
    ck_assert_ptr_nonnull(strstr(err.message, "NUL"));
    free(z);
    free(zip);

    /* the local header says "x\0y", the central directory "x y" */
    zentry l[] = { stored("manifest.json", "{}"), stored("x y", "evil") };
    zip = craft_zip(l, 2, &len);
    uint8_t *at = memmem(zip, len, "x y", 3); /* the local header's name comes first */
    ck_assert_ptr_nonnull(at);
    at[1] = 0;
    ck_assert_int_eq(open_mem(zip, len, NULL, &err), CAPV_E_UNSAFE_PATH);
    free(zip);
}
END_TEST

START_TEST(zip_special_files)
{
    static const uint32_t modes[] = { S_IFLNK | 0777, S_IFIFO | 0644, S_IFCHR | 0644,
                                      S_IFBLK | 0644, S_IFSOCK | 0644 };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        zentry e[] = { stored("manifest.json", "{}"), stored("link", "/etc/passwd") };
        e[1].ext_attr = modes[i] << 16;
        capv_error err = CAPV_ERROR_INIT;
        ck_assert_int_eq(open_crafted(e, 2, &err), CAPV_E_UNSAFE_PATH);
        ck_assert_str_eq(err.field, "link");
    }
    /* a special file whose name is not UTF-8 either: named with '?' for the bad byte (found
     * by fuzz_verify, tests/fuzz/corpus/verify/regress-non-utf8-name-in-message.zip) */
    zentry bad[] = { stored("manifest.json", "{}"), stored("l\xeenk", "/etc/passwd") };
    bad[1].ext_attr = (uint32_t)(S_IFLNK | 0777) << 16;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(open_crafted(bad, 2, &err), CAPV_E_UNSAFE_PATH);
    ck_assert_str_eq(err.field, "l?nk");
    ck_assert_str_eq(err.message, "member 'l?nk' is a symlink or special file");
    /* a symlink made on macOS (19) and the other hosts whose zips carry a Unix mode; on
     * MS-DOS and Windows NTFS the upper bits are no mode */
    static const uint8_t unix_hosts[] = { 2, 5, 12, 13, 16, 17, 19, 30 };
    for (size_t i = 0; i < sizeof unix_hosts; i++) {
        zentry m[] = { stored("manifest.json", "{}"), stored("link", "/etc/passwd") };
        m[1].ext_attr = (uint32_t)(S_IFLNK | 0777) << 16;
        craft_opsys = unix_hosts[i];
        ck_assert_msg(open_crafted(m, 2, NULL) == CAPV_E_UNSAFE_PATH, "made by %u",
                      (unsigned)unix_hosts[i]);
    }
    zentry nt[] = { stored("plain", "x") };
    nt[0].ext_attr = (uint32_t)(S_IFLNK | 0777) << 16 | 0x20;
    craft_opsys = 10;
    ck_assert_int_eq(open_crafted(nt, 1, NULL), CAPV_OK);
    craft_opsys = OPSYS_UNIX;
    /* UNIX made-by but no file type bits (only MS-DOS attributes): a plain file */
    zentry e[] = { stored("plain", "x") };
    e[0].ext_attr = 0x20;
    ck_assert_int_eq(open_crafted(e, 1, NULL), CAPV_OK);
}
END_TEST

/* ---- zip: bombs ------------------------------------------------------------------------ */

START_TEST(zip_bomb_ratio)
{
    size_t big = 20u * 1024u * 1024u;
    uint8_t *zeros = calloc(1, big);
    ck_assert_ptr_nonnull(zeros);
    lzentry e[] = { { "manifest.json", (const uint8_t *)"{}", 2, true },
                    { "bomb.bin", zeros, big, true } };
    size_t len;
    uint8_t *zip = lz_build(e, 2, &len);
    free(zeros);
    ck_assert_uint_lt(len, big / 100); /* it really is a bomb */
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(open_mem(zip, len, NULL, &err), CAPV_E_LIMIT);
    ck_assert_str_eq(err.field, "bomb.bin");
    /* the same archive with a ratio limit it satisfies still respects the total: 20 MiB is
     * under the default 64 MiB, so it loads */
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_RATIO, 100000, NULL), CAPV_OK);
    ck_assert_int_eq(open_mem(zip, len, l, NULL), CAPV_OK);
    capv_package_limits_free(l);
    free(zip);
}
END_TEST

/* Exactly the ratio limit is allowed (docs/formats.md: ratio ≤ 100); one less as a limit is not. */
START_TEST(zip_ratio_boundary)
{
    uint8_t *zeros = NULL, *comp = NULL;
    size_t size = 0, clen = 0;
    for (size_t m = 700; m < 720 && comp == NULL; m++) {
        size = 100 * m;
        free(zeros);
        zeros = calloc(1, size);
        ck_assert_ptr_nonnull(zeros);
        size_t base;
        uint8_t *c = deflate_raw(zeros, size, 0, &base);
        free(c);
        if (base < m && (m - base) % 5 == 0) {
            comp = deflate_raw(zeros, size, (m - base) / 5, &clen);
            ck_assert_uint_eq(clen, m);
        }
    }
    ck_assert_ptr_nonnull(comp);
    ck_assert_uint_gt(size, CAPV_RATIO_EXEMPT_BYTES);
    zentry e[] = { { "exact.bin", 0, comp, clen, 8, crc_of(zeros, size), size, clen,
                     (uint32_t)(S_IFREG | 0644) << 16 } };
    size_t len;
    uint8_t *zip = craft_zip(e, 1, &len);
    capv_package *pkg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_package_open_zip_memory(&pkg, zip, len, NULL, &err) == CAPV_OK,
                  "ratio exactly 100: %s", err.message);
    size_t got = 0;
    const uint8_t *d = NULL;
    ck_assert_int_eq(capv_package_find(&d, &got, pkg, "exact.bin", NULL), CAPV_OK);
    ck_assert_uint_eq(got, size);
    ck_assert_mem_eq(d, zeros, size);
    capv_package_free(pkg);

    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_RATIO, 99, NULL), CAPV_OK);
    ck_assert_int_eq(open_mem(zip, len, l, NULL), CAPV_E_LIMIT);
    capv_package_limits_free(l);
    free(zip);
    free(comp);
    free(zeros);
}
END_TEST

/* Deterministic, poorly compressible bytes. */
static void fill_noise(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

START_TEST(zip_bomb_total_small_limit)
{
    enum { N = 5, SZ = 100 * 1024 };
    uint8_t *data = malloc((size_t)N * SZ);
    ck_assert_ptr_nonnull(data);
    fill_noise(data, (size_t)N * SZ, 7);
    char names[N][8];
    lzentry e[N];
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "part%zu", i);
        e[i] = (lzentry){ names[i], data + i * SZ, SZ, (i % 2) == 0 };
    }
    size_t len;
    uint8_t *zip = lz_build(e, N, &len);
    free(data);

    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 1024 * 1024, NULL),
                     CAPV_OK);
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_open_zip_memory(&pkg, zip, len, l, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_member_count(pkg), N);
    capv_package_free(pkg);

    /* 500 KiB of members against 300 KiB: the archive itself (~500 KiB) is within the
     * archive-size allowance (total + entries * 1 KiB), so the member sizes decide */
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 300 * 1024, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRY_BYTES, 300 * 1024, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 300, NULL), CAPV_OK);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(open_mem(zip, len, l, &err), CAPV_E_LIMIT);
    ck_assert_str_eq(err.field, "part3"); /* three fill the 300 KiB exactly */

    /* one member above the per-entry limit */
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 1024 * 1024, NULL),
                     CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRY_BYTES, SZ - 1, NULL), CAPV_OK);
    ck_assert_int_eq(open_mem(zip, len, l, &err), CAPV_E_LIMIT);
    ck_assert_str_eq(err.field, "part0");

    /* the archive itself larger than any acceptable package */
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 1000, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 2, NULL), CAPV_OK);
    ck_assert_int_eq(open_mem(zip, len, l, NULL), CAPV_E_LIMIT);
    capv_package_limits_free(l);
    free(zip);
}
END_TEST

/* Members whose declared sizes add up to more than the default 64 MiB, each under the ratio
 * limit. Their data is not a valid deflate stream: if the limit were checked only after
 * decompressing, the result would be a malformed-data error instead of CAPV_E_LIMIT. */
static uint8_t *lying_total_zip(size_t *len)
{
    enum { N = 7 };
    size_t comp = 110u * 1024u;
    uint64_t size = 10u * 1024u * 1024u; /* ratio ~93 */
    uint8_t *junk = calloc(1, comp);
    ck_assert_ptr_nonnull(junk);
    char names[N][8];
    zentry e[N];
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "big%zu", i);
        e[i] = (zentry){ names[i], 0,    junk,
                         comp,     8,    0x12345678u,
                         size,     comp, (uint32_t)(S_IFREG | 0644) << 16 };
    }
    uint8_t *zip = craft_zip(e, N, len);
    free(junk);
    return zip;
}

START_TEST(zip_bomb_total_default_limit)
{
    size_t len;
    uint8_t *zip = lying_total_zip(&len);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(open_mem(zip, len, NULL, &err), CAPV_E_LIMIT);
    ck_assert_str_eq(err.field, "big6"); /* 7 x 10 MiB > 64 MiB at the seventh */

    /* proof that only the limit stopped it: with room for it all, the junk is found */
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 100u * 1024 * 1024, NULL),
                     CAPV_OK);
    ck_assert_int_eq(open_mem(zip, len, l, &err), CAPV_E_MALFORMED);
    ck_assert_str_eq(err.field, "big0");
    capv_package_limits_free(l);
    free(zip);
}
END_TEST

static uint8_t *many_entries(size_t n, size_t *len)
{
    zentry *e = calloc(n, sizeof *e);
    char *names = malloc(n * 8);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_nonnull(names);
    ck_assert_uint_lt(n, 1000000); /* "e" + 6 digits + NUL per name */
    for (size_t i = 0; i < n; i++) {
        snprintf(names + i * 8, 8, "e%06u", (unsigned)(i % 1000000));
        e[i] = stored(names + i * 8, "");
    }
    uint8_t *zip = craft_zip(e, n, len);
    free(names);
    free(e);
    return zip;
}

START_TEST(zip_too_many_entries)
{
    size_t len;
    uint8_t *zip = many_entries(100000, &len); /* needs the ZIP64 end records */
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(open_mem(zip, len, NULL, &err), CAPV_E_LIMIT);
    free(zip);

    zip = many_entries(10001, &len);
    ck_assert_int_eq(open_mem(zip, len, NULL, NULL), CAPV_E_LIMIT);
    free(zip);

    /* the declared count is checked before the archive is parsed: ten real entries whose end
     * record claims 60,000 is refused for the claim, not for the inconsistency */
    zip = many_entries(10, &len);
    ck_assert_int_eq(open_mem(zip, len, NULL, NULL), CAPV_OK);
    zip[len - 22 + 8] = zip[len - 22 + 10] = 0x60; /* 0xea60 = 60,000 */
    zip[len - 22 + 9] = zip[len - 22 + 11] = 0xea;
    ck_assert_int_eq(open_mem(zip, len, NULL, &err), CAPV_E_LIMIT);
    free(zip);

    zip = many_entries(10000, &len); /* exactly the limit */
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_open_zip_memory(&pkg, zip, len, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_member_count(pkg), 10000);
    ck_assert_str_eq(capv_package_member_name(pkg, 9999), "e009999");
    capv_package_free(pkg);
    free(zip);
}
END_TEST

/* Info-ZIP's zip wrote the 16-bit entry count of its end record wrapped (65,537 entries as
 * 1), and libzip reads on while the directory holds more records than the count says (up to
 * N + k * 65,536). Every record the directory's size holds is checked before libzip opens the
 * archive: here a NUL in the name of one beyond the count (libzip would turn it into a
 * space), and the entry limit. */
START_TEST(zip_wrapped_entry_count)
{
    size_t len;
    uint8_t *zip = many_entries(65537, &len); /* with ZIP64 end records (56 + 20 bytes) */
    const uint8_t *z64 = zip + len - 22 - 76;
    uint32_t cd_size = 0, cd_start = 0;
    for (int i = 3; i >= 0; i--) {
        cd_size = cd_size << 8 | z64[40 + i];
        cd_start = cd_start << 8 | z64[48 + i];
    }
    size_t plain = len - 76; /* without the ZIP64 records: a plain end record */
    uint8_t *w = malloc(plain);
    ck_assert_ptr_nonnull(w);
    memcpy(w, zip, len - 22 - 76);
    uint8_t *end = w + plain - 22;
    memcpy(end, zip + len - 22, 22);
    end[8] = end[10] = 1; /* 65,537 wrapped to 1 */
    end[9] = end[11] = 0;
    for (int i = 0; i < 4; i++) {
        end[12 + i] = (uint8_t)(cd_size >> (8 * i));
        end[16 + i] = (uint8_t)(cd_start >> (8 * i));
    }
    free(zip);
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 70000, NULL), CAPV_OK);
    capv_package *pkg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_package_open_zip_memory(&pkg, w, plain, l, &err) == CAPV_OK, "%s",
                  err.message);
    ck_assert_uint_eq(capv_package_member_count(pkg), 65537);
    capv_package_free(pkg);
    /* entry 40,000: its name in the local header and in the directory */
    for (uint8_t *at = w; (at = memmem(at, plain - (size_t)(at - w), "e040000", 7)) != NULL;)
        *++at = '\0';
    ck_assert_int_eq(open_mem(w, plain, l, &err), CAPV_E_UNSAFE_PATH);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 10000, NULL), CAPV_OK);
    ck_assert_int_eq(open_mem(w, plain, l, &err), CAPV_E_LIMIT);
    ck_assert_msg(strstr(err.message, "directory") != NULL, "%s", err.message);
    capv_package_limits_free(l);
    free(w);
}
END_TEST

/* ---- zip: broken archives -------------------------------------------------------------- */

START_TEST(zip_truncated)
{
    size_t len;
    uint8_t *zip = tu_read(tu_shared_dir(), "peer/packages/webui-legacy.zip", &len);
    ck_assert_int_eq(open_mem(zip, len, NULL, NULL), CAPV_OK);
    capv_error err = CAPV_ERROR_INIT;
    capv_status half = open_mem(zip, len / 2, NULL, &err);
    ck_assert_int_eq(half, CAPV_E_MALFORMED);
    ck_assert_int_eq(err.code, half);
    /* every shorter prefix fails as malformed input, never crashes, never loads */
    for (size_t n = 0; n < len; n++) {
        capv_status st = open_mem(zip, n, NULL, NULL);
        ck_assert_msg(capv_status_class_of(st) == CAPV_CLASS_MALFORMED,
                      "prefix of %zu bytes: status %d", n, (int)st);
    }
    free(zip);
}
END_TEST

START_TEST(zip_lying_sizes)
{
    const char *text = "hello, lying world";
    size_t tl = strlen(text);
    size_t dlen;
    uint8_t *def = deflate_raw((const uint8_t *)text, tl, 0, &dlen);
    uint32_t reg = (uint32_t)(S_IFREG | 0644) << 16;
    struct {
        zentry e;
        capv_status want;
        const char *why;
    } cases[] = {
        { { "f", 0, (const uint8_t *)text, tl, 0, crc_of(text, tl), 5, 5, reg },
          CAPV_E_MALFORMED,
          "stored, declares fewer bytes" },
        { { "f", 0, (const uint8_t *)text, tl, 0, crc_of(text, tl), tl + 40, tl + 40, reg },
          CAPV_E_MALFORMED,
          "stored, declares more bytes than the archive holds" },
        { { "f", 0, (const uint8_t *)text, tl, 0, crc_of(text, tl), tl + 3, tl, reg },
          CAPV_E_MALFORMED,
          "stored, uncompressed size larger than compressed" },
        { { "f", 0, def, dlen, 8, crc_of(text, tl), 4, dlen, reg },
          CAPV_E_MALFORMED,
          "deflated, declares fewer bytes" },
        { { "f", 0, def, dlen, 8, crc_of(text, tl), tl + 10, dlen, reg },
          CAPV_E_TRUNCATED,
          "deflated, declares more bytes" },
        { { "f", 0, def, dlen, 8, crc_of(text, tl), tl, dlen - 2, reg },
          CAPV_E_MALFORMED,
          "deflated, compressed size cut short" },
        { { "f", 0, (const uint8_t *)text, tl, 0, crc_of(text, tl) ^ 1u, tl, tl, reg },
          CAPV_E_MALFORMED,
          "CRC mismatch" },
        { { "f", 0, def, dlen, 99, crc_of(text, tl), tl, dlen, reg },
          CAPV_E_MALFORMED,
          "unknown compression method" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zentry e[] = { cases[i].e, stored("tail", "after") };
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = open_crafted(e, 2, &err);
        ck_assert_msg(st == cases[i].want, "%s: status %d (%s)", cases[i].why, (int)st,
                      err.message);
    }
    free(def);
}
END_TEST

START_TEST(zip_empty_and_garbage)
{
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(open_mem(NULL, 0, NULL, &err), CAPV_E_MALFORMED);
    ck_assert_int_eq(open_mem((const uint8_t *)"", 0, NULL, NULL), CAPV_E_MALFORMED);
    ck_assert_int_eq(open_mem((const uint8_t *)"PK", 2, NULL, NULL), CAPV_E_MALFORMED);
    uint8_t noise[4096];
    for (uint32_t seed = 1; seed <= 8; seed++) {
        fill_noise(noise, sizeof noise, seed);
        ck_assert_int_eq(open_mem(noise, sizeof noise, NULL, NULL), CAPV_E_MALFORMED);
    }
    /* noise behind a local file header signature */
    memcpy(noise, "PK\x03\x04", 4);
    ck_assert_int_eq(open_mem(noise, sizeof noise, NULL, NULL), CAPV_E_MALFORMED);
    /* an empty but valid archive loads, with nothing in it */
    size_t len;
    uint8_t *zip = craft_zip(NULL, 0, &len);
    ck_assert_uint_eq(len, 22);
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_open_zip_memory(&pkg, zip, len, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_member_count(pkg), 0);
    capv_package_free(pkg);
    free(zip);
    ck_assert_int_eq(capv_package_open_zip_memory(NULL, noise, 4, NULL, NULL), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_package_open_zip_memory(&pkg, NULL, 4, NULL, NULL), CAPV_E_INVALID_ARG);
}
END_TEST

/* ---- zip: streaming (docs/architecture.md, "Packages") --------------------------------- */

/* Members up to 1 MiB are kept while the kept bytes stay within 2 MiB; the others are read
 * again, and only when asked for; either way the bytes and digests are the archive's. */
START_TEST(zip_streamed_members)
{
    enum { KIB = 1024 };
    static const size_t sizes[] = { 512 * KIB, 900 * KIB, 1536 * KIB, 900 * KIB, 10 };
    static const char *const names[] = { "a.bin", "b.bin", "c.bin", "d.bin", "e.bin" };
    static const bool kept[] = { true, true, false, false, true }; /* 1.4 MiB + 10 bytes */
    enum { N = 5 };
    uint8_t *data[N];
    lzentry e[N];
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK); /* for capv_hash; loading needs none */
    for (size_t i = 0; i < N; i++) {
        data[i] = malloc(sizes[i]);
        ck_assert_ptr_nonnull(data[i]);
        fill_noise(data[i], sizes[i], (uint32_t)i + 11);
        e[i] = (lzentry){ names[i], data[i], sizes[i], i % 2 == 0 };
    }
    size_t len;
    uint8_t *zip = lz_build(e, N, &len);
    capv_package *pkg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_package_open_zip_memory(&pkg, zip, len, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    memset(zip, 0, len); /* the package has its own copy of the archive */
    free(zip);
    ck_assert_uint_eq(pkg->kept, 1412 * KIB + 10);
    for (size_t i = 0; i < N; i++) {
        ck_assert_str_eq(capv_package_member_name(pkg, i), names[i]);
        ck_assert_int_eq(pkg->members[i].stream, !kept[i]);
        ck_assert_int_eq(pkg->members[i].data == NULL, !kept[i]);
        uint8_t want[32], got[32];
        ck_assert_int_eq(capv_hash(want, CAPV_HASH_SHA3_256, data[i], sizes[i], NULL), CAPV_OK);
        ck_assert_int_eq(capvi_package_member_sha3(pkg, i, got, NULL), CAPV_OK);
        ck_assert_mem_eq(got, want, 32);
    }
    /* a look-up without `data` and the verifier's views leave the package as it was */
    size_t n = 0;
    ck_assert_int_eq(capv_package_find(NULL, &n, pkg, "c.bin", NULL), CAPV_OK);
    ck_assert_uint_eq(n, sizes[2]);
    capv_member_view v;
    ck_assert_int_eq(capvi_package_member_view(pkg, 3, &v, NULL), CAPV_OK);
    ck_assert_ptr_nonnull(v.owned);
    ck_assert_uint_eq(v.len, sizes[3]);
    ck_assert_mem_eq(v.data, data[3], sizes[3]);
    capvi_member_view_release(&v);
    ck_assert_ptr_null(pkg->members[3].data);
    ck_assert_int_eq(capvi_package_member_view(pkg, 0, &v, NULL), CAPV_OK);
    ck_assert_ptr_null(v.owned); /* kept: borrowed */
    ck_assert_ptr_eq(v.data, pkg->members[0].data);
    capvi_member_view_release(&v);
    ck_assert_ptr_null(pkg->members[2].data);
    /* the public API loads a member once and keeps it while the package lives */
    const uint8_t *d = capv_package_member_data(pkg, 2, &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, sizes[2]);
    ck_assert_mem_eq(d, data[2], sizes[2]);
    ck_assert_ptr_eq(capv_package_member_data(pkg, 2, NULL), d);
    const uint8_t *f = NULL;
    ck_assert_int_eq(capv_package_find(&f, &n, pkg, "c.bin", NULL), CAPV_OK);
    ck_assert_ptr_eq(f, d);
    ck_assert_int_eq(capvi_package_member_view(pkg, 2, &v, NULL), CAPV_OK);
    ck_assert_ptr_eq(v.data, d);
    ck_assert_ptr_null(v.owned);
    capvi_member_view_release(&v);
    capv_package_free(pkg);
    for (size_t i = 0; i < N; i++)
        free(data[i]);
    capv_global_shutdown();
}
END_TEST

/* The chunked pass gives lying members the statuses the whole-member reads gave. */
START_TEST(zip_streamed_lying_sizes)
{
    size_t n = 3u * 1024u * 1024u, dlen;
    uint8_t *data = malloc(n);
    ck_assert_ptr_nonnull(data);
    fill_noise(data, n, 5);
    uint8_t *def = deflate_raw(data, n, 0, &dlen);
    uint32_t reg = (uint32_t)(S_IFREG | 0644) << 16, crc = crc_of(data, n);
    struct {
        zentry e;
        capv_status want;
        const char *why;
    } cases[] = {
        { { "f", 0, data, n, 0, crc, n / 2, n / 2, reg },
          CAPV_E_MALFORMED,
          "stored, declares fewer bytes" },
        { { "f", 0, def, dlen, 8, crc, n / 2, dlen, reg },
          CAPV_E_MALFORMED,
          "deflated, declares fewer bytes" },
        { { "f", 0, def, dlen, 8, crc, n + 10, dlen, reg },
          CAPV_E_TRUNCATED,
          "deflated, declares more bytes" },
        { { "f", 0, def, dlen, 8, crc, n, dlen - 2, reg },
          CAPV_E_MALFORMED,
          "deflated, compressed size cut short" },
        { { "f", 0, data, n, 0, crc ^ 1u, n, n, reg }, CAPV_E_MALFORMED, "stored, CRC mismatch" },
        { { "f", 0, def, dlen, 8, crc ^ 1u, n, dlen, reg },
          CAPV_E_MALFORMED,
          "deflated, CRC mismatch" },
        /* bzip2, xz and the like size their decoders from the archive: not read at all */
        { { "f", 0, def, dlen, 12, crc, n, dlen, reg }, CAPV_E_MALFORMED, "bzip2" },
        { { "f", 0, def, dlen, 8, crc, n, dlen, reg }, CAPV_OK, "honest" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zentry e[] = { cases[i].e, stored("tail", "after") };
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = open_crafted(e, 2, &err);
        ck_assert_msg(st == cases[i].want, "%s: status %d (%s)", cases[i].why, (int)st,
                      err.message);
        if (st != CAPV_OK)
            ck_assert_str_eq(err.field, "f");
    }
    /* every method is checked before anything is decompressed: a bzip2 member after one
     * whose CRC lies is what the error names */
    zentry order[] = { { "lies", 0, data, n, 0, crc ^ 1u, n, n, reg },
                       { "b", 0, def, dlen, 12, crc, n, dlen, reg } };
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(open_crafted(order, 2, &err), CAPV_E_MALFORMED);
    ck_assert_str_eq(err.field, "b");
    /* an encrypted member is refused as such */
    zentry enc[] = { stored("manifest.json", "{}") };
    craft_flags = 1;
    ck_assert_int_eq(open_crafted(enc, 1, &err), CAPV_E_MALFORMED);
    craft_flags = 0;
    ck_assert_str_eq(err.message, "member 'manifest.json' is encrypted");
    free(def);
    free(data);
}
END_TEST

/* libzip makes a node of every extra field and keeps them: 16 per entry, central or local. */
START_TEST(zip_extra_fields)
{
    uint8_t fields[17 * 4];
    for (size_t i = 0; i < 17; i++)
        memcpy(fields + 4 * i, "\x77\x77\x00\x00", 4); /* id 0x7777, no data */
    for (int local = 0; local < 2; local++) {
        for (size_t k = 16; k <= 17; k++) {
            zentry e[] = { stored("manifest.json", "{}"), stored("x", "data") };
            zextra x[2] = { { NULL, 0, NULL, 0 },
                            { local ? NULL : fields, local ? 0 : 4 * k, local ? fields : NULL,
                              local ? 4 * k : 0 } };
            size_t len;
            uint8_t *zip = craft_zip_x(e, x, 2, &len);
            capv_error err = CAPV_ERROR_INIT;
            capv_status st = open_mem(zip, len, NULL, &err);
            free(zip);
            ck_assert_msg(st == (k == 16 ? CAPV_OK : CAPV_E_LIMIT), "%s, %zu fields: %d (%s)",
                          local ? "local" : "central", k, (int)st, err.message);
        }
    }
}
END_TEST

/* An Info-ZIP Unicode Path extra field (0x7075: version 1, the CRC-32 of the header's name,
 * a UTF-8 name) renames its member for libzip and Info-ZIP's unzip when the CRC is the
 * header name's, and not for readers that ignore the field: two tools would read two
 * packages. Such a field naming another name is refused, in the central directory, a local
 * header or both (libzip itself refuses the first two, its names disagreeing, but reads the
 * third under the field's name); one naming the same name, or whose CRC is another name's
 * (every reader leaves the name as it is), is not. */
static size_t unicode_path(uint8_t *f, const char *crc_name, const char *uname)
{
    size_t n = strlen(uname);
    uint32_t crc = crc_of(crc_name, strlen(crc_name));
    f[0] = 0x75, f[1] = 0x70, f[2] = (uint8_t)(5 + n), f[3] = 0, f[4] = 1;
    for (int i = 0; i < 4; i++)
        f[5 + i] = (uint8_t)(crc >> (8 * i));
    memcpy(f + 9, uname, n);
    return 9 + n;
}

START_TEST(zip_unicode_path)
{
    static const struct {
        const char *crc_name, *uname;
        capv_status want;
    } cases[] = {
        { "x.json", "manifest.json", CAPV_E_UNSAFE_PATH }, /* libzip would say manifest.json */
        { "x.json", "x.json", CAPV_OK },                   /* the same name */
        { "other", "manifest.json", CAPV_OK },             /* stale: ignored by every reader */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int where = 0; where < 3; where++) { /* central, local, both */
            uint8_t f[64];
            size_t fl = unicode_path(f, cases[c].crc_name, cases[c].uname);
            zentry e[] = { stored("x.json", "{}") };
            bool central = where != 1, local = where != 0;
            zextra x[1] = { { central ? f : NULL, central ? fl : 0, local ? f : NULL,
                              local ? fl : 0 } };
            size_t len;
            uint8_t *zip = craft_zip_x(e, x, 1, &len);
            capv_package *pkg = NULL;
            capv_error err = CAPV_ERROR_INIT;
            capv_status st = capv_package_open_zip_memory(&pkg, zip, len, NULL, &err);
            ck_assert_msg(st == cases[c].want, "case %zu, where %d: %d (%s)", c, where, (int)st,
                          err.message);
            if (st == CAPV_OK) { /* the member is known by its header's name */
                ck_assert_uint_eq(capv_package_member_count(pkg), 1);
                ck_assert_str_eq(capv_package_member_name(pkg, 0), "x.json");
            } else {
                ck_assert_msg(strstr(err.message, "Unicode Path") != NULL, "%s", err.message);
            }
            capv_package_free(pkg);
            free(zip);
        }
    }
}
END_TEST

/* libzip reads the directory of every end record: together they may hold at most twice the
 * entry limit. */
START_TEST(zip_many_end_records)
{
    zentry e[] = { stored("a", "1"), stored("b", "2"), stored("c", "3") };
    size_t len;
    uint8_t *zip = craft_zip(e, 3, &len);
    /* the end record's comment holds two more end records naming the same directory */
    uint8_t *three = malloc(len + 44);
    ck_assert_ptr_nonnull(three);
    memcpy(three, zip, len);
    memcpy(three + len, zip + len - 22, 22);
    memcpy(three + len + 22, zip + len - 22, 22);
    three[len - 2] = 44;
    three[len + 22 - 2] = 22;
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 5, NULL), CAPV_OK);
    ck_assert_int_eq(open_mem(three, len + 44, l, NULL), CAPV_OK); /* 9 walked <= 10 */
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 4, NULL), CAPV_OK);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(open_mem(three, len + 44, l, &err), CAPV_E_LIMIT);
    ck_assert_int_eq(open_mem(zip, len, l, NULL), CAPV_OK); /* one record: 3 */
    capv_package_limits_free(l);
    free(three);
    free(zip);
}
END_TEST

/* A JSON body holding more values than a package of the entry limit needs is refused before
 * its tree is built. */
START_TEST(json_upload_value_count)
{
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 3, NULL), CAPV_OK);
    static const struct {
        const char *body;
        capv_status want;
    } cases[] = {
        { "{\"package\":{\"a\":\"\",\"b\":\"eA==\",\"c\":\"\"}}", CAPV_OK },
        { "{\"package\":{\"a\":\"\",\"b\":\"\",\"c\":\"\",\"d\":\"\"}}", CAPV_E_LIMIT },
        /* commas and brackets inside strings are not values */
        { "{\"package\":{\"a,[{,\":\"\",\"b\":\"\"}}", CAPV_OK },
        /* was a shape error; now the values are counted first */
        { "{\"package\":{},\"x\":[0,0,0,0]}", CAPV_E_LIMIT },
        { "{\"package\":{},\"x\":[0]}", CAPV_E_MALFORMED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capv_package *pkg = NULL;
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = capv_package_open_json(&pkg, (const uint8_t *)cases[i].body,
                                                strlen(cases[i].body), l, &err);
        ck_assert_msg(st == cases[i].want, "%s: %d (%s)", cases[i].body, (int)st, err.message);
        if (st == CAPV_OK) {
            const uint8_t *d = NULL;
            size_t n = 9;
            ck_assert_int_eq(capv_package_find(&d, &n, pkg, i == 0 ? "b" : "a,[{,", NULL), CAPV_OK);
            ck_assert_uint_eq(n, i == 0 ? 1 : 0);
            if (i == 0)
                ck_assert_int_eq(d[0], 'x');
        }
        capv_package_free(pkg);
    }
    /* an upper bound: 1 + the ',' '[' '{' outside strings (here 3 values, 5 counted) */
    ck_assert_uint_eq(capvi_pkg_json_values((const uint8_t *)"[1,\"\\\",\",{}]", 12), 5);
    /* in pieces, cut anywhere (inside a string, between a backslash and what it escapes),
     * the same count as whole */
    const char *text = "{\"a,\":[\"x\\\\\",\",\\\"[\",{\"b\":\"\\u002c{\"}],\"c\":[1,2]}";
    size_t tlen = strlen(text);
    uint64_t whole = capvi_pkg_json_values((const uint8_t *)text, tlen);
    ck_assert_uint_eq(whole, 9);
    for (size_t cut = 0; cut <= tlen; cut++) {
        capv_json_counter c = CAPV_JSON_COUNTER_INIT;
        capvi_pkg_json_count(&c, (const uint8_t *)text, cut);
        capvi_pkg_json_count(&c, (const uint8_t *)text + cut, tlen - cut);
        ck_assert_uint_eq(c.values, whole);
    }
    capv_json_counter bytes = CAPV_JSON_COUNTER_INIT;
    for (size_t i = 0; i < tlen; i++)
        capvi_pkg_json_count(&bytes, (const uint8_t *)text + i, 1);
    ck_assert_uint_eq(bytes.values, whole);
    capv_package_limits_free(l);
}
END_TEST

START_TEST(memory_bound_formula)
{
    const uint64_t MIB = 1024 * 1024;
    uint64_t b = 0;
    ck_assert_int_eq(capv_package_memory_bound(NULL, NULL, 10, NULL), CAPV_E_INVALID_ARG);
    /* an empty body: one entry's records, reading state, the verification limit */
    ck_assert_int_eq(capv_package_memory_bound(&b, NULL, 0, NULL), CAPV_OK);
    ck_assert_uint_eq(b, 2048 + 2 * MIB + 64 * 1024 + MIB + 16 * MIB + MIB);
    /* 1.5 MB of zip: 4 B, 10,000 entries' records, reading state, the verification limit */
    uint64_t body = 1572637;
    ck_assert_int_eq(capv_package_memory_bound(&b, NULL, body, NULL), CAPV_OK);
    ck_assert_uint_eq(b, 4 * body + 10000 * 2048 + 2 * MIB + 64 * 1024 + MIB + 16 * MIB + MIB);
    ck_assert_uint_lt(b, body * CAPV_DEFAULT_MAX_RATIO / 3);
    /* the limits are the bound's: fewer entries, a smaller verification budget */
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 100, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_VERIFY_BYTES, MIB, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_memory_bound(&b, l, body, NULL), CAPV_OK);
    ck_assert_uint_eq(b, 4 * body + 100 * 2048 + 2 * MIB + 64 * 1024 + MIB + MIB + MIB);
    /* small bodies cannot hold many entries */
    ck_assert_int_eq(capv_package_memory_bound(&b, NULL, 460, NULL), CAPV_OK);
    ck_assert_uint_eq(b, 4 * 460 + 11 * 2048 + 2 * MIB + 64 * 1024 + MIB + 16 * MIB + MIB);
    /* a JSON body's share is larger only for bodies of many tiny members */
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 10000000, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_memory_bound(&b, l, 60 * MIB, NULL), CAPV_OK);
    ck_assert_uint_eq(b, 2 * 60 * MIB + (uint64_t)10000000 * 512 + MIB + MIB);
    ck_assert_int_eq(capv_package_memory_bound(&b, NULL, UINT64_MAX, NULL), CAPV_OK);
    ck_assert_uint_eq(b, UINT64_MAX);
    capv_package_limits_free(l);
}
END_TEST

/* ---- zip and directory files on disk --------------------------------------------------- */

START_TEST(zip_file_on_disk)
{
    char dir[4096], path[4200];
    tmp_dir(dir, sizeof dir);
    size_t len;
    uint8_t *zip = tu_read(tu_shared_dir(), "peer/packages/webui-legacy.zip", &len);
    write_file(dir, "p.zip", zip, len);
    snprintf(path, sizeof path, "%s/p.zip", dir);
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_open_zip(&pkg, path, NULL, NULL), CAPV_OK);
    ck_assert_str_eq(capv_package_source(pkg), path);
    ck_assert_uint_eq(capv_package_member_count(pkg), 2);
    ck_assert_str_eq(capv_package_member_name(pkg, 0), "manifest.json");
    ck_assert_str_eq(capv_package_member_name(pkg, 1), "proof.dat");
    capv_package_free(pkg);
    ck_assert_int_eq(capv_package_open(&pkg, path, NULL, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_package_member_count(pkg), 2);
    capv_package_free(pkg);

    /* an unsafe zip on disk */
    size_t ulen;
    zentry e[] = { stored("../evil", "x") };
    uint8_t *bad = craft_zip(e, 1, &ulen);
    write_file(dir, "bad.zip", bad, ulen);
    snprintf(path, sizeof path, "%s/bad.zip", dir);
    ck_assert_int_eq(capv_package_open(&pkg, path, NULL, NULL), CAPV_E_UNSAFE_PATH);
    ck_assert_ptr_null(pkg);
    free(bad);

    /* a file larger than the archive allowance is refused before it is read */
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 100, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 1, NULL), CAPV_OK);
    snprintf(path, sizeof path, "%s/p.zip", dir);
    ck_assert_int_eq(capv_package_open_zip(&pkg, path, l, NULL), CAPV_E_LIMIT);
    capv_package_limits_free(l);

    /* a FIFO is refused without waiting for a writer */
    snprintf(path, sizeof path, "%s/pipe.zip", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(capv_package_open_zip(&pkg, path, NULL, NULL), CAPV_E_UNSAFE_PATH);
    ck_assert_int_eq(capv_package_open(&pkg, path, NULL, NULL), CAPV_E_UNSAFE_PATH);
    ck_assert_int_eq(unlink(path), 0);

    capv_error err = CAPV_ERROR_INIT;
    snprintf(path, sizeof path, "%s/missing.zip", dir);
    ck_assert_int_eq(capv_package_open_zip(&pkg, path, NULL, &err), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_package_open(&pkg, path, NULL, NULL), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_package_open_dir(&pkg, path, NULL, NULL), CAPV_E_NOT_FOUND);
    ck_assert_int_eq(capv_package_open(&pkg, NULL, NULL, NULL), CAPV_E_INVALID_ARG);
    free(zip);
}
END_TEST

START_TEST(dir_nested_names)
{
    char dir[4096];
    tmp_dir(dir, sizeof dir);
    make_dir(dir, "a");
    make_dir(dir, "a/b");
    make_dir(dir, "empty");
    write_file(dir, "a/b/c.txt", "c", 1);
    write_file(dir, "a/x.json", "{}", 2);
    write_file(dir, "top", "", 0);
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_open(&pkg, dir, NULL, NULL), CAPV_OK);
    ck_assert_str_eq(capv_package_source(pkg), dir);
    ck_assert_uint_eq(capv_package_member_count(pkg), 3);
    ck_assert_str_eq(capv_package_member_name(pkg, 0), "a/b/c.txt");
    ck_assert_str_eq(capv_package_member_name(pkg, 1), "a/x.json");
    ck_assert_str_eq(capv_package_member_name(pkg, 2), "top");
    size_t len = 9;
    const uint8_t *d = capv_package_member_data(pkg, 2, &len);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(capv_package_find(&d, &len, pkg, "a/b/c.txt", NULL), CAPV_OK);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(d[0], 'c');
    capv_package_free(pkg);

    /* 6 entries (3 directories + 3 files) against a limit of 5 */
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 5, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_open_dir(&pkg, dir, l, NULL), CAPV_E_LIMIT);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 6, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 2, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_open_dir(&pkg, dir, l, NULL), CAPV_E_LIMIT);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_TOTAL_BYTES, 3, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_open_dir(&pkg, dir, l, NULL), CAPV_OK);
    capv_package_free(pkg);
    capv_package_limits_free(l);
}
END_TEST

START_TEST(dir_too_deep)
{
    char dir[4096], rel[256] = "";
    tmp_dir(dir, sizeof dir);
    for (int i = 0; i < 18; i++) {
        size_t n = strlen(rel);
        snprintf(rel + n, sizeof rel - n, "%sd", n ? "/" : "");
        make_dir(dir, rel);
    }
    capv_package *pkg = NULL;
    ck_assert_int_eq(capv_package_open_dir(&pkg, dir, NULL, NULL), CAPV_E_LIMIT);
    ck_assert_ptr_null(pkg);
}
END_TEST

START_TEST(dir_symlinks)
{
    char dir[4096], path[4200];
    tmp_dir(dir, sizeof dir);
    write_file(dir, "manifest.json", "{}", 2);
    write_file(dir, "proof.dat", "e30=", 4);
    snprintf(path, sizeof path, "%s/evil", dir);
    ck_assert_int_eq(symlink("/etc/passwd", path), 0);
    capv_package *pkg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_package_open(&pkg, dir, NULL, &err), CAPV_E_UNSAFE_PATH);
    ck_assert_ptr_null(pkg);
    ck_assert_str_eq(err.field, "evil");
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(capv_package_open(&pkg, dir, NULL, NULL), CAPV_OK);
    capv_package_free(pkg);

    /* a symlink to a directory, deeper down */
    make_dir(dir, "sub");
    snprintf(path, sizeof path, "%s/sub/up", dir);
    ck_assert_int_eq(symlink("..", path), 0);
    err = (capv_error)CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_package_open(&pkg, dir, NULL, &err), CAPV_E_UNSAFE_PATH);
    ck_assert_str_eq(err.field, "sub/up");
    ck_assert_int_eq(unlink(path), 0);

    /* a dangling symlink */
    snprintf(path, sizeof path, "%s/dangling", dir);
    ck_assert_int_eq(symlink("nowhere", path), 0);
    ck_assert_int_eq(capv_package_open(&pkg, dir, NULL, NULL), CAPV_E_UNSAFE_PATH);
}
END_TEST

START_TEST(dir_fifo_and_bad_names)
{
    char dir[4096], path[4200];
    tmp_dir(dir, sizeof dir);
    write_file(dir, "manifest.json", "{}", 2);
    snprintf(path, sizeof path, "%s/pipe", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    capv_package *pkg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    /* must not block opening the FIFO */
    ck_assert_int_eq(capv_package_open_dir(&pkg, dir, NULL, &err), CAPV_E_UNSAFE_PATH);
    ck_assert_str_eq(err.field, "pipe");
    ck_assert_int_eq(unlink(path), 0);

    /* names a POSIX file system allows but a package must not carry */
    static const char *names[] = { "a\\b", "a\nb", "tab\there" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        write_file(dir, names[i], "x", 1);
        ck_assert_int_eq(capv_package_open_dir(&pkg, dir, NULL, NULL), CAPV_E_UNSAFE_PATH);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        ck_assert_int_eq(unlink(path), 0);
    }
    ck_assert_int_eq(capv_package_open_dir(&pkg, dir, NULL, NULL), CAPV_OK);
    capv_package_free(pkg);
    /* a regular file is not a directory package */
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    ck_assert_int_eq(capv_package_open_dir(&pkg, path, NULL, NULL), CAPV_E_IO);
}
END_TEST

/* ---- verification entry points --------------------------------------------------------- */

/* Asserts a report whose package.layout check failed and whose verdict is fail. */
static void assert_layout_failed(capv_report *r)
{
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(capv_report_verdict(r), CAPV_VERDICT_FAIL);
    const capv_check *c = capv_report_find_check(r, "package.layout");
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(capv_check_status_of(c), CAPV_CHECK_FAIL);
    ck_assert_str_eq(capv_report_format(r), "unknown");
    /* nothing else passed */
    for (size_t i = 0; i < capv_report_check_count(r); i++)
        ck_assert_int_ne(capv_check_status_of(capv_report_check(r, i)), CAPV_CHECK_PASS);
}

/* A legacy package (manifest.json + proof.dat from the peer vectors) plus `extra`. */
static uint8_t *legacy_plus(const zentry *extra, size_t n_extra, size_t *len)
{
    size_t ml, pl;
    uint8_t *m = tu_read(tu_shared_dir(), "peer/packages/webui-legacy/manifest.json", &ml);
    uint8_t *p = tu_read(tu_shared_dir(), "peer/packages/webui-legacy/proof.dat", &pl);
    zentry e[4];
    ck_assert_uint_le(n_extra, 2);
    e[0] = stored("manifest.json", (const char *)m);
    e[1] = stored("proof.dat", (const char *)p);
    for (size_t i = 0; i < n_extra; i++)
        e[2 + i] = extra[i];
    uint8_t *zip = craft_zip(e, 2 + n_extra, len);
    free(m);
    free(p);
    return zip;
}

START_TEST(verify_zip_memory_unsafe_is_a_fail_report)
{
    capv_verifier *v = NULL;
    ck_assert_int_eq(capv_verifier_new(&v, NULL), CAPV_OK);
    capv_report *r = NULL;
    capv_error err = CAPV_ERROR_INIT;

    /* the control: the same package without the hostile member gets past the layout */
    size_t len;
    uint8_t *zip = legacy_plus(NULL, 0, &len);
    ck_assert_int_eq(capv_verify_zip_memory(&r, v, zip, len, NULL, &err), CAPV_OK);
    const capv_check *c = capv_report_find_check(r, "package.layout");
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(capv_check_status_of(c), CAPV_CHECK_PASS);
    ck_assert_str_eq(capv_report_format(r), "legacy");
    capv_report_free(r);
    free(zip);

    zentry traversal[] = { stored("../evil", "x") };
    zentry link[] = { stored("link", "/etc/passwd") };
    link[0].ext_attr = (uint32_t)(S_IFLNK | 0777) << 16;
    zentry dup[] = { stored("manifest.json", "{}") };
    const zentry *hostile[] = { traversal, link, dup };
    for (size_t i = 0; i < 3; i++) {
        zip = legacy_plus(hostile[i], 1, &len);
        r = NULL;
        ck_assert_int_eq(capv_verify_zip_memory(&r, v, zip, len, NULL, &err), CAPV_OK);
        assert_layout_failed(r);
        capv_report_free(r);
        free(zip);
    }

    /* too many members for the limits in the options */
    capv_verify_options *o = NULL;
    capv_package_limits *l = NULL;
    ck_assert_int_eq(capv_verify_options_new(&o, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_new(&l, NULL), CAPV_OK);
    ck_assert_int_eq(capv_package_limits_set(l, CAPV_LIMIT_ENTRIES, 1, NULL), CAPV_OK);
    ck_assert_int_eq(capv_verify_options_set_limits(o, l, NULL), CAPV_OK);
    capv_package_limits_free(l);
    zip = legacy_plus(NULL, 0, &len);
    r = NULL;
    ck_assert_int_eq(capv_verify_zip_memory(&r, v, zip, len, o, &err), CAPV_OK);
    assert_layout_failed(r);
    capv_report_free(r);
    free(zip);
    capv_verify_options_free(o);
    capv_verifier_free(v);
}
END_TEST

START_TEST(verify_zip_memory_bomb_is_a_fail_report)
{
    capv_verifier *v = NULL;
    ck_assert_int_eq(capv_verifier_new(&v, NULL), CAPV_OK);
    size_t big = 20u * 1024u * 1024u;
    uint8_t *zeros = calloc(1, big);
    ck_assert_ptr_nonnull(zeros);
    lzentry e[] = { { "manifest.json", (const uint8_t *)"{}", 2, true },
                    { "proof.dat", (const uint8_t *)"e30=", 4, false },
                    { "bomb.bin", zeros, big, true } };
    size_t len;
    uint8_t *zip = lz_build(e, 3, &len);
    free(zeros);
    capv_report *r = NULL;
    ck_assert_int_eq(capv_verify_zip_memory(&r, v, zip, len, NULL, NULL), CAPV_OK);
    assert_layout_failed(r);
    capv_report_free(r);
    free(zip);

    /* 70 MiB of declared members: over the daemon's default for memory zips ... */
    zip = lying_total_zip(&len);
    r = NULL;
    ck_assert_int_eq(capv_verify_zip_memory(&r, v, zip, len, NULL, NULL), CAPV_OK);
    assert_layout_failed(r);
    capv_report_free(r);
    /* ... but within the CLI's 512 MiB for files, where the junk data is what fails */
    char dir[4096], path[4200];
    tmp_dir(dir, sizeof dir);
    write_file(dir, "big.zip", zip, len);
    snprintf(path, sizeof path, "%s/big.zip", dir);
    r = (capv_report *)&r;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_verify_path(&r, v, path, NULL, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(err.field, "big0");
    free(zip);
    capv_verifier_free(v);
}
END_TEST

START_TEST(verify_zip_memory_not_a_package)
{
    capv_verifier *v = NULL;
    ck_assert_int_eq(capv_verifier_new(&v, NULL), CAPV_OK);
    capv_error err = CAPV_ERROR_INIT;
    capv_report *r = (capv_report *)&r;

    /* a safe zip with no CAP layout in it */
    zentry e[] = { stored("readme.txt", "hello"), stored("manifest.json", "{}") };
    size_t len;
    uint8_t *zip = craft_zip(e, 2, &len);
    ck_assert_int_eq(capv_verify_zip_memory(&r, v, zip, len, NULL, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(err.code, CAPV_E_MALFORMED);
    free(zip);

    /* not a zip: empty, garbage, truncated */
    r = (capv_report *)&r;
    ck_assert_int_eq(capv_verify_zip_memory(&r, v, NULL, 0, NULL, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_null(r);
    uint8_t noise[512];
    fill_noise(noise, sizeof noise, 3);
    r = (capv_report *)&r;
    ck_assert_int_eq(capv_verify_zip_memory(&r, v, noise, sizeof noise, NULL, &err),
                     CAPV_E_MALFORMED);
    ck_assert_ptr_null(r);
    zip = legacy_plus(NULL, 0, &len);
    r = (capv_report *)&r;
    ck_assert_int_eq(capv_verify_zip_memory(&r, v, zip, len - 30, NULL, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_null(r);
    free(zip);
    capv_verifier_free(v);
}
END_TEST

START_TEST(verify_path_unsafe_dir_and_zip)
{
    char dir[4096], path[4200];
    tmp_dir(dir, sizeof dir);
    capv_verifier *v = NULL;
    ck_assert_int_eq(capv_verifier_new(&v, NULL), CAPV_OK);
    capv_report *r = NULL;
    capv_error err = CAPV_ERROR_INIT;

    /* a directory with the legacy layout and a symlink */
    size_t ml, pl;
    uint8_t *m = tu_read(tu_shared_dir(), "peer/packages/webui-legacy/manifest.json", &ml);
    uint8_t *p = tu_read(tu_shared_dir(), "peer/packages/webui-legacy/proof.dat", &pl);
    make_dir(dir, "pkg");
    write_file(dir, "pkg/manifest.json", m, ml);
    write_file(dir, "pkg/proof.dat", p, pl);
    free(m);
    free(p);
    snprintf(path, sizeof path, "%s/pkg", dir);
    ck_assert_int_eq(capv_verify_path(&r, v, path, NULL, &err), CAPV_OK);
    ck_assert_int_eq(capv_check_status_of(capv_report_find_check(r, "package.layout")),
                     CAPV_CHECK_PASS);
    capv_report_free(r);
    snprintf(path, sizeof path, "%s/pkg/extra", dir);
    ck_assert_int_eq(symlink("manifest.json", path), 0);
    snprintf(path, sizeof path, "%s/pkg", dir);
    r = NULL;
    ck_assert_int_eq(capv_verify_path(&r, v, path, NULL, &err), CAPV_OK);
    assert_layout_failed(r);
    capv_report_free(r);

    /* a FIFO instead */
    snprintf(path, sizeof path, "%s/pkg/extra", dir);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    snprintf(path, sizeof path, "%s/pkg", dir);
    r = NULL;
    ck_assert_int_eq(capv_verify_path(&r, v, path, NULL, &err), CAPV_OK);
    assert_layout_failed(r);
    capv_report_free(r);

    /* an unsafe zip file */
    zentry e[] = { stored("a/../../evil", "x") };
    size_t len;
    uint8_t *zip = legacy_plus(e, 1, &len);
    write_file(dir, "bad.zip", zip, len);
    free(zip);
    snprintf(path, sizeof path, "%s/bad.zip", dir);
    r = NULL;
    ck_assert_int_eq(capv_verify_path(&r, v, path, NULL, &err), CAPV_OK);
    assert_layout_failed(r);
    capv_report_free(r);

    /* no layout at all, and nothing there */
    make_dir(dir, "plain");
    write_file(dir, "plain/readme.txt", "hi", 2);
    snprintf(path, sizeof path, "%s/plain", dir);
    r = (capv_report *)&r;
    ck_assert_int_eq(capv_verify_path(&r, v, path, NULL, &err), CAPV_E_MALFORMED);
    ck_assert_ptr_null(r);
    snprintf(path, sizeof path, "%s/missing", dir);
    r = (capv_report *)&r;
    ck_assert_int_eq(capv_verify_path(&r, v, path, NULL, &err), CAPV_E_NOT_FOUND);
    ck_assert_ptr_null(r);
    capv_verifier_free(v);
}
END_TEST

Suite *package_suite(void)
{
    Suite *s = suite_create("package");

    TCase *tc = tcase_create("members");
    tcase_add_test(tc, limits_defaults_and_setters);
    tcase_add_test(tc, add_member_rejects_unsafe_names);
    tcase_add_test(tc, add_member_sorted_duplicates_find);
    tcase_add_test(tc, add_member_limits);
    tcase_add_test(tc, json_upload_error_text);
    suite_add_tcase(s, tc);

    tc = tcase_create("zip");
    tcase_add_test(tc, zip_unsafe_names);
    tcase_add_test(tc, zip_directories_and_nesting);
    tcase_add_test(tc, zip_duplicate_names);
    tcase_add_test(tc, zip_special_files);
    tcase_add_test(tc, zip_nul_name_hidden);
    tcase_add_test(tc, zip_bomb_ratio);
    tcase_add_test(tc, zip_ratio_boundary);
    tcase_add_test(tc, zip_bomb_total_small_limit);
    tcase_add_test(tc, zip_bomb_total_default_limit);
    tcase_add_test(tc, zip_too_many_entries);
    tcase_add_test(tc, zip_wrapped_entry_count);
    tcase_add_test(tc, zip_truncated);
    tcase_add_test(tc, zip_lying_sizes);
    tcase_add_test(tc, zip_empty_and_garbage);
    tcase_add_test(tc, zip_streamed_members);
    tcase_add_test(tc, zip_streamed_lying_sizes);
    tcase_add_test(tc, zip_extra_fields);
    tcase_add_test(tc, zip_unicode_path);
    tcase_add_test(tc, zip_many_end_records);
    tcase_add_test(tc, json_upload_value_count);
    tcase_add_test(tc, memory_bound_formula);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, zip_file_on_disk);
    tcase_add_test(tc, dir_nested_names);
    tcase_add_test(tc, dir_too_deep);
    tcase_add_test(tc, dir_symlinks);
    tcase_add_test(tc, dir_fifo_and_bad_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("verify");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, verify_zip_memory_unsafe_is_a_fail_report);
    tcase_add_test(tc, verify_zip_memory_bomb_is_a_fail_report);
    tcase_add_test(tc, verify_zip_memory_not_a_package);
    tcase_add_test(tc, verify_path_unsafe_dir_and_zip);
    suite_add_tcase(s, tc);
    return s;
}
