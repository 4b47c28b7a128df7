/* SPDX-License-Identifier: Apache-2.0 */
/* Loading CAP packages from directories, zip files and zip buffers (docs/formats.md, "CAP
 * packages"), with every limit checked before the allocation or decompression it bounds. Zip
 * members are read in chunks, and only small ones are kept (docs/architecture.md, "Packages"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "global_int.h"
#include "json_int.h"
#include "package_int.h"

#define NAME_MAX_BYTES 1024
#define DIR_MAX_DEPTH 16

void capvi_package_limits_default(struct capv_package_limits *l)
{
    l->entries = CAPV_DEFAULT_MAX_ENTRIES;
    l->total_bytes = CAPV_DEFAULT_MAX_TOTAL_BYTES;
    l->entry_bytes = CAPV_DEFAULT_MAX_TOTAL_BYTES;
    l->ratio = CAPV_DEFAULT_MAX_RATIO;
    l->verify_bytes = CAPV_DEFAULT_MAX_VERIFY_BYTES;
}

capv_status capv_package_limits_new(capv_package_limits **out, capv_error *err)
{
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = malloc(sizeof **out);
    if (*out == NULL)
        return capvi_err_nomem(err);
    capvi_package_limits_default(*out);
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_package_limits_set(capv_package_limits *l, capv_limit which, uint64_t value,
                                    capv_error *err)
{
    if (l == NULL || value == 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "limits must be positive");
    switch (which) {
    case CAPV_LIMIT_ENTRIES: l->entries = value; break;
    case CAPV_LIMIT_TOTAL_BYTES:
        l->total_bytes = value;
        if (l->entry_bytes > value)
            l->entry_bytes = value;
        break;
    case CAPV_LIMIT_ENTRY_BYTES: l->entry_bytes = value; break;
    case CAPV_LIMIT_RATIO: l->ratio = value; break;
    case CAPV_LIMIT_VERIFY_BYTES: l->verify_bytes = value; break;
    default: return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown limit %d", (int)which);
    }
    return capvi_err_done(err, CAPV_OK);
}

uint64_t capv_package_limits_get(const capv_package_limits *l, capv_limit which)
{
    if (l == NULL)
        return 0;
    switch (which) {
    case CAPV_LIMIT_ENTRIES: return l->entries;
    case CAPV_LIMIT_TOTAL_BYTES: return l->total_bytes;
    case CAPV_LIMIT_ENTRY_BYTES: return l->entry_bytes;
    case CAPV_LIMIT_RATIO: return l->ratio;
    case CAPV_LIMIT_VERIFY_BYTES: return l->verify_bytes;
    }
    return 0;
}

void capv_package_limits_free(capv_package_limits *l)
{
    free(l);
}

capv_status capvi_package_check_name(const char *name, size_t len, capv_error *err)
{
    char field[CAPV_ERROR_FIELD_SIZE];
    snprintf(field, sizeof field, "%.*s", (int)(len > 100 ? 100 : len), name);
    if (len == 0 || len > NAME_MAX_BYTES)
        return capvi_err_set(err, CAPV_E_UNSAFE_PATH, field, "member name is empty or too long");
    if (capvi_utf8_check((const uint8_t *)name, len, NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_UNSAFE_PATH, field, "member name is not UTF-8 text");
    if (name[0] == '/')
        return capvi_err_set(err, CAPV_E_UNSAFE_PATH, field, "absolute member name '%s'", field);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)name[i] : '/';
        /* Unicode's control characters: C0, DEL and C1 (U+0080..U+009F, C2 80..C2 9F) */
        if (c < 0x20 || c == 0x7f ||
            (c == 0xc2 && i + 1 < len && (unsigned char)name[i + 1] < 0xa0))
            return capvi_err_set(err, CAPV_E_UNSAFE_PATH, field,
                                 "control character in member name");
        if (c == '\\')
            return capvi_err_set(err, CAPV_E_UNSAFE_PATH, field, "backslash in member name '%s'",
                                 field);
        if (c != '/')
            continue;
        size_t n = i - start;
        if (n == 0 || (n == 1 && name[start] == '.') ||
            (n == 2 && name[start] == '.' && name[start + 1] == '.'))
            return capvi_err_set(err, CAPV_E_UNSAFE_PATH, field,
                                 "member name '%s' has an empty, '.' or '..' component", field);
        start = i + 1;
    }
    return CAPV_OK;
}

void capvi_pkg_json_count(capv_json_counter *c, const uint8_t *d, size_t len)
{
    /* Every value but the first is the first of its container (after '[' or '{') or follows
     * a ','; bytes inside strings are neither. The state lives in locals while the bytes are
     * read: stored in `c`, it could alias the bytes of `d` (a char type), and each byte would
     * cost a load and a store. A string's bytes are skipped with memchr up to its next quote
     * or backslash. */
    bool in_string = c->in_string, escaped = c->escaped;
    uint64_t values = c->values;
    size_t i = 0;
    while (i < len) {
        if (escaped) {
            escaped = false;
            i++;
        } else if (in_string) {
            const uint8_t *q = memchr(d + i, '"', len - i);
            size_t end = q != NULL ? (size_t)(q - d) : len;
            const uint8_t *b = memchr(d + i, '\\', end - i);
            if (b != NULL) {
                escaped = true;
                i = (size_t)(b - d) + 1;
            } else {
                in_string = q == NULL;
                i = end + (q != NULL);
            }
        } else {
            uint8_t ch = d[i++];
            if (ch == '"')
                in_string = true;
            else if (ch == ',' || ch == '[' || ch == '{')
                values++;
        }
    }
    c->in_string = in_string;
    c->escaped = escaped;
    c->values = values;
}

uint64_t capvi_pkg_json_values(const uint8_t *d, size_t len)
{
    capv_json_counter c = CAPV_JSON_COUNTER_INIT;
    capvi_pkg_json_count(&c, d, len);
    return c.values;
}

capv_status capv_package_new(capv_package **out, const capv_package_limits *limits, capv_error *err)
{
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_package *p = calloc(1, sizeof *p);
    if (p == NULL)
        return capvi_err_nomem(err);
    if (limits != NULL)
        p->limits = *limits;
    else
        capvi_package_limits_default(&p->limits);
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return capvi_err_nomem(err);
    }
    p->source = strdup("<memory>");
    if (p->source == NULL) {
        pthread_mutex_destroy(&p->lock);
        free(p);
        return capvi_err_nomem(err);
    }
    *out = p;
    return capvi_err_done(err, CAPV_OK);
}

