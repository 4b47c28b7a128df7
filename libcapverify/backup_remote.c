/* SPDX-License-Identifier: Apache-2.0 */
/* Off-site copies of registry backups (backup_remote.h; docs/registry.md, "Off-site copies"):
 * what goes to the store and in which order, what counts as a complete copy there, and how a
 * copy comes back. The HTTP side is s3.c's. */
#include <capverify/backup_remote.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "file_int.h"
#include "global_int.h"
#include "json_int.h"
#include "registry_backup_int.h"
#include "s3_int.h"
#include "tempfile_int.h"
#include "time_int.h"

#define SIDECAR_MAX (64u * 1024u)
#define HASH_CHUNK (1u << 20)
#define MAX_PARTS 10000u
#define PREFIX_MAX 512u
#define PUT_MAX ((uint64_t)5 << 30) /* the most one PUT (or one part) may store */
/* A database object without a sidecar younger than this may be an upload under way. */
#define ORPHAN_MIN_AGE_MS (60 * 60 * 1000)

struct capv_backup_remote {
    capvi_s3 *s3;
    char *bucket;
    char *prefix; /* "" or ending in '/' */
    uint64_t threshold, part_size;
};

/* ---- names ----------------------------------------------------------------------------- */

/* Hex digits of the SHA3-256 in a copy's name in the store: 64 bits. */
#define NAME_HASH_DIGITS 16

/* registry-<digits, 'T', 'Z', '-'>.<ext> (a local backup's name, and a copy's in the store
 * until 2026-12-08), or registry-<yyyymmddTHHMMSSZ>-<16 hex digits>.<ext> (store_name) */
static bool backup_name(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    if (n <= 9 + e || strncmp(name, "registry-", 9) != 0 || strcmp(name + n - e, ext) != 0)
        return false;
    const char *mid = name + 9;
    size_t len = n - 9 - e;
    if (strspn(mid, "0123456789TZ-") == len)
        return true;
    return len == 17 + NAME_HASH_DIGITS && strspn(mid, "0123456789TZ") == 16 && mid[16] == '-' &&
           strspn(mid + 17, "0123456789abcdef") == NAME_HASH_DIGITS;
}

/* A backup's name in the store, without extension: the UTC second of its created_at and the
 * first digits of its SHA3-256 (`sha3_hex`, "0x…"). Two replicas, or a daemon and a CLI,
 * that back up in the same second upload under two names, where the local names (one per
 * directory) would be one and their PUTs could leave the file of one beside the sidecar of
 * the other; a name is shared only by files of the same bytes, which either sidecar
 * describes (docs/registry.md, "Off-site copies"). */
static void store_name(char out[64], int64_t created_ms, const char *sha3_hex)
{
    char stamp[32], compact[20];
    capvi_time_format_s(stamp, created_ms); /* YYYY-MM-DDTHH:MM:SSZ → yyyymmddTHHMMSSZ */
    size_t k = 0;
    for (const char *p = stamp; *p && k + 1 < sizeof compact; p++)
        if (*p != '-' && *p != ':')
            compact[k++] = *p;
    compact[k] = '\0';
    snprintf(out, 64, "registry-%s-%.*s", compact, NAME_HASH_DIGITS, sha3_hex + 2);
}

static bool bucket_ok(const char *b, size_t n, bool path_style)
{
    if (path_style) /* stores reached by path accept more than DNS names */
        return n >= 1 && n <= 255 &&
               strspn(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") >= n;
    return n >= 3 && n <= 63 && strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") >= n &&
           b[0] != '.' && b[0] != '-';
}

/* A key or prefix without control bytes, "//", or "." / ".." segments. */
static bool key_ok(const char *k)
{
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    if (strstr(k, "//") != NULL)
        return false;
    for (const char *seg = k; seg != NULL && *seg;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        seg = slash ? slash + 1 : NULL;
    }
    return true;
}

/* "s3://BUCKET[/REST]" -> bucket and rest (both malloc'd; rest may be ""). */
static capv_status parse_s3_url(char **bucket, char **rest, const char *url, bool path_style,
                                const char *what, capv_error *err)
{
    *bucket = *rest = NULL;
    if (url == NULL || strncmp(url, "s3://", 5) != 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, what, "%s '%.200s' is not an s3:// URL", what,
                             url ? url : "(null)");
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t bn = slash ? (size_t)(slash - b) : strlen(b);
    const char *r = slash ? slash + 1 : "";
    if (!bucket_ok(b, bn, path_style))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, what,
                             "%s '%.200s': '%.*s' is not a bucket name%s", what, url,
                             (int)(bn > 100 ? 100 : bn), b,
                             path_style ? "" : " (3-63 of a-z 0-9 . -; others need path style)");
    if (strlen(r) > PREFIX_MAX || !key_ok(r) || r[0] == '/')
        return capvi_err_set(err, CAPV_E_INVALID_ARG, what,
                             "%s '%.200s': the key part is too long or has control characters, "
                             "'//' or '.' / '..' segments",
                             what, url);
    *bucket = strndup(b, bn);
    *rest = strdup(r);
    if (*bucket == NULL || *rest == NULL) {
        free(*bucket);
        free(*rest);
        *bucket = *rest = NULL;
        return capvi_err_nomem(err);
    }
    return CAPV_OK;
}

/* ---- the handle ------------------------------------------------------------------------ */