void capv_package_free(capv_package *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->count; i++) {
        free(p->members[i].name);
        free(p->members[i].data);
    }
    free(p->members);
    free(p->source);
    if (p->za != NULL)
        zip_discard(p->za);
    free(p->zbuf);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static capv_status set_source(capv_package *p, const char *path, capv_error *err)
{
    char *s = strdup(path);
    if (s == NULL)
        return capvi_err_nomem(err);
    free(p->source);
    p->source = s;
    return CAPV_OK;
}

/* Accounts for one more entry of `size` bytes against the limits; a refused entry is not
 * counted (capv_package_add_member callers may go on adding). */
static capv_status account(capv_package *p, const char *name, uint64_t size, capv_error *err)
{
    if (p->entries >= p->limits.entries)
        return capvi_err_set(err, CAPV_E_LIMIT, name, "more than %llu members",
                             (unsigned long long)p->limits.entries);
    if (size > p->limits.entry_bytes)
        return capvi_err_set(err, CAPV_E_LIMIT, name, "member '%s' is %llu bytes, limit %llu", name,
                             (unsigned long long)size, (unsigned long long)p->limits.entry_bytes);
    if (size > p->limits.total_bytes - p->total)
        return capvi_err_set(err, CAPV_E_LIMIT, name,
                             "members exceed the total size limit of %llu bytes",
                             (unsigned long long)p->limits.total_bytes);
    p->entries++;
    p->total += size;
    return CAPV_OK;
}

/* Takes ownership of `data` (NULL for a zip member not kept). Does not check duplicates
 * (see finish()). */
static capv_status push_member(capv_package *p, const char *name, uint8_t *data, size_t len,
                               capv_error *err)
{
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        capv_member *m = realloc(p->members, cap * sizeof *m);
        if (m == NULL)
            goto nomem;
        p->members = m;
        p->cap = cap;
    }
    char *n = strdup(name);
    if (n == NULL)
        goto nomem;
    p->members[p->count++] = (capv_member){ .name = n, .data = data, .len = len };
    return CAPV_OK;
nomem:
    free(data);
    return capvi_err_nomem(err);
}

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const capv_member *)a)->name, ((const capv_member *)b)->name);
}

/* strncmp (n < 0: strcmp) with ASCII letters folded to lower case, whatever the locale. */
static int ascii_casecmp(const char *a, const char *b, ptrdiff_t n)
{
    for (; n != 0; a++, b++, n--) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        x += x >= 'A' && x <= 'Z' ? 'a' - 'A' : 0;
        y += y >= 'A' && y <= 'Z' ? 'a' - 'A' : 0;
        if (x != y || x == 0)
            return x - y;
    }
    return 0;
}

static int name_casecmp(const void *a, const void *b)
{
    return ascii_casecmp(*(const char *const *)a, *(const char *const *)b, -1);
}

/* Names two members share once extracted: equal but for ASCII case (one file on a
 * case-insensitive file system), or a member whose name is, but for case, the directory of
 * another's ("a" and "a/b" or "A/b": one of them cannot be extracted). Extracted, such a
 * package would give the reader another file than the one verified (docs/formats.md). */
static capv_status colliding_names(const capv_package *p, capv_error *err)
{
    const char **names = malloc(p->count * sizeof *names);
    if (names == NULL)
        return capvi_err_nomem(err);
    for (size_t i = 0; i < p->count; i++)
        names[i] = p->members[i].name;
    qsort(names, p->count, sizeof *names, name_casecmp);
    capv_status st = CAPV_OK;
    for (size_t i = 1; i < p->count && st == CAPV_OK; i++)
        if (ascii_casecmp(names[i - 1], names[i], -1) == 0)
            st = capvi_err_set(err, CAPV_E_UNSAFE_PATH, names[i],
                               "members '%s' and '%s' differ only in case", names[i - 1], names[i]);
    /* "a/" sorts right after "a" and its other extensions below '/' ("a-x", "a.x"), which
     * folding leaves in place: the first name at or after "a/" tells */
    for (size_t i = 0; i < p->count && st == CAPV_OK; i++) {
        const char *a = names[i];
        size_t n = strlen(a), lo = i + 1, hi = p->count;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            const char *m = names[mid];
            int c = ascii_casecmp(m, a, (ptrdiff_t)n);
            if (c == 0)
                c = (unsigned char)m[n] < '/' ? -1 : (unsigned char)m[n] > '/' ? 1 : 0;
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < p->count && ascii_casecmp(names[lo], a, (ptrdiff_t)n) == 0 && names[lo][n] == '/')
            st = capvi_err_set(err, CAPV_E_UNSAFE_PATH, a,
                               "member '%s' is also the directory of '%s'", a, names[lo]);
    }
    free(names);
    return st;
}

/* Sorts the members and rejects duplicate names, and names that collide once extracted. */
static capv_status finish(capv_package *p, capv_error *err)
{
    if (p->count > 1)
        qsort(p->members, p->count, sizeof *p->members, member_cmp);
    for (size_t i = 1; i < p->count; i++)
        if (strcmp(p->members[i - 1].name, p->members[i].name) == 0)
            return capvi_err_set(err, CAPV_E_UNSAFE_PATH, p->members[i].name,
                                 "duplicate member '%s'", p->members[i].name);
    return p->count > 1 ? colliding_names(p, err) : CAPV_OK;
}

capv_status capv_package_add_member(capv_package *p, const char *name, const uint8_t *data,
                                    size_t len, capv_error *err)
{
    if (p == NULL || name == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_status st = capvi_package_check_name(name, strlen(name), err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    /* binary search for the insertion point keeps the members sorted */
    size_t lo = 0, hi = p->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->members[mid].name, name);
        if (c == 0)
            return capvi_err_set(err, CAPV_E_UNSAFE_PATH, name, "duplicate member '%s'", name);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if ((st = account(p, name, len, err)) != CAPV_OK)
        return capvi_err_done(err, st);
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL)
        st = capvi_err_nomem(err);
    else if (len)
        memcpy(copy, data, len);
    if (st != CAPV_OK || (st = push_member(p, name, copy, len, err)) != CAPV_OK) {
        p->entries--; /* a member refused is not counted */
        p->total -= len;
        return capvi_err_done(err, st);
    }
    capv_member added = p->members[p->count - 1];
    memmove(&p->members[lo + 1], &p->members[lo], (p->count - 1 - lo) * sizeof added);
    p->members[lo] = added;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_package_open_json(capv_package **out, const uint8_t *json, size_t len,
                                   const capv_package_limits *limits, capv_error *err)
{
    if (out == NULL || (json == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    cJSON *root = NULL;
    capv_package *p = NULL;
    uint8_t *buf = NULL;
    capv_status st = capv_package_new(&p, limits, err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    /* cJSON spends about a hundred bytes on every value: a body that could hold more values
     * than a package of the largest allowed number of members is refused before its tree
     * is built (docs/architecture.md, "Packages") */
    if (capvi_pkg_json_values(json, len) > p->limits.entries + 2)
        CAPV_FAIL(err, CAPV_E_LIMIT, "package", "more than %llu members",
                  (unsigned long long)p->limits.entries);
    CAPV_TRY(capvi_json_parse(&root, json, len, err));
    cJSON *members = NULL;
    if (!cJSON_IsObject(root) || root->child == NULL || root->child->next != NULL ||
        strcmp(root->child->string, "package") != 0 || !cJSON_IsObject(root->child))
        CAPV_FAIL(err, CAPV_E_MALFORMED, "package",
                  "expected {\"package\": {\"<name>\": \"<base64>\", ...}}");
    members = root->child;
    for (cJSON *m = members->child; m; m = m->next) {
        if (!cJSON_IsString(m))
            CAPV_FAIL(err, CAPV_E_TYPE, m->string, "member '%.100s' must be a base64 string",
                      m->string);
        size_t tlen = strlen(m->valuestring), n = 0;
        size_t cap = CAPV_BASE64_DECODED_MAX(tlen);
        if (cap > p->limits.entry_bytes + 3)
            CAPV_FAIL(err, CAPV_E_LIMIT, m->string, "member '%.100s' exceeds the size limit",
                      m->string);
        if ((buf = malloc(cap ? cap : 1)) == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
        if (capv_base64_decode(buf, cap, &n, m->valuestring, tlen, CAPV_BASE64_STD, NULL) !=
            CAPV_OK)
            CAPV_FAIL(err, CAPV_E_BASE64, m->string, "member '%.100s' is not standard base64",
                      m->string);
        /* the text is no longer needed: the body's strings shrink as the members grow */
        capvi_json_drop_string(m);
        CAPV_TRY(capvi_package_check_name(m->string, strlen(m->string), err));
        CAPV_TRY(account(p, m->string, n, err));
        st = push_member(p, m->string, buf, n, err); /* duplicate keys are JSON errors */
        buf = NULL;
        if (st != CAPV_OK)
            goto out;
    }
    CAPV_TRY(finish(p, err));
out:
    free(buf);
    cJSON_Delete(root);
    if (st != CAPV_OK)
        capv_package_free(p);
    else
        *out = p;
    return capvi_err_done(err, st);
}

/* ---- zip ------------------------------------------------------------------------------- */

static capv_status zip_status(int code, capv_error *err)
{
    switch (code) {
    case ZIP_ER_MEMORY: return capvi_err_nomem(err);
    case ZIP_ER_EOF: return capvi_err_set(err, CAPV_E_TRUNCATED, NULL, "zip archive is truncated");
    case ZIP_ER_READ:
    case ZIP_ER_OPEN: return capvi_err_set(err, CAPV_E_IO, NULL, "cannot read zip archive");
    case ZIP_ER_EXISTS: /* libzip refuses to open an archive that repeats a name */
        return capvi_err_set(err, CAPV_E_UNSAFE_PATH, NULL, "duplicate member names in zip");
    default: break;
    }
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    capv_status st = capvi_err_set(err, CAPV_E_MALFORMED, NULL, "not a readable zip archive: %s",
                                   zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return st;
}

static capv_status crypto_fail(capv_error *err)
{
    ERR_clear_error();
    return capvi_err_set(err, CAPV_E_CRYPTO, NULL, "OpenSSL SHA3-256 failed");
}

/* Starts a SHA3-256: the digest pre-fetched by capv_global_init(), or OpenSSL's own when
 * the package is loaded before it. */
static capv_status sha3_init(EVP_MD_CTX *md, capv_error *err)
{
    const EVP_MD *alg = capvi_global_md(CAPV_HASH_SHA3_256);
    if (EVP_DigestInit_ex2(md, alg != NULL ? alg : EVP_sha3_256(), NULL) != 1)
        return crypto_fail(err);
    return CAPV_OK;
}

static capv_status sha3_final(EVP_MD_CTX *md, uint8_t out[32], capv_error *err)
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(md, out, &n) != 1 || n != 32)
        return crypto_fail(err);
    return CAPV_OK;
}

/* Reads entry `index` of `za`, declared `size` bytes, through the SHA3-256 `md`: into `dst`
 * when it is not NULL, else chunk by chunk through `chunk` (CAPV_PKG_CHUNK bytes). Nothing
 * beyond the declared size is ever stored: libzip checks the CRC at the end, and one extra
 * read proves the entry holds no more than it declared. */
static capv_status read_entry(zip_t *za, uint64_t index, const char *name, uint64_t size,
                              uint8_t *dst, uint8_t *chunk, EVP_MD_CTX *md, capv_error *err)
{
    capv_status st = CAPV_OK;
    zip_file_t *zf = zip_fopen_index(za, index, 0);
    if (zf == NULL)
        return capvi_err_set(err, CAPV_E_MALFORMED, name, "cannot open member '%s': %s", name,
                             zip_strerror(za));
    uint64_t got = 0;
    while (got < size) {
        uint8_t *to = dst != NULL ? dst + got : chunk;
        uint64_t want = size - got;
        if (dst == NULL && want > CAPV_PKG_CHUNK)
            want = CAPV_PKG_CHUNK;
        zip_int64_t r = zip_fread(zf, to, want);
        if (r < 0)
            CAPV_FAIL(err, CAPV_E_MALFORMED, name, "member '%s' is corrupt: %s", name,
                      zip_file_strerror(zf));
        if (r == 0)
            CAPV_FAIL(err, CAPV_E_TRUNCATED, name, "member '%s' is shorter than declared", name);
        if (EVP_DigestUpdate(md, to, (size_t)r) != 1) {
            st = crypto_fail(err);
            goto out;
        }
        got += (uint64_t)r;
    }
    uint8_t extra;
    if (zip_fread(zf, &extra, 1) != 0)
        CAPV_FAIL(err, CAPV_E_MALFORMED, name, "member '%s' is longer than declared or corrupt",
                  name);
out:
    zip_fclose(zf);
    return st;
}

typedef struct zip_plan {
    zip_uint64_t index;
    char *name;
    uint64_t size;
} zip_plan;

/* Whether a zip made on `opsys` keeps a Unix file mode in the upper 16 bits of its external
 * attributes: the hosts for which Info-ZIP's unzip and libarchive read them so, macOS (made
 * by 19, as its Archive Utility writes) among them. An extractor would make a symlink of such
 * a member. */
static bool unix_mode_host(zip_uint8_t opsys)
{
    switch (opsys) {
    case ZIP_OPSYS_OPENVMS:
    case ZIP_OPSYS_UNIX:
    case ZIP_OPSYS_ATARI_ST:
    case ZIP_OPSYS_VSE: /* QDOS in Info-ZIP */
    case ZIP_OPSYS_ACORN_RISC:
    case ZIP_OPSYS_BEOS:
    case ZIP_OPSYS_TANDEM:
    case ZIP_OPSYS_OS_X:
    case 30: /* AtheOS */ return true;
    default: return false;
    }
}

static bool is_special_unix_mode(zip_uint8_t opsys, zip_uint32_t attr, bool *is_dir)
{
    *is_dir = false;
    if (!unix_mode_host(opsys))
        return false;
    mode_t mode = (mode_t)(attr >> 16);
    mode_t type = mode & S_IFMT;
    if (type == S_IFDIR)
        *is_dir = true;
    return type != 0 && type != S_IFREG && type != S_IFDIR;
}

static capv_status load_zip_archive(capv_package *p, zip_t *za, capv_error *err)
{
    capv_status st = CAPV_OK;
    zip_plan *plan = NULL;
    size_t nplan = 0;
    uint8_t *buf = NULL, *chunk = NULL;
    EVP_MD_CTX *md = NULL;
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0)
        CAPV_FAIL(err, CAPV_E_MALFORMED, NULL, "cannot list zip entries");
    if ((uint64_t)n > p->limits.entries)
        CAPV_FAIL(err, CAPV_E_LIMIT, NULL, "zip has %lld entries, limit %llu", (long long)n,
                  (unsigned long long)p->limits.entries);
    plan = calloc((size_t)n + 1, sizeof *plan);
    if (plan == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);

    /* Pass 1: names, types and declared sizes — everything is checked before any data is
     * decompressed. */
    for (zip_uint64_t i = 0; i < (zip_uint64_t)n; i++) {
        zip_stat_t zs;
        zip_stat_init(&zs);
        /* raw name bytes: libzip's encoding guess would turn control characters and other
         * non-UTF-8 bytes into CP437 look-alikes and hide them from the name check */
        if (zip_stat_index(za, i, ZIP_FL_ENC_RAW, &zs) != 0 || !(zs.valid & ZIP_STAT_NAME) ||
            !(zs.valid & ZIP_STAT_SIZE) || !(zs.valid & ZIP_STAT_COMP_SIZE) ||
            !(zs.valid & ZIP_STAT_COMP_METHOD))
            CAPV_FAIL(err, CAPV_E_MALFORMED, NULL, "unreadable zip entry %llu",
                      (unsigned long long)i);
        const char *name = zs.name;
        size_t len = strlen(name);
        zip_uint8_t opsys = 0;
        zip_uint32_t attr = 0;
        if (zip_file_get_external_attributes(za, i, 0, &opsys, &attr) != 0)
            CAPV_FAIL(err, CAPV_E_MALFORMED, name, "unreadable attributes of '%s'", name);
        bool is_dir;
        if (is_special_unix_mode(opsys, attr, &is_dir))
            CAPV_FAIL(err, CAPV_E_UNSAFE_PATH, name, "member '%s' is a symlink or special file",
                      name);
        if (len > 0 && name[len - 1] == '/') {
            is_dir = true;
            len--;
        }
        CAPV_TRY(capvi_package_check_name(name, len, err));
        if (is_dir) {
            if (zs.size != 0)
                CAPV_FAIL(err, CAPV_E_MALFORMED, name, "directory entry '%s' has data", name);
            CAPV_TRY(account(p, name, 0, err));
            continue;
        }
        CAPV_TRY(account(p, name, zs.size, err));
        /* Only deflate and stored are read: other methods (bzip2, xz, ...) size their
         * decoders from the archive */
        if (zs.comp_method != ZIP_CM_STORE && zs.comp_method != ZIP_CM_DEFLATE)
            CAPV_FAIL(err, CAPV_E_MALFORMED, name,
                      "member '%s' uses compression method %u (deflate or stored only)", name,
                      (unsigned)zs.comp_method);
        if ((zs.valid & ZIP_STAT_ENCRYPTION_METHOD) && zs.encryption_method != ZIP_EM_NONE)
            CAPV_FAIL(err, CAPV_E_MALFORMED, name, "member '%s' is encrypted", name);
        /* ratio = size / comp_size must be <= the limit (exactly the limit is fine) */
        if (zs.size > CAPV_RATIO_EXEMPT_BYTES &&
            (zs.comp_size == 0 || zs.size / zs.comp_size > p->limits.ratio ||
             (zs.size / zs.comp_size == p->limits.ratio && zs.size % zs.comp_size != 0)))
            CAPV_FAIL(err, CAPV_E_LIMIT, name,
                      "member '%s' expands %llu -> %llu bytes (ratio limit %llu)", name,
                      (unsigned long long)zs.comp_size, (unsigned long long)zs.size,
                      (unsigned long long)p->limits.ratio);
        plan[nplan].index = i;
        plan[nplan].size = zs.size;
        plan[nplan].name = strdup(name);
        if (plan[nplan].name == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
        nplan++;
    }

    /* Pass 2: every member is decompressed once, in chunks, for its SHA3-256; the bytes of
     * small members are kept while they fit CAPV_PKG_KEEP_TOTAL, the others are read again
     * when asked for. */
    if ((chunk = malloc(CAPV_PKG_CHUNK)) == NULL || (md = EVP_MD_CTX_new()) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    for (size_t k = 0; k < nplan; k++) {
        const zip_plan *e = &plan[k];
        bool keep = e->size <= CAPV_PKG_KEEP_MEMBER && e->size <= CAPV_PKG_KEEP_TOTAL - p->kept;
        if (keep && (buf = malloc(e->size ? (size_t)e->size : 1)) == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
        uint8_t digest[32];
        CAPV_TRY(sha3_init(md, err));
        CAPV_TRY(read_entry(za, e->index, e->name, e->size, buf, chunk, md, err));
        CAPV_TRY(sha3_final(md, digest, err));
        st = push_member(p, e->name, buf, (size_t)e->size, err);
        buf = NULL;
        if (st != CAPV_OK)
            goto out;
        capv_member *m = &p->members[p->count - 1];
        m->stream = !keep;
        m->zindex = e->index;
        m->has_sha3 = true;
        memcpy(m->sha3, digest, 32);
        if (keep)
            p->kept += e->size;
    }
    st = finish(p, err);
out:
    free(buf);
    free(chunk);
    EVP_MD_CTX_free(md);
    for (size_t k = 0; plan != NULL && k < (size_t)(n > 0 ? n : 0); k++)
        free(plan[k].name);
    free(plan);
    return st;
}

static uint64_t rd_le(const uint8_t *d, size_t n)
{
    uint64_t v = 0;
    while (n-- > 0)
        v = v << 8 | d[n];
    return v;
}

/* What must be known before libzip parses the archive. libzip allocates per entry while
 * opening, so the entry count is checked here against every end-of-central-directory record
 * (plain or ZIP64) that libzip might use; and libzip turns a NUL in a name into a space, so
 * the raw names of every directory walked, and of the local headers they point to, are
 * checked for NUL (libzip may take the directory of any end record, and compares a local
 * header's name with the central one after that change). libzip also reads the
 * directory of every end record it finds (two are held at a time) and makes a 32-byte node
 * of every 4-byte extra field: so every directory is walked here, together at most twice the
 * entry limit, and an entry may carry at most ZIP_MAX_EXTRA_FIELDS extra fields. A directory
 * is walked as far as its declared size holds records, not only its count: libzip reads on
 * past the count while records remain (a workaround for Info-ZIP's wrapped 16-bit counts),
 * and those records would escape every check here. Structures
 * this scan cannot follow are left to libzip to reject. */
#define ZIP_MAX_EXTRA_FIELDS 16u

/* Whether the extra fields d[at..at+n) (clipped to the buffer) number more than allowed. */
static bool too_many_fields(const uint8_t *d, size_t len, uint64_t at, uint64_t n)
{
    if (at >= len)
        return false;
    size_t avail = len - at < n ? len - (size_t)at : (size_t)n, fields = 0;
    for (size_t off = 0; off + 4 <= avail; off += 4 + (size_t)rd_le(d + at + off + 2, 2))
        if (++fields > ZIP_MAX_EXTRA_FIELDS)
            return true;
    return false;
}

/* CRC-32 (the zip format's) of d[0..n), a bit at a time: only names are checked with it. */
static uint32_t name_crc32(const uint8_t *d, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= d[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* Whether the extra fields d[at..at+n) (clipped to the buffer) hold an Info-ZIP Unicode Path
 * field (0x7075: version 1, the CRC-32 of the header's name, a UTF-8 name) that gives the
 * member `name` (nl bytes) another name. libzip, as Info-ZIP's unzip, reads the member under
 * that name when the CRC is the header name's; readers that ignore the field read the
 * header's name: two tools would see two packages. */
static bool renamed_by_unicode_path(const uint8_t *d, size_t len, uint64_t at, uint64_t n,
                                    const uint8_t *name, size_t nl)
{
    if (at >= len)
        return false;
    size_t avail = len - at < n ? len - (size_t)at : (size_t)n;
    const uint8_t *ef = d + at;
    for (size_t off = 0, fl = 0; off + 4 <= avail; off += 4 + fl) {
        fl = (size_t)rd_le(ef + off + 2, 2);
        if (rd_le(ef + off, 2) != 0x7075u || fl > avail - off - 4 || fl < 5 || ef[off + 4] != 1 ||
            rd_le(ef + off + 5, 4) != name_crc32(name, nl))
            continue;
        if (fl - 5 != nl || memcmp(ef + off + 9, name, nl) != 0)
            return true;
    }
    return false;
}

/* Where the local header of the central directory entry at `cd` (with `nl` name bytes and
 * `el` extra bytes) is: its 32-bit field, or the ZIP64 extra field when that says 0xffffffff;
 * UINT64_MAX when it cannot be told. */
static uint64_t local_offset(const uint8_t *d, size_t len, uint64_t cd, size_t nl, size_t el)
{
    uint64_t off = rd_le(d + cd + 42, 4);
    if (off != 0xffffffffu)
        return off;
    uint64_t at = cd + 46 + nl;
    size_t avail = len - at < el ? len - (size_t)at : el;
    for (size_t i = 0; i + 4 <= avail; i += 4 + (size_t)rd_le(d + at + i + 2, 2)) {
        size_t fl = (size_t)rd_le(d + at + i + 2, 2);
        if (rd_le(d + at + i, 2) != 0x0001u || fl > avail - i - 4)
            continue;
        /* ZIP64: the sizes that overflowed come first, then the offset */
        size_t skip = (rd_le(d + cd + 24, 4) == 0xffffffffu ? 8u : 0u) +
                      (rd_le(d + cd + 20, 4) == 0xffffffffu ? 8u : 0u);
        return fl >= skip + 8 ? rd_le(d + at + i + 4 + skip, 8) : UINT64_MAX;
    }
    return UINT64_MAX;
}

static capv_status zip_prescan(const uint8_t *d, size_t len, const struct capv_package_limits *l,
                               capv_error *err)
{
    uint64_t steps = 0;
    size_t lo = len > 22u + 65535u ? len - 22u - 65535u : 0;
    for (size_t i = len >= 22 ? len - 22 + 1 : 0; i-- > lo;) {
        if (rd_le(d + i, 4) != 0x06054b50u)
            continue;
        uint64_t count = rd_le(d + i + 10, 2), cd = rd_le(d + i + 16, 4);
        uint64_t size = rd_le(d + i + 12, 4);
        if (rd_le(d + i + 8, 2) > count)
            count = rd_le(d + i + 8, 2);
        if (i >= 20 && rd_le(d + i - 20, 4) == 0x07064b50u) {
            uint64_t z = rd_le(d + i - 20 + 8, 8);
            if (z < len && len - z >= 56 && rd_le(d + z, 4) == 0x06064b50u) {
                count = rd_le(d + z + 24, 8);
                if (rd_le(d + z + 32, 8) > count)
                    count = rd_le(d + z + 32, 8);
                size = rd_le(d + z + 40, 8);
                cd = rd_le(d + z + 48, 8);
            }
        }
        if (count > l->entries)
            return capvi_err_set(err, CAPV_E_LIMIT, NULL, "zip declares %llu entries, limit %llu",
                                 (unsigned long long)count, (unsigned long long)l->entries);
        /* The records the directory's size holds, beyond the count too: libzip reads on
         * while records remain (Info-ZIP wrote the 16-bit count wrapped, 65,537 as 1). */
        uint64_t cd_end = cd < len && size <= len - cd ? cd + size : len;
        for (uint64_t k = 0; k < count || (cd < cd_end && cd_end - cd >= 46); k++) {
            if (cd >= len || len - cd < 46 || rd_le(d + cd, 4) != 0x02014b50u)
                break;
            if (k >= l->entries)
                return capvi_err_set(err, CAPV_E_LIMIT, NULL,
                                     "zip directory holds more than %llu entries",
                                     (unsigned long long)l->entries);
            size_t nl = (size_t)rd_le(d + cd + 28, 2), el = (size_t)rd_le(d + cd + 30, 2);
            if (len - cd - 46 < nl)
                break;
            if (memchr(d + cd + 46, 0, nl) != NULL)
                return capvi_err_set(err, CAPV_E_UNSAFE_PATH, NULL, "NUL in a member name");
            if (++steps > 2 * l->entries)
                return capvi_err_set(err, CAPV_E_LIMIT, NULL,
                                     "zip directories hold more than %llu entries",
                                     (unsigned long long)(2 * l->entries));
            /* libzip keeps the parsed extra fields of the central directory, and those of a
             * local header once the member has been read */
            uint64_t lh = local_offset(d, len, cd, nl, el);
            bool local = lh < len && len - lh >= 30 && rd_le(d + lh, 4) == 0x04034b50u;
            size_t lnl = local ? (size_t)rd_le(d + lh + 26, 2) : 0;
            if (local && len - lh - 30 >= lnl && memchr(d + lh + 30, 0, lnl) != NULL)
                return capvi_err_set(err, CAPV_E_UNSAFE_PATH, NULL, "NUL in a member name");
            if (too_many_fields(d, len, cd + 46 + nl, el) ||
                (local && too_many_fields(d, len, lh + 30 + lnl, rd_le(d + lh + 28, 2))))
                return capvi_err_set(err, CAPV_E_LIMIT, NULL,
                                     "zip entry %llu has more than %u extra fields",
                                     (unsigned long long)k, ZIP_MAX_EXTRA_FIELDS);
            if (renamed_by_unicode_path(d, len, cd + 46 + nl, el, d + cd + 46, nl) ||
                (local && len - lh - 30 >= lnl &&
                 renamed_by_unicode_path(d, len, lh + 30 + lnl, rd_le(d + lh + 28, 2), d + lh + 30,
                                         lnl)))
                return capvi_err_set(err, CAPV_E_UNSAFE_PATH, NULL,
                                     "zip entry %llu: its Unicode Path extra field names it "
                                     "other than its header (readers would disagree on its name)",
                                     (unsigned long long)k);
            cd += 46 + nl + el + rd_le(d + cd + 32, 2);
        }
    }
    return CAPV_OK;
}

/* Opens a zip held in `data`: the package takes `owned` (== data) as its copy of the
 * archive, or copies `data` when `owned` is NULL — after the checks that need no copy. */
static capv_status open_zip_bytes(capv_package **out, uint8_t *owned, const uint8_t *data,
                                  size_t len, const capv_package_limits *limits, capv_error *err)
{
    *out = NULL;
    capv_package *p = NULL;
    capv_status st = capv_package_new(&p, limits, err);
    if (st != CAPV_OK) {
        free(owned);
        return st;
    }
    p->zbuf = owned;
    p->zlen = len;
    /* The archive itself is bounded too: nothing legitimate is larger than its content
     * allowance plus per-entry headers. */
    if (len > p->limits.total_bytes + p->limits.entries * 1024u)
        CAPV_FAIL(err, CAPV_E_LIMIT, NULL, "zip archive of %zu bytes exceeds the size limit", len);
    if (len == 0)
        CAPV_FAIL(err, CAPV_E_MALFORMED, NULL, "empty input is not a zip archive");
    CAPV_TRY(zip_prescan(data, len, &p->limits, err));
    if (p->zbuf == NULL) {
        if ((p->zbuf = malloc(len)) == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
        memcpy(p->zbuf, data, len);
    }
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(p->zbuf, len, 0, &ze);
    if (src == NULL) {
        st = zip_status(zip_error_code_zip(&ze), err);
        zip_error_fini(&ze);
        goto out;
    }
    p->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (p->za == NULL) {
        zip_source_free(src);
        st = zip_status(zip_error_code_zip(&ze), err);
        zip_error_fini(&ze);
        goto out;
    }
    zip_error_fini(&ze);
    st = load_zip_archive(p, p->za, err);
out:
    if (st != CAPV_OK)
        capv_package_free(p);
    else
        *out = p;
    return st;
}

capv_status capv_package_open_zip_memory(capv_package **out, const uint8_t *data, size_t len,
                                         const capv_package_limits *limits, capv_error *err)
{
    if (out == NULL || (data == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    return capvi_err_done(err, open_zip_bytes(out, NULL, data, len, limits, err));
}

/* Reads a whole regular file from an open descriptor, at most `max` bytes. */
static capv_status read_fd(uint8_t **out, size_t *out_len, int fd, uint64_t max, const char *name,
                           capv_error *err)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return capvi_err_set(err, CAPV_E_IO, name, "cannot stat '%s': %s", name, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return capvi_err_set(err, CAPV_E_UNSAFE_PATH, name, "'%s' is not a regular file", name);
    if ((uint64_t)sb.st_size > max)
        return capvi_err_set(err, CAPV_E_LIMIT, name, "'%s' is %lld bytes, limit %llu", name,
                             (long long)sb.st_size, (unsigned long long)max);
    size_t size = (size_t)sb.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return capvi_err_nomem(err);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(buf);
            return capvi_err_set(err, CAPV_E_IO, name, "cannot read '%s'", name);
        }
        got += (size_t)r;
    }
    *out = buf;
    *out_len = size;
    return CAPV_OK;
}

capv_status capv_package_open_zip(capv_package **out, const char *path,
                                  const capv_package_limits *limits, capv_error *err)
{
    if (out == NULL || path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    struct capv_package_limits l;
    if (limits != NULL)
        l = *limits;
    else
        capvi_package_limits_default(&l);
    /* O_NONBLOCK: a FIFO with no writer would block the open; read_fd refuses anything but
     * a regular file, whose reads the flag does not change */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, path,
                             "cannot open '%s': %s", path, strerror(errno));
    uint8_t *data = NULL;
    size_t len = 0;
    capv_status st = read_fd(&data, &len, fd, l.total_bytes + l.entries * 1024u, path, err);
    close(fd);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    /* the package keeps this copy of the file: members are read from it again on demand */
    st = open_zip_bytes(out, data, data, len, &l, err);
    if (st == CAPV_OK && (st = set_source(*out, path, err)) != CAPV_OK) {
        capv_package_free(*out);
        *out = NULL;
    }
    return capvi_err_done(err, st);
}

/* ---- directories ----------------------------------------------------------------------- */

static capv_status load_dir(capv_package *p, int dirfd, const char *prefix, int depth,
                            capv_error *err)
{
    capv_status st = CAPV_OK;
    DIR *d = fdopendir(dirfd);
    if (d == NULL) {
        close(dirfd);
        return capvi_err_set(err, CAPV_E_IO, prefix, "cannot read directory: %s", strerror(errno));
    }
    struct dirent *de;
    char name[NAME_MAX_BYTES + 2];
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int n = snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name);
        if (n < 0 || (size_t)n > NAME_MAX_BYTES)
            CAPV_FAIL(err, CAPV_E_UNSAFE_PATH, de->d_name, "member name too long");
        CAPV_TRY(capvi_package_check_name(name, (size_t)n, err));
        struct stat sb;
        if (fstatat(dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            CAPV_FAIL(err, CAPV_E_IO, name, "cannot stat '%s': %s", name, strerror(errno));
        if (S_ISDIR(sb.st_mode)) {
            CAPV_TRY(account(p, name, 0, err));
            if (depth >= DIR_MAX_DEPTH)
                CAPV_FAIL(err, CAPV_E_LIMIT, name, "directories nested too deeply");
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                CAPV_FAIL(err, CAPV_E_IO, name, "cannot open '%s': %s", name, strerror(errno));
            CAPV_TRY(load_dir(p, sub, name, depth + 1, err));
            continue;
        }
        if (!S_ISREG(sb.st_mode))
            CAPV_FAIL(err, CAPV_E_UNSAFE_PATH, name, "member '%s' is a symlink or special file",
                      name);
        CAPV_TRY(account(p, name, (uint64_t)sb.st_size, err));
        int fd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            CAPV_FAIL(err, CAPV_E_IO, name, "cannot open '%s': %s", name, strerror(errno));
        uint8_t *data = NULL;
        size_t len = 0;
        /* the size may have changed since fstatat: read_fd re-checks against what is left */
        st = read_fd(&data, &len, fd, (uint64_t)sb.st_size, name, err);
        close(fd);
        if (st != CAPV_OK)
            goto out;
        CAPV_TRY(push_member(p, name, data, len, err));
    }
    if (errno != 0)
        CAPV_FAIL(err, CAPV_E_IO, prefix, "cannot read directory: %s", strerror(errno));
out:
    closedir(d);
    return st;
}

capv_status capv_package_open_dir(capv_package **out, const char *path,
                                  const capv_package_limits *limits, capv_error *err)
{
    if (out == NULL || path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_package *p = NULL;
    capv_status st = capv_package_new(&p, limits, err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        st = capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, path,
                           "cannot open directory '%s': %s", path, strerror(errno));
        goto out;
    }
    CAPV_TRY(load_dir(p, fd, "", 0, err));
    CAPV_TRY(finish(p, err));
    CAPV_TRY(set_source(p, path, err));
out:
    if (st != CAPV_OK)
        capv_package_free(p);
    else
        *out = p;
    return capvi_err_done(err, st);
}

capv_status capv_package_open(capv_package **out, const char *path,
                              const capv_package_limits *limits, capv_error *err)
{
    if (out == NULL || path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, path,
                             "cannot open '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return capvi_err_done(err, capv_package_open_dir(out, path, limits, err));
    return capvi_err_done(err, capv_package_open_zip(out, path, limits, err));
}

/* ---- members --------------------------------------------------------------------------- */

size_t capv_package_member_count(const capv_package *p)
{
    return p ? p->count : 0;
}

const char *capv_package_member_name(const capv_package *p, size_t i)
{
    return p && i < p->count ? p->members[i].name : NULL;
}

/* The package's lock is taken by readers of a const package: it guards state that reading
 * changes (members loaded on demand, digests computed on demand, the archive's position). */
static void lock(const capv_package *p)
{
    pthread_mutex_lock((pthread_mutex_t *)&p->lock);
}

static void unlock(const capv_package *p)
{
    pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
}

/* Decompresses a member that was not kept into a new buffer and checks it against the
 * SHA3-256 computed at load. Called with the lock held. */
static capv_status load_member(const capv_package *p, const capv_member *m, uint8_t **out,
                               capv_error *err)
{
    capv_status st = CAPV_OK;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *buf = malloc(m->len ? m->len : 1), digest[32];
    if (md == NULL || buf == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    CAPV_TRY(sha3_init(md, err));
    CAPV_TRY(read_entry(p->za, m->zindex, m->name, m->len, buf, NULL, md, err));
    CAPV_TRY(sha3_final(md, digest, err));
    if (CRYPTO_memcmp(digest, m->sha3, 32) != 0)
        CAPV_FAIL(err, CAPV_E_MALFORMED, m->name, "member '%s' reads differently than it did",
                  m->name);
    *out = buf;
    buf = NULL;
out:
    free(buf);
    EVP_MD_CTX_free(md);
    return st;
}

/* A member's bytes for the public API: loaded once and kept while the package lives. */
static capv_status member_data(const capv_package *p, size_t i, const uint8_t **data,
                               capv_error *err)
{
    capv_member *m = &p->members[i];
    if (!m->stream) {
        *data = m->data;
        return CAPV_OK;
    }
    capv_status st = CAPV_OK;
    lock(p);
    if (m->data == NULL)
        st = load_member(p, m, &m->data, err);
    *data = m->data;
    unlock(p);
    return st;
}

const uint8_t *capv_package_member_data(const capv_package *p, size_t i, size_t *len)
{
    if (p == NULL || i >= p->count)
        return NULL;
    const uint8_t *d = NULL;
    if (member_data(p, i, &d, NULL) != CAPV_OK)
        return NULL;
    if (len != NULL)
        *len = p->members[i].len;
    return d;
}

bool capvi_package_index(const capv_package *p, const char *name, size_t *index)
{
    size_t lo = 0, hi = p->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->members[mid].name, name);
        if (c == 0) {
            *index = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

capv_status capv_package_find(const uint8_t **data, size_t *len, const capv_package *p,
                              const char *name, capv_error *err)
{
    if (p == NULL || name == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    size_t i;
    if (!capvi_package_index(p, name, &i))
        return capvi_err_set(err, CAPV_E_NOT_FOUND, name, "no member '%.100s'", name);
    if (data != NULL) {
        capv_status st = member_data(p, i, data, err);
        if (st != CAPV_OK)
            return capvi_err_done(err, st);
    }
    if (len != NULL)
        *len = p->members[i].len;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capvi_package_member_sha3(const capv_package *p, size_t i, uint8_t out[32],
                                      capv_error *err)
{
    capv_member *m = &p->members[i];
    capv_status st = CAPV_OK;
    lock(p);
    if (!m->has_sha3) {
        /* only held members lack one: zip members are hashed while they load */
        st = capv_hash(m->sha3, CAPV_HASH_SHA3_256, m->data, m->len, err);
        m->has_sha3 = st == CAPV_OK;
    }
    if (st == CAPV_OK)
        memcpy(out, m->sha3, 32);
    unlock(p);
    return st;
}

capv_status capvi_package_member_view(const capv_package *p, size_t i, capv_member_view *v,
                                      capv_error *err)
{
    const capv_member *m = &p->members[i];
    *v = (capv_member_view){ NULL, m->len, NULL };
    if (!m->stream) {
        v->data = m->data;
        return CAPV_OK;
    }
    capv_status st = CAPV_OK;
    lock(p);
    if (m->data != NULL)
        v->data = m->data; /* loaded through capv_package_member_data already */
    else if ((st = load_member(p, m, &v->owned, err)) == CAPV_OK)
        v->data = v->owned;
    unlock(p);
    return st;
}

void capvi_member_view_release(capv_member_view *v)
{
    free(v->owned);
    *v = (capv_member_view){ NULL, 0, NULL };
}

const char *capv_package_source(const capv_package *p)
{
    return p ? p->source : NULL;
}

/* ---- memory bound ---------------------------------------------------------------------- */

/* The terms of capv_package_memory_bound (include/capverify/package.h explains them),
 * measured on glibc malloc, 64-bit, libzip 1.7 with hostile archives at their worst. */
#define BOUND_ZIP_PER_BYTE 4u     /* our copy; names, comments, extra data in libzip */
#define BOUND_ZIP_PER_ENTRY 2048u /* libzip's and our records of one entry */
#define BOUND_ZIP_MIN_ENTRY 46u   /* a central directory record is at least this */
#define BOUND_ZIP_READING ((uint64_t)1024 * 1024) /* inflate state, a local header's fields */
#define BOUND_JSON_PER_BYTE 2u              /* the parsed body's strings and the decoded members */
#define BOUND_JSON_PER_ENTRY 512u           /* a member's cJSON node, key and record */
#define BOUND_JSON_MIN_ENTRY 6u             /* "a":"", */
#define BOUND_FIXED ((uint64_t)1024 * 1024) /* the verification's fixed state */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

capv_status capv_package_memory_bound(uint64_t *out, const capv_package_limits *limits,
                                      uint64_t body_len, capv_error *err)
{
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    struct capv_package_limits l;
    if (limits != NULL)
        l = *limits;
    else
        capvi_package_limits_default(&l);
    uint64_t zip_entries = body_len / BOUND_ZIP_MIN_ENTRY + 1;
    uint64_t json_entries = body_len / BOUND_JSON_MIN_ENTRY + 1;
    if (zip_entries > l.entries)
        zip_entries = l.entries;
    if (json_entries > l.entries)
        json_entries = l.entries;
    uint64_t zip = sat_add(
        sat_add(sat_mul(body_len, BOUND_ZIP_PER_BYTE), sat_mul(zip_entries, BOUND_ZIP_PER_ENTRY)),
        CAPV_PKG_KEEP_TOTAL + CAPV_PKG_CHUNK + BOUND_ZIP_READING);
    uint64_t json = sat_add(sat_mul(body_len, BOUND_JSON_PER_BYTE),
                            sat_mul(json_entries, BOUND_JSON_PER_ENTRY));
    *out = sat_add(sat_add(zip > json ? zip : json, l.verify_bytes), BOUND_FIXED);
    return capvi_err_done(err, CAPV_OK);
}