void capv_backup_remote_free(capv_backup_remote *r)
{
    if (r == NULL)
        return;
    capvi_s3_free(r->s3);
    free(r->bucket);
    free(r->prefix);
    free(r);
}

/* The size of each version of capv_backup_remote_options (docs/abi.md, "Growing structs"). */
static const size_t options_sizes[] = { 0, sizeof(capv_backup_remote_options) };
_Static_assert(sizeof options_sizes / sizeof options_sizes[0] ==
                   CAPV_BACKUP_REMOTE_OPTIONS_VERSION + 1,
               "one size per version of capv_backup_remote_options");

/* What capv_backup_remote_check_options checks, on the caller's options read into `o` (the
 * current version's defaults beyond the caller's version); bucket, prefix ("" or ending in
 * '/') and the endpoint (the default one when none is given) are malloc'd for the caller. */
static capv_status check_options(char **bucket, char **prefix, char **endpoint,
                                 capv_backup_remote_options *o,
                                 const capv_backup_remote_options *in, capv_error *err)
{
    *bucket = *prefix = *endpoint = NULL;
    if (in == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_status vst =
        capvi_struct_read(o, in, options_sizes, sizeof options_sizes / sizeof options_sizes[0],
                          "capv_backup_remote_options", err);
    if (vst != CAPV_OK)
        return vst;
    const char *region = o->region && *o->region ? o->region : "us-east-1";
    char *rest = NULL;
    capv_status st = parse_s3_url(bucket, &rest, o->url, o->path_style, "url", err);
    if (st != CAPV_OK)
        return st;
    size_t rn = strlen(rest);
    if ((*prefix = malloc(rn + 2)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    memcpy(*prefix, rest, rn + 1);
    if (rn > 0 && rest[rn - 1] != '/')
        memcpy(*prefix + rn, "/", 2);
    if (o->part_size != 0 && (o->part_size < 4096 || o->part_size > PUT_MAX))
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, "part_size", "part_size %llu is not 4096 .. 5 GiB",
                  (unsigned long long)o->part_size);
    /* beyond PUT_MAX S3 answers EntityTooLarge: larger files go in parts */
    if (o->multipart_threshold > PUT_MAX)
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, "multipart_threshold",
                  "multipart_threshold %llu is above 5 GiB, the most one PUT may store",
                  (unsigned long long)o->multipart_threshold);
    if (o->endpoint != NULL && *o->endpoint) {
        *endpoint = strdup(o->endpoint);
    } else {
        size_t n = strlen(region) + 32;
        if ((*endpoint = malloc(n)) != NULL)
            snprintf(*endpoint, n, "https://s3.%s.amazonaws.com", region);
    }
    if (*endpoint == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    st = capvi_s3_check(*endpoint, region, err);
out:
    free(rest);
    if (st != CAPV_OK) {
        free(*bucket);
        free(*prefix);
        free(*endpoint);
        *bucket = *prefix = *endpoint = NULL;
    }
    return st;
}

capv_status capv_backup_remote_check_options(const capv_backup_remote_options *o, capv_error *err)
{
    char *bucket, *prefix, *endpoint;
    capv_backup_remote_options opt = CAPV_BACKUP_REMOTE_OPTIONS_INIT;
    capv_status st = check_options(&bucket, &prefix, &endpoint, &opt, o, err);
    free(bucket);
    free(prefix);
    free(endpoint);
    return capvi_err_done(err, st);
}

capv_status capv_backup_remote_new(capv_backup_remote **out, const capv_backup_remote_options *in,
                                   capv_error *err)
{
    if (out == NULL || in == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return st;
    char *access = NULL, *secret = NULL, *token = NULL, *endpoint = NULL;
    capv_backup_remote_options opt = CAPV_BACKUP_REMOTE_OPTIONS_INIT;
    const capv_backup_remote_options *o = &opt;
    capv_backup_remote *r = calloc(1, sizeof *r);
    if (r == NULL)
        return capvi_err_nomem(err);
    CAPV_TRY(check_options(&r->bucket, &r->prefix, &endpoint, &opt, in, err));
    const char *region = o->region && *o->region ? o->region : "us-east-1";
    r->threshold = o->multipart_threshold ? o->multipart_threshold : CAPV_BACKUP_REMOTE_PART_SIZE;
    r->part_size = o->part_size ? o->part_size : CAPV_BACKUP_REMOTE_PART_SIZE;
    CAPV_TRY(
        capvi_s3_credentials_load(&access, &secret, &token, o->credentials_file, o->profile, err));
    capvi_s3_config cfg = {
        .endpoint = endpoint,
        .region = region,
        .path_style = o->path_style,
        .ca_file = o->ca_file,
        .access_key = access,
        .secret_key = secret,
        .session_token = token,
        .max_attempts = o->max_attempts,
        .backoff_ms = o->backoff_ms,
        .timeout_ms = o->timeout_ms,
        .cancel = o->cancel,
        .cancel_user = o->cancel_user,
    };
    CAPV_TRY(capvi_s3_new(&r->s3, &cfg, err));
    *out = r;
    r = NULL;
out:
    capvi_s3_secret_free(access);
    capvi_s3_secret_free(secret);
    capvi_s3_secret_free(token);
    free(endpoint);
    capv_backup_remote_free(r);
    return capvi_err_done(err, st);
}

/* ---- descriptions of remote backups ---------------------------------------------------- */

typedef struct remote_box {
    capv_backup_remote_info info;
    char *url, *key, *sidecar_key, *created_at, *uploaded_at, *sha3, *tool;
    capvi_instant created; /* created_at read: the listing's order */
} remote_box;

void capv_backup_remote_info_free(capv_backup_remote_info *info)
{
    if (info == NULL)
        return;
    remote_box *b = (remote_box *)info;
    free(b->url);
    free(b->key);
    free(b->sidecar_key);
    free(b->created_at);
    free(b->uploaded_at);
    free(b->sha3);
    free(b->tool);
    free(b);
}

/* A remote backup from its sidecar's bytes. CAPV_E_MALFORMED / CAPV_E_UNSUPPORTED_FORMAT for a
 * sidecar that is not a backup's. */
static capv_status box_from_sidecar(remote_box **out, const uint8_t *side, size_t side_len,
                                    const char *bucket, const char *key, const char *sidecar_key,
                                    int64_t uploaded_ms, capv_error *err)
{
    *out = NULL;
    cJSON *root = NULL;
    capv_status st = CAPV_OK;
    remote_box *b = NULL;
    capv_error jerr = CAPV_ERROR_INIT;
    if (capvi_json_parse(&root, side, side_len, &jerr) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, sidecar_key, "sidecar '%s' is not valid JSON: %s",
                  sidecar_key, jerr.message);
    const char *format = NULL, *created = NULL, *sha3 = NULL, *tool = NULL;
    int64_t size = 0, schema = 0, entries = 0, verifications = 0;
    uint8_t d[32];
    if (capvi_json_get_string(&format, root, "", "format", true, NULL) != CAPV_OK ||
        strcmp(format, CAPV_BACKUP_FORMAT) != 0)
        CAPV_FAIL(err, CAPV_E_UNSUPPORTED_FORMAT, sidecar_key,
                  "sidecar '%s' is not a " CAPV_BACKUP_FORMAT " document", sidecar_key);
    capvi_instant at;
    if (capvi_json_get_string(&created, root, "", "created_at", true, NULL) != CAPV_OK ||
        !capvi_time_parse_instant(&at, created, strlen(created)) ||
        capvi_json_get_string(&sha3, root, "", "sha3_256", true, NULL) != CAPV_OK ||
        capv_digest_parse(d, sha3, strlen(sha3), NULL) != CAPV_OK ||
        capvi_json_get_int(&size, root, "", "size_bytes", 0, INT64_MAX, true, NULL) != CAPV_OK ||
        capvi_json_get_int(&schema, root, "", "schema_version", 0, 1000000, true, NULL) !=
            CAPV_OK ||
        capvi_json_get_int(&entries, root, "", "entries", 0, INT64_MAX, true, NULL) != CAPV_OK ||
        capvi_json_get_int(&verifications, root, "", "verifications", 0, INT64_MAX, true, NULL) !=
            CAPV_OK ||
        capvi_json_get_string(&tool, root, "", "tool_version", true, NULL) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, sidecar_key,
                  "sidecar '%s' lacks or mistypes created_at, sha3_256, size_bytes, "
                  "schema_version, entries, verifications or tool_version",
                  sidecar_key);
    if ((b = calloc(1, sizeof *b)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    char canon[CAPV_DIGEST_HEX_SIZE], up[32];
    capv_digest_format(canon, d);
    capvi_time_format_ms(up, uploaded_ms);
    size_t ulen = strlen(bucket) + strlen(key) + 8;
    if ((b->url = malloc(ulen)) != NULL)
        snprintf(b->url, ulen, "s3://%s/%s", bucket, key);
    b->key = strdup(key);
    b->sidecar_key = strdup(sidecar_key);
    b->created_at = strdup(created);
    b->created = at;
    b->uploaded_at = strdup(up);
    b->sha3 = strdup(canon);
    b->tool = strdup(tool);
    if (!b->url || !b->key || !b->sidecar_key || !b->created_at || !b->uploaded_at || !b->sha3 ||
        !b->tool)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    b->info.version = CAPV_BACKUP_REMOTE_INFO_VERSION;
    b->info.url = b->url;
    b->info.key = b->key;
    b->info.sidecar_key = b->sidecar_key;
    b->info.created_at = b->created_at;
    b->info.uploaded_at = b->uploaded_at;
    b->info.sha3_256 = b->sha3;
    b->info.size_bytes = (uint64_t)size;
    b->info.schema_version = (int)schema;
    b->info.entries = (uint64_t)entries;
    b->info.verifications = (uint64_t)verifications;
    b->info.tool_version = b->tool;
    *out = b;
    b = NULL;
out:
    if (b != NULL)
        capv_backup_remote_info_free(&b->info);
    cJSON_Delete(root);
    return st;
}

/* PREFIX + name, malloc'd. */
static char *join_key(const char *prefix, const char *name)
{
    size_t n = strlen(prefix) + strlen(name) + 1;
    char *k = malloc(n);
    if (k != NULL)
        snprintf(k, n, "%s%s", prefix, name);
    return k;
}

/* `name` with its extension `from` replaced by `to`, malloc'd. */
static char *swap_ext(const char *name, const char *from, const char *to)
{
    size_t n = strlen(name), f = strlen(from);
    if (n < f || strcmp(name + n - f, from) != 0)
        return NULL;
    size_t len = n - f + strlen(to) + 1;
    char *s = malloc(len);
    if (s != NULL)
        snprintf(s, len, "%.*s%s", (int)(n - f), name, to);
    return s;
}

/* ---- list ------------------------------------------------------------------------------ */

struct capv_backup_remote_listing {
    remote_box **items;
    size_t n, cap;
};

size_t capv_backup_remote_listing_count(const capv_backup_remote_listing *l)
{
    return l ? l->n : 0;
}

const capv_backup_remote_info *capv_backup_remote_listing_get(const capv_backup_remote_listing *l,
                                                              size_t i)
{
    return l && i < l->n ? &l->items[i]->info : NULL;
}

void capv_backup_remote_listing_free(capv_backup_remote_listing *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        capv_backup_remote_info_free(&l->items[i]->info);
    free(l->items);
    free(l);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(((const capvi_s3_object *)a)->key, ((const capvi_s3_object *)b)->key);
}

/* By the instant each sidecar's created_at names, not its text (registry_backup.c). */
static int newest_first(const void *a, const void *b)
{
    const remote_box *x = *(remote_box *const *)a, *y = *(remote_box *const *)b;
    int c = capvi_instant_cmp(y->created, x->created);
    return c != 0 ? c : strcmp(y->key, x->key);
}

static const capvi_s3_object *find_object(const capvi_s3_listing *objs, const char *key)
{
    capvi_s3_object probe = { (char *)key, 0, 0 };
    return bsearch(&probe, objs->items, objs->n, sizeof *objs->items, key_cmp);
}

/* The objects under the prefix (sorted by key) and, from them, the complete backups (newest
 * first). */
static capv_status scan(capvi_s3_listing *objs, capv_backup_remote_listing **out,
                        capv_backup_remote *r, capv_error *err)
{
    *out = NULL;
    capv_status st = capvi_s3_list(objs, r->s3, r->bucket, r->prefix, err);
    if (st != CAPV_OK)
        return st;
    if (objs->n > 1)
        qsort(objs->items, objs->n, sizeof *objs->items, key_cmp);
    capv_backup_remote_listing *l = calloc(1, sizeof *l);
    size_t plen = strlen(r->prefix);
    uint8_t *side = NULL;
    char *db_key = NULL;
    if (l == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < objs->n; i++) {
        const capvi_s3_object *o = &objs->items[i];
        const char *name = o->key + plen;
        if (strncmp(o->key, r->prefix, plen) != 0 || strchr(name, '/') != NULL ||
            !backup_name(name, ".json"))
            continue;
        free(db_key);
        if ((db_key = swap_ext(o->key, ".json", ".sqlite")) == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
        const capvi_s3_object *db = find_object(objs, db_key);
        if (db == NULL)
            continue; /* a sidecar whose file is gone: not a backup */
        size_t side_len = 0;
        int64_t lm = 0;
        free(side);
        side = NULL;
        capv_error gerr = CAPV_ERROR_INIT;
        st =
            capvi_s3_get_bytes(&side, &side_len, &lm, r->s3, r->bucket, o->key, SIDECAR_MAX, &gerr);
        if (st == CAPV_E_NOT_FOUND || st == CAPV_E_LIMIT) {
            st = CAPV_OK; /* deleted meanwhile, or no sidecar of ours */
            continue;
        }
        if (st != CAPV_OK) {
            if (err != NULL)
                *err = gerr;
            goto out;
        }
        remote_box *b = NULL;
        if (box_from_sidecar(&b, side, side_len, r->bucket, db_key, o->key,
                             o->last_modified_ms ? o->last_modified_ms : lm, NULL) != CAPV_OK)
            continue; /* not a sidecar of ours */
        if (b->info.size_bytes != db->size) {
            capv_backup_remote_info_free(&b->info); /* an incomplete or replaced file */
            continue;
        }
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            remote_box **p = realloc(l->items, cap * sizeof *p);
            if (p == NULL) {
                capv_backup_remote_info_free(&b->info);
                CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
            }
            l->items = p;
            l->cap = cap;
        }
        l->items[l->n++] = b;
    }
    if (l->n > 1)
        qsort(l->items, l->n, sizeof *l->items, newest_first);
out:
    free(side);
    free(db_key);
    if (st != CAPV_OK) {
        capv_backup_remote_listing_free(l);
        capvi_s3_listing_free(objs);
        return st;
    }
    *out = l;
    return CAPV_OK;
}

capv_status capv_backup_remote_list(capv_backup_remote_listing **out, capv_backup_remote *r,
                                    capv_error *err)
{
    if (out == NULL || r == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capvi_s3_listing objs = { NULL, 0 };
    capv_status st = scan(&objs, out, r, err);
    capvi_s3_listing_free(&objs);
    return capvi_err_done(err, st);
}

/* ---- upload ---------------------------------------------------------------------------- */

/* The local backup `path` as capv_registry_backup_list describes it (a copy the caller frees
 * with capv_backup_info_free is not needed: the list is returned, with its entry). */
static capv_status find_local(capv_backup_list **list, const capv_backup_info **info,
                              const char *path, capv_error *err)
{
    *list = NULL;
    *info = NULL;
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "backup path too long");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (!backup_name(base, ".sqlite"))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, path,
                             "'%s' is not a backup file (registry-<UTC>.sqlite)", path);
    capv_status st = capv_registry_backup_list(list, dir, err);
    if (st != CAPV_OK)
        return st;
    for (size_t i = 0; i < capv_backup_list_count(*list); i++) {
        const capv_backup_info *b = capv_backup_list_get(*list, i);
        const char *s = strrchr(b->path, '/');
        if (strcmp(s ? s + 1 : b->path, base) == 0) {
            *info = b;
            return CAPV_OK;
        }
    }
    capv_backup_list_free(*list);
    *list = NULL;
    return capvi_err_set(err, CAPV_E_NOT_FOUND, path,
                         "'%s' is not a complete backup: no sidecar naming a file of its size",
                         path);
}

typedef struct upload_plan {
    uint64_t size, part_size;
    size_t nparts; /* 0: one PUT */
    uint8_t sha256[32], sha3[32];
    capvi_s3_part *parts;
} upload_plan;

/* Reads the file once: SHA-256 and SHA3-256 of the whole, SHA-256 of each part. */
static capv_status hash_file(upload_plan *p, int fd, const char *path, capv_error *err)
{
    capv_hash_ctx *whole = NULL, *sha3 = NULL, *part = NULL;
    uint8_t *buf = malloc(HASH_CHUNK);
    capv_status st = CAPV_OK;
    if (buf == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    CAPV_TRY(capv_hash_ctx_new(&whole, CAPV_HASH_SHA256, err));
    CAPV_TRY(capv_hash_ctx_new(&sha3, CAPV_HASH_SHA3_256, err));
    CAPV_TRY(capv_hash_ctx_new(&part, CAPV_HASH_SHA256, err));
    uint64_t off = 0, in_part = 0;
    size_t index = 0;
    while (off < p->size) {
        uint64_t want = p->size - off;
        if (want > HASH_CHUNK)
            want = HASH_CHUNK;
        if (p->nparts > 0 && want > p->part_size - in_part)
            want = p->part_size - in_part;
        ssize_t n = pread(fd, buf, (size_t)want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            CAPV_FAIL(err, CAPV_E_IO, path, "cannot read '%s': %s", path,
                      n < 0 ? strerror(errno) : "it shrank");
        CAPV_TRY(capv_hash_ctx_update(whole, buf, (size_t)n, err));
        CAPV_TRY(capv_hash_ctx_update(sha3, buf, (size_t)n, err));
        if (p->nparts > 0) {
            CAPV_TRY(capv_hash_ctx_update(part, buf, (size_t)n, err));
            in_part += (uint64_t)n;
            if (in_part == p->part_size || off + (uint64_t)n == p->size) {
                CAPV_TRY(capv_hash_ctx_final(p->parts[index].sha256, part, err));
                index++;
                in_part = 0;
            }
        }
        off += (uint64_t)n;
    }
    CAPV_TRY(capv_hash_ctx_final(p->sha256, whole, err));
    CAPV_TRY(capv_hash_ctx_final(p->sha3, sha3, err));
out:
    capv_hash_ctx_free(whole);
    capv_hash_ctx_free(sha3);
    capv_hash_ctx_free(part);
    free(buf);
    return st;
}

/* Whether the object `key` is there with the size and SHA3-256 of the upload `p`: a
 * CompleteMultipartUpload whose answer was lost on its way back stored it, and its retry
 * hears NoSuchUpload (or, from some stores, another error). Asked after the upload was
 * aborted, so that a failed completion beside an identical object stored earlier leaves no
 * parts behind. */
static bool stored_whole(capv_backup_remote *r, const char *key, const upload_plan *p)
{
    uint64_t size = 0;
    char meta[CAPVI_S3_META_SHA3_SIZE];
    uint8_t d[32];
    return capvi_s3_head(&size, meta, r->s3, r->bucket, key, NULL) == CAPV_OK && size == p->size &&
           capv_digest_parse(d, meta, strlen(meta), NULL) == CAPV_OK &&
           CRYPTO_memcmp(d, p->sha3, 32) == 0;
}

/* The parts in one multipart upload; aborted on any failure. */
static capv_status upload_parts(capv_backup_remote *r, const char *key, int fd,
                                const upload_plan *p, const char *const *headers,
                                capv_progress_fn progress, void *user, capv_error *err)
{
    char *id = NULL;
    capv_status st = capvi_s3_multipart_create(&id, r->s3, r->bucket, key, headers, err);
    if (st != CAPV_OK)
        return st;
    for (size_t i = 0; i < p->nparts && st == CAPV_OK; i++) {
        uint64_t off = (uint64_t)i * p->part_size;
        uint64_t len = i + 1 < p->nparts ? p->part_size : p->size - off;
        capvi_s3_body body = {
            .data = NULL, .fd = fd, .offset = off, .len = len, .sha256 = p->parts[i].sha256
        };
        st = capvi_s3_multipart_part(p->parts[i].etag, r->s3, r->bucket, key, id,
                                     (unsigned int)(i + 1), &body, progress, user, off, p->size,
                                     err);
    }
    bool completing = st == CAPV_OK;
    if (completing)
        st = capvi_s3_multipart_complete(r->s3, r->bucket, key, id, p->parts, p->nparts, err);
    if (st != CAPV_OK) {
        /* without the abort the store keeps the parts (and bills them) until a lifecycle rule
         * removes them; the object itself never appears. An upload that was completed after
         * all is not aborted by it (NoSuchUpload) */
        capv_error aerr = CAPV_ERROR_INIT;
        if (capvi_s3_multipart_abort(r->s3, r->bucket, key, id, &aerr) != CAPV_OK && err != NULL) {
            char first[CAPV_ERROR_MESSAGE_SIZE];
            memcpy(first, err->message, sizeof first);
            capvi_err_set(err, st, key,
                          "%.150s; the multipart upload could not be aborted either (%.60s): an "
                          "AbortIncompleteMultipartUpload lifecycle rule removes it",
                          first, aerr.message);
        }
    }
    if (completing && st != CAPV_OK && st != CAPV_E_NOMEM && stored_whole(r, key, p))
        st = capvi_err_done(err, CAPV_OK);
    free(id);
    return st;
}

capv_status capv_backup_remote_upload(capv_backup_remote_info **out, capv_backup_remote *r,
                                      const char *backup_path, capv_progress_fn progress,
                                      void *user, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (r == NULL || backup_path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_backup_list *list = NULL;
    const capv_backup_info *info = NULL;
    upload_plan p;
    memset(&p, 0, sizeof p);
    uint8_t *side = NULL;
    size_t side_len = 0;
    char *key = NULL, *side_key = NULL, *meta_sha3 = NULL, *meta_sha256 = NULL;
    int fd = -1;
    remote_box *b = NULL;
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return st;
    CAPV_TRY(find_local(&list, &info, backup_path, err));
    CAPV_TRY(
        capvi_file_read(&side, &side_len, info->sidecar_path, SIDECAR_MAX, "backup sidecar", err));
    if ((fd = open(info->path, O_RDONLY | O_CLOEXEC)) < 0)
        CAPV_FAIL(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, info->path,
                  "cannot open '%s': %s", info->path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != info->size_bytes)
        CAPV_FAIL(err, CAPV_E_MISMATCH, info->path,
                  "'%s' no longer has the size its sidecar states", info->path);
    p.size = info->size_bytes;
    if (p.size > r->threshold) {
        p.part_size = r->part_size;
        if ((p.size + p.part_size - 1) / p.part_size > MAX_PARTS)
            p.part_size = (p.size + MAX_PARTS - 1) / MAX_PARTS;
        p.nparts = (size_t)((p.size + p.part_size - 1) / p.part_size);
        if ((p.parts = calloc(p.nparts, sizeof *p.parts)) == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    }
    CAPV_TRY(hash_file(&p, fd, info->path, err));
    uint8_t stated[32];
    if (capv_digest_parse(stated, info->sha3_256, strlen(info->sha3_256), NULL) != CAPV_OK ||
        CRYPTO_memcmp(stated, p.sha3, 32) != 0)
        CAPV_FAIL(err, CAPV_E_MISMATCH, info->path,
                  "'%s' does not match the SHA3-256 of its sidecar: not uploaded", info->path);
    int64_t created_ms = 0;
    if (!capvi_time_parse(&created_ms, info->created_at, strlen(info->created_at)))
        CAPV_FAIL(err, CAPV_E_MALFORMED, info->sidecar_path,
                  "the sidecar of '%s' has no readable created_at", info->path);
    char sha3_hex[CAPV_DIGEST_HEX_SIZE], sha256_hex[CAPV_DIGEST_HEX_SIZE], name[64], base[80],
        side_base[80];
    capv_digest_format(sha3_hex, p.sha3);
    capv_digest_format(sha256_hex, p.sha256);
    store_name(name, created_ms, sha3_hex);
    snprintf(base, sizeof base, "%s.sqlite", name);
    snprintf(side_base, sizeof side_base, "%s.json", name);
    key = join_key(r->prefix, base);
    side_key = join_key(r->prefix, side_base);
    size_t mlen = CAPV_DIGEST_HEX_SIZE + 32;
    meta_sha3 = malloc(mlen);
    meta_sha256 = malloc(mlen);
    if (!key || !side_key || !meta_sha3 || !meta_sha256)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    snprintf(meta_sha3, mlen, "x-amz-meta-sha3-256: %s", sha3_hex);
    snprintf(meta_sha256, mlen, "x-amz-meta-sha256: %s", sha256_hex);
    const char *headers[] = { meta_sha256, meta_sha3, NULL };
    if (p.nparts == 0) {
        capvi_s3_body body = {
            .data = NULL, .fd = fd, .offset = 0, .len = p.size, .sha256 = p.sha256
        };
        CAPV_TRY(
            capvi_s3_put(r->s3, r->bucket, key, &body, headers, progress, user, 0, p.size, err));
    } else {
        const char *mp_headers[] = { "x-amz-checksum-algorithm: SHA256", meta_sha256, meta_sha3,
                                     NULL };
        CAPV_TRY(upload_parts(r, key, fd, &p, mp_headers, progress, user, err));
    }
    /* the sidecar last: from now on the copy is complete */
    uint8_t side_sha[32];
    CAPV_TRY(capv_hash(side_sha, CAPV_HASH_SHA256, side, side_len, err));
    capvi_s3_body sbody = {
        .data = side, .fd = -1, .offset = 0, .len = side_len, .sha256 = side_sha
    };
    CAPV_TRY(capvi_s3_put(r->s3, r->bucket, side_key, &sbody, NULL, NULL, NULL, 0, 0, err));
    if (out != NULL) {
        CAPV_TRY(box_from_sidecar(&b, side, side_len, r->bucket, key, side_key,
                                  capv_clock_system(NULL), err));
        *out = &b->info;
        b = NULL;
    }
out:
    if (fd >= 0)
        close(fd);
    free(p.parts);
    free(side);
    free(key);
    free(side_key);
    free(meta_sha3);
    free(meta_sha256);
    capv_backup_list_free(list);
    return capvi_err_done(err, st);
}

/* ---- download -------------------------------------------------------------------------- */

/* Renames `from` to `to` unless something is at `to` (CAPV_E_CONFLICT then). */
static capv_status place(const char *from, const char *to, const char *dir, capv_error *err)
{
    if (capvi_rename_noreplace(from, to) == 0)
        return CAPV_OK;
    if (errno == EEXIST)
        return capvi_err_set(err, CAPV_E_CONFLICT, to,
                             "'%s' appeared in '%s' meanwhile: download into another directory", to,
                             dir);
    return capvi_err_set(err, CAPV_E_IO, to, "cannot rename to '%s': %s", to, strerror(errno));
}

/* fsync and close of a file written whole; `*fd` is -1 afterwards. */
static capv_status close_synced(int *fd, const char *path, capv_error *err)
{
    int bad = fsync(*fd) != 0 ? errno : 0;
    if (close(*fd) != 0 && bad == 0)
        bad = errno;
    *fd = -1;
    return bad == 0
               ? CAPV_OK
               : capvi_err_set(err, CAPV_E_IO, path, "cannot write '%s': %s", path, strerror(bad));
}

capv_status capv_backup_remote_download(capv_backup_info **out, capv_backup_remote *r,
                                        const char *location, const char *dir,
                                        const capv_restore_options *verify, capv_error *err)
{
    capv_progress_fn progress = verify != NULL ? verify->progress : NULL;
    void *user = verify != NULL ? verify->progress_user : NULL;
    if (out != NULL)
        *out = NULL;
    if (r == NULL || location == NULL || dir == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    char *bucket = NULL, *key = NULL, *db_key = NULL, *side_key = NULL;
    uint8_t *side = NULL;
    size_t side_len = 0;
    remote_box *b = NULL;
    capv_backup_info *info = NULL;
    int fd = -1;
    char sub[PATH_MAX] = "", tmp_db[PATH_MAX] = "", tmp_side[PATH_MAX] = "",
         final_db[PATH_MAX] = "", final_side[PATH_MAX] = "";
    bool placed_db = false, placed_side = false; /* what this call put at the final names */
    capv_status st = capvi_global_require(err);
    if (st != CAPV_OK)
        return st;
    CAPV_TRY(parse_s3_url(&bucket, &key, location, true, "backup location", err));
    const char *slash = strrchr(key, '/');
    const char *name = slash ? slash + 1 : key;
    if (backup_name(name, ".json")) {
        side_key = strdup(key);
        db_key = swap_ext(key, ".json", ".sqlite");
    } else if (backup_name(name, ".sqlite")) {
        db_key = strdup(key);
        side_key = swap_ext(key, ".sqlite", ".json");
    } else {
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, location,
                  "'%.200s' does not name a backup (…/registry-<UTC>.sqlite)", location);
    }
    if (db_key == NULL || side_key == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
    const char *db_name = strrchr(db_key, '/') ? strrchr(db_key, '/') + 1 : db_key;
    const char *side_name = strrchr(side_key, '/') ? strrchr(side_key, '/') + 1 : side_key;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        CAPV_FAIL(err, CAPV_E_NOT_FOUND, dir, "'%s' is not a directory", dir);
    if (snprintf(final_db, sizeof final_db, "%s/%s", dir, db_name) >= (int)sizeof final_db ||
        snprintf(final_side, sizeof final_side, "%s/%s", dir, side_name) >= (int)sizeof final_side)
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, dir, "directory path too long");
    if (access(final_db, F_OK) == 0 || access(final_side, F_OK) == 0)
        CAPV_FAIL(err, CAPV_E_CONFLICT, final_db,
                  "'%s' already holds %s: download into another directory", dir, db_name);
    capvi_backup_dir_tidy(dir);
    /* the sidecar first: without it the object is no complete backup */
    capv_error gerr = CAPV_ERROR_INIT;
    st = capvi_s3_get_bytes(&side, &side_len, NULL, r->s3, bucket, side_key, SIDECAR_MAX, &gerr);
    if (st == CAPV_E_NOT_FOUND && strstr(gerr.message, "NoSuchBucket") == NULL)
        CAPV_FAIL(err, CAPV_E_NOT_FOUND, side_key,
                  "s3://%s/%s has no sidecar %s: an incomplete upload or not a backup", bucket,
                  db_key, side_name);
    if (st != CAPV_OK) {
        if (err != NULL)
            *err = gerr;
        goto out;
    }
    CAPV_TRY(box_from_sidecar(&b, side, side_len, bucket, db_key, side_key, 0, err));
    /* both files under their own names in a private directory, and verified there: nothing
     * appears in `dir` before it has passed, and a download killed midway is removed as a
     * stale temporary (registry_backup.c) */
    char prefix[64];
    snprintf(prefix, sizeof prefix, ".registry-download.tmp.%ld.", (long)getpid());
    CAPV_TRY(capvi_temp_mkdir(sub, dir, prefix, err));
    if (snprintf(tmp_db, sizeof tmp_db, "%s/%s", sub, db_name) >= (int)sizeof tmp_db ||
        snprintf(tmp_side, sizeof tmp_side, "%s/%s", sub, side_name) >= (int)sizeof tmp_side) {
        tmp_db[0] = tmp_side[0] = '\0';
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, dir, "directory path too long");
    }
    uint64_t got = 0;
    CAPV_TRY(capvi_temp_open(&fd, tmp_db, 0600, err));
    CAPV_TRY(capvi_s3_get_to_fd(&got, r->s3, bucket, db_key, fd, b->info.size_bytes, progress, user,
                                err));
    if (got != b->info.size_bytes)
        CAPV_FAIL(err, CAPV_E_MISMATCH, db_key,
                  "s3://%s/%s has %llu bytes, its sidecar states %llu: truncated or replaced",
                  bucket, db_key, (unsigned long long)got, (unsigned long long)b->info.size_bytes);
    CAPV_TRY(close_synced(&fd, tmp_db, err));
    CAPV_TRY(capvi_temp_open(&fd, tmp_side, 0600, err));
    CAPV_TRY(capvi_file_write_all(fd, side, side_len, tmp_side, err));
    CAPV_TRY(close_synced(&fd, tmp_side, err));
    CAPV_TRY(capv_registry_backup_verify_with(&info, tmp_db, verify, err));
    /* the file, then its sidecar: a crash in between leaves a file that is not listed;
     * neither replaces what appeared at its name since the check above */
    CAPV_TRY(place(tmp_db, final_db, dir, err));
    tmp_db[0] = '\0';
    placed_db = true;
    CAPV_TRY(place(tmp_side, final_side, dir, err));
    tmp_side[0] = '\0';
    placed_side = true;
    CAPV_TRY(capvi_dir_sync(dir, err));
    CAPV_TRY(capvi_backup_info_move(info, dir, err));
    if (out != NULL) {
        *out = info;
        info = NULL;
    }
out:
    if (fd >= 0)
        close(fd);
    if (tmp_db[0])
        unlink(tmp_db);
    if (tmp_side[0])
        unlink(tmp_side);
    if (sub[0])
        rmdir(sub);
    /* only what this call placed: a sidecar that appeared meanwhile is another's */
    if (st != CAPV_OK && placed_side)
        unlink(final_side); /* the sidecar first, as a prune does */
    if (st != CAPV_OK && placed_db)
        unlink(final_db);
    capv_backup_info_free(info);
    if (b != NULL)
        capv_backup_remote_info_free(&b->info);
    free(side);
    free(bucket);
    free(key);
    free(db_key);
    free(side_key);
    return capvi_err_done(err, st);
}

/* ---- prune ----------------------------------------------------------------------------- */

capv_status capv_backup_remote_prune(size_t *removed, capv_backup_remote *r, unsigned int retain,
                                     capv_error *err)
{
    if (removed != NULL)
        *removed = 0;
    if (r == NULL || retain == 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "retain must be at least 1");
    capvi_s3_listing objs = { NULL, 0 };
    capv_backup_remote_listing *l = NULL;
    capv_status st = scan(&objs, &l, r, err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    int64_t now = capv_clock_system(NULL);
    /* The newest `retain` copies by created_at, but not those dated in the future (a clock
     * ahead where they were taken, or a pair written by hand): counted, they would push out
     * every real copy, the one just uploaded included; they are left for an operator
     * (docs/registry.md, "Off-site copies"). */
    size_t kept = 0;
    const char *oldest = NULL;
    for (size_t i = 0; i < l->n && st == CAPV_OK; i++) {
        if (l->items[i]->created.ms > now + CAPV_BACKUP_REMOTE_AHEAD_MS)
            continue;
        if (kept < retain) {
            kept++;
            oldest = l->items[i]->key;
            continue;
        }
        /* the sidecar first: without it the file no longer counts as a backup */
        st = capvi_s3_delete(r->s3, r->bucket, l->items[i]->sidecar_key, err);
        if (st == CAPV_OK)
            st = capvi_s3_delete(r->s3, r->bucket, l->items[i]->key, err);
        if (st == CAPV_OK && removed != NULL)
            (*removed)++;
    }
    /* Files without a sidecar whose name sorts before the oldest backup kept, once the store
     * has had them an hour: an upload that never finished. A younger one may be another
     * uploader's between its file and its sidecar (a CLI uploads an older local backup under
     * its own, older, name); one of unknown age stays too. */
    if (st == CAPV_OK && oldest != NULL) {
        size_t plen = strlen(r->prefix);
        for (size_t i = 0; i < objs.n && st == CAPV_OK; i++) {
            const char *k = objs.items[i].key;
            if (strncmp(k, r->prefix, plen) != 0 || strchr(k + plen, '/') != NULL ||
                !backup_name(k + plen, ".sqlite") || strcmp(k, oldest) >= 0 ||
                objs.items[i].last_modified_ms <= 0 ||
                objs.items[i].last_modified_ms > now - ORPHAN_MIN_AGE_MS)
                continue;
            char *side_key = swap_ext(k, ".sqlite", ".json");
            if (side_key == NULL) {
                st = capvi_err_nomem(err);
                break;
            }
            if (find_object(&objs, side_key) == NULL)
                st = capvi_s3_delete(r->s3, r->bucket, k, err);
            free(side_key);
        }
    }
    capv_backup_remote_listing_free(l);
    capvi_s3_listing_free(&objs);
    return capvi_err_done(err, st);
}
