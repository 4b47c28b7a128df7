/* SPDX-License-Identifier: Apache-2.0 */
/* Backup, restore and check of the SQLite registry (docs/registry.md, "Backup", "Restore",
 * "Check").
 *
 * Backup: the SQLite online backup API copies one snapshot (on a handle that writes, step by
 * step on its write connection, which carries its commits into the copy; on a read-only
 * handle in one read transaction for the whole copy) into a hidden temporary file, which is
 * switched to a rollback journal (a single self-contained file), counted, fsynced, hashed
 * and renamed; the sidecar follows the same way, last, signed when a signing key is given.
 * A backup is complete exactly when its sidecar exists.
 *
 * Restore: the backup is copied next to the database while being hashed (the bytes checked
 * are the bytes used), checked (sidecar signature, size, SHA3-256, integrity_check, schema
 * version, exactly the schema objects we create, foreign keys, counts, entry signatures),
 * migrated if older, and only then swapped in under the writer lock; the old database and
 * its WAL are kept as "<db>.pre-restore-<ts>". Any failure before the swap leaves the
 * database as it was. A restore into PostgreSQL checks the backup the same way, then
 * replaces the registry's rows with the copy's in one transaction (registry_copy.c); nothing
 * keeps the old ones.
 *
 * Every temporary file here has a name nobody can guess and is created with O_EXCL |
 * O_NOFOLLOW (tempfile.c); a file SQLite then opens by that name is opened with
 * SQLITE_OPEN_NOFOLLOW and checked to be the very file created. Listing, verifying and
 * restoring never follow a symbolic link to a backup or sidecar. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json_int.h"
#include "keys_int.h"
#include "registry_backup_int.h"
#include "registry_copy_int.h"
#include "registry_entry_int.h"
#include "registry_pg_int.h"
#include "registry_pgb_int.h"
#include "registry_schema_int.h"
#include "file_int.h"
#include "tempfile_int.h"
#include "time_int.h"

#define SIDECAR_MAX (64u * 1024u)
#define BACKUP_STEP_PAGES 1024
/* Pages per step of a copy on the write connection (copy_snapshot): about 1 MiB, a
 * millisecond or two the writer waits. */
#define WRITER_STEP_PAGES 256
#define COPY_CHUNK (1u << 20)
/* The signed bytes of a sidecar begin with this text and a NUL byte (docs/registry.md,
 * "Signed backups"), so a signature made for anything else never verifies as one. */
#define SIG_CONTEXT "capverify-backup-sidecar.v1"

/* ---- small file helpers ---------------------------------------------------------------- */

static void dir_of(char out[PATH_MAX], const char *path)
{
    capvi_reg_dir_of(out, path);
}

static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static bool path_exists(const char *p)
{
    struct stat sb;
    return lstat(p, &sb) == 0;
}

/* A regular file, named without following a symbolic link. */
static bool is_regular(const char *p, struct stat *sb)
{
    return lstat(p, sb) == 0 && S_ISREG(sb->st_mode);
}

/* The prefix of a temporary file of this process: "<lead><name>.tmp.<pid>." (tempfile.c
 * appends 24 random hex digits). */
static capv_status temp_prefix(char out[PATH_MAX], const char *lead, const char *name,
                               capv_error *err)
{
    if (snprintf(out, PATH_MAX, "%s%s.tmp.%ld.", lead, name, (long)getpid()) >= PATH_MAX)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "path too long");
    return CAPV_OK;
}

/* Writes `data` to `path` through a new temporary file beside it: write, fsync, rename,
 * fsync of the directory. Whatever is at `path` (also a symbolic link) is replaced, never
 * written through. */
static capv_status write_file_atomic(const char *path, const uint8_t *data, size_t len,
                                     capv_error *err)
{
    char tmp[PATH_MAX], dir[PATH_MAX], prefix[PATH_MAX];
    dir_of(dir, path);
    int fd = -1;
    capv_status st = temp_prefix(prefix, ".", base_of(path), err);
    if (st == CAPV_OK)
        st = capvi_temp_create(&fd, tmp, dir, prefix, 0644, err);
    if (st != CAPV_OK)
        return st;
    st = capvi_file_write_all(fd, data, len, tmp, err);
    if (st == CAPV_OK && fsync(fd) != 0)
        st = capvi_err_set(err, CAPV_E_IO, tmp, "fsync '%s': %s", tmp, strerror(errno));
    if (close(fd) != 0 && st == CAPV_OK)
        st = capvi_err_set(err, CAPV_E_IO, tmp, "close '%s': %s", tmp, strerror(errno));
    if (st == CAPV_OK && rename(tmp, path) != 0)
        st = capvi_err_set(err, CAPV_E_IO, path, "rename to '%s': %s", path, strerror(errno));
    if (st != CAPV_OK) {
        unlink(tmp);
        return st;
    }
    return capvi_dir_sync(dir, err);
}

/* SHA3-256 and size of what `in` holds from its start; with `out` >= 0, also copies it
 * there (fsynced). `name` / `out_name` name them in messages. */
static capv_status hash_fd(uint8_t digest[32], uint64_t *size, int in, const char *name, int out,
                           const char *out_name, capv_progress_fn progress, void *user,
                           capv_error *err)
{
    struct stat sb;
    capv_hash_ctx *h = NULL;
    uint8_t *buf = malloc(COPY_CHUNK);
    capv_status st = CAPV_OK;
    uint64_t total = 0;
    if (buf == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode))
        CAPV_FAIL(err, CAPV_E_IO, name, "'%s' is not a regular file", name);
    CAPV_TRY(capv_hash_ctx_new(&h, CAPV_HASH_SHA3_256, err));
    for (;;) {
        ssize_t r = pread(in, buf, COPY_CHUNK, (off_t)total);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            CAPV_FAIL(err, CAPV_E_IO, name, "cannot read '%s': %s", name, strerror(errno));
        if (r == 0)
            break;
        CAPV_TRY(capv_hash_ctx_update(h, buf, (size_t)r, err));
        if (out >= 0)
            CAPV_TRY(capvi_file_write_all(out, buf, (size_t)r, out_name, err));
        total += (uint64_t)r;
        if (progress)
            progress(user, total, (uint64_t)sb.st_size);
    }
    CAPV_TRY(capv_hash_ctx_final(digest, h, err));
    if (out >= 0 && fsync(out) != 0)
        CAPV_FAIL(err, CAPV_E_IO, out_name, "fsync '%s': %s", out_name, strerror(errno));
    *size = total;
out:
    capv_hash_ctx_free(h);
    free(buf);
    return st;
}

/* Opens a backup or sidecar for reading: a regular file, never through a symbolic link. */
static capv_status open_input(int *fd, const char *path, const char *what, capv_error *err)
{
    *fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (*fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return capvi_err_set(err, CAPV_E_NOT_FOUND, path, "%s '%s' does not exist", what, path);
        if (e == ELOOP)
            return capvi_err_set(err, CAPV_E_IO, path,
                                 "%s '%s' is a symbolic link: only regular files are read", what,
                                 path);
        return capvi_err_set(err, CAPV_E_IO, path, "cannot open %s '%s': %s", what, path,
                             strerror(e));
    }
    struct stat sb;
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(*fd);
        *fd = -1;
        return capvi_err_set(err, CAPV_E_IO, path, "%s '%s' is not a regular file", what, path);
    }
    return CAPV_OK;
}

/* Opens, with SQLite, the file this process created as `fd` under the name `path`
 * (SQLITE_OPEN_NOFOLLOW, then checked to be that very file). */
static capv_status open_own_db(sqlite3 **db, int fd, const char *path, int flags, capv_error *err)
{
    *db = NULL;
    int rc = sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        capv_status st = capvi_reg_sqlite_error(*db, rc, "opening a temporary database", err);
        sqlite3_close(*db);
        *db = NULL;
        return st;
    }
    if (!capvi_temp_is(fd, path)) {
        sqlite3_close(*db);
        *db = NULL;
        return capvi_err_set(err, CAPV_E_IO, path,
                             "the temporary file '%s' was replaced by another one: refused", path);
    }
    return CAPV_OK;
}

static capv_status foreign_keys(uint64_t *count, char first[CAPV_ERROR_MESSAGE_SIZE], sqlite3 *db,
                                bool backup, capv_registry_problem_fn fn, void *user,
                                capv_error *err);

/* ---- backup info / sidecars ------------------------------------------------------------ */

typedef struct info_box {
    capv_backup_info info;
    char *path, *sidecar, *created_at, *sha3, *tool, *kid;
    capvi_instant created; /* created_at read: the listing's order */
} info_box;

void capv_backup_info_free(capv_backup_info *info)
{
    if (info == NULL)
        return;
    info_box *b = (info_box *)info;
    free(b->path);
    free(b->sidecar);
    free(b->created_at);
    free(b->sha3);
    free(b->tool);
    free(b->kid);
    free(b);
}

static info_box *box_new(const char *path, const char *sidecar, const char *created_at,
                         const char *sha3, const char *tool)
{
    info_box *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->path = strdup(path);
    b->sidecar = strdup(sidecar);
    b->created_at = strdup(created_at);
    b->sha3 = strdup(sha3);
    b->tool = strdup(tool);
    if (!b->path || !b->sidecar || !b->created_at || !b->sha3 || !b->tool) {
        capv_backup_info_free(&b->info);
        return NULL;
    }
    b->info.version = CAPV_BACKUP_INFO_VERSION;
    b->info.path = b->path;
    b->info.sidecar_path = b->sidecar;
    b->info.created_at = b->created_at;
    b->info.sha3_256 = b->sha3;
    b->info.tool_version = b->tool;
    return b;
}

static bool box_set_kid(info_box *b, const char *kid)
{
    free(b->kid);
    b->kid = strdup(kid);
    b->info.signer_kid = b->kid;
    return b->kid != NULL;
}

/* "<x>.sqlite" → "<x>.json"; anything else → "<x>.json" appended. */
static capv_status sidecar_path(char out[PATH_MAX], const char *backup, capv_error *err)
{
    size_t n = strlen(backup);
    int w;
    if (n > 7 && strcmp(backup + n - 7, ".sqlite") == 0)
        w = snprintf(out, PATH_MAX, "%.*s.json", (int)(n - 7), backup);
    else
        w = snprintf(out, PATH_MAX, "%s.json", backup);
    return w < PATH_MAX ? CAPV_OK
                        : capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "backup path too long");
}

/* How a sidecar's signature is judged. Listing passes none: the kid is read, unverified. */
typedef struct sig_policy {
    bool require;                  /* an unsigned sidecar is refused (CAPV_E_UNTRUSTED) */
    const capv_trust_store *trust; /* NULL: verified against its own public key only */
} sig_policy;

/* The bytes a sidecar signature covers: SIG_CONTEXT, a NUL byte, then the compat canonical
 * JSON of the sidecar object without its "signature" member (docs/registry.md). */
static capv_status signed_bytes(capv_buf *out, const cJSON *unsigned_root, capv_error *err)
{
    capvi_buf_append(out, (const uint8_t *)SIG_CONTEXT, sizeof SIG_CONTEXT); /* with its NUL */
    capvi_json_write_compact(out, unsigned_root, 0);
    return out->failed ? capvi_err_nomem(err) : CAPV_OK;
}

/* Takes the "signature" member out of `root` and judges it by `pol` (NULL: only its shape
 * and kid are read). `created` is the sidecar's created_at, the time a key must have been
 * valid at. */
static capv_status sidecar_signature(info_box *b, cJSON *root, const char *side,
                                     const sig_policy *pol, capv_error *err)
{
    cJSON *sig = cJSON_DetachItemFromObjectCaseSensitive(root, "signature");
    capv_buf msg = CAPV_BUF_INIT;
    capv_status st = CAPV_OK;
    if (sig == NULL) {
        if (pol != NULL && pol->require)
            return capvi_err_set(err, CAPV_E_UNTRUSTED, side,
                                 "backup sidecar '%s' is not signed, and only signed backups "
                                 "are accepted",
                                 side);
        return CAPV_OK;
    }
    const char *alg = NULL, *kid = NULL, *pub_b64 = NULL, *sig_b64 = NULL, *created = NULL;
    uint8_t pub[32], value[64];
    size_t n_pub = 0, n_sig = 0;
    char mine[CAPV_KID_SIZE];
    if (!cJSON_IsObject(sig) ||
        capvi_json_get_string(&alg, sig, "signature", "alg", true, NULL) != CAPV_OK ||
        capvi_json_get_string(&kid, sig, "signature", "kid", true, NULL) != CAPV_OK ||
        capvi_json_get_string(&pub_b64, sig, "signature", "public_key", true, NULL) != CAPV_OK ||
        capvi_json_get_string(&sig_b64, sig, "signature", "value", true, NULL) != CAPV_OK ||
        strcmp(alg, "ed25519") != 0 ||
        capv_base64_decode(pub, sizeof pub, &n_pub, pub_b64, strlen(pub_b64), CAPV_BASE64_STD,
                           NULL) != CAPV_OK ||
        n_pub != sizeof pub ||
        capv_base64_decode(value, sizeof value, &n_sig, sig_b64, strlen(sig_b64), CAPV_BASE64_STD,
                           NULL) != CAPV_OK ||
        n_sig != sizeof value)
        CAPV_FAIL(err, CAPV_E_MALFORMED, side,
                  "sidecar '%s': its \"signature\" needs alg \"ed25519\", kid, public_key (32 "
                  "bytes) and value (64 bytes), both in standard base64",
                  side);
    CAPV_TRY(capv_key_id(mine, pub, err));
    if (strcmp(mine, kid) != 0)
        CAPV_FAIL(err, CAPV_E_MALFORMED, side,
                  "sidecar '%s': its signature's kid %.40s is not the id of its public key (%s)",
                  side, kid, mine);
    if (!box_set_kid(b, kid))
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    if (pol == NULL)
        goto out;
    CAPV_TRY(signed_bytes(&msg, root, err));
    if (capv_ed25519_verify(pub, value, msg.data, msg.len, NULL) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_SIGNATURE, side,
                  "sidecar '%s': its signature by key %s does not verify: the sidecar was "
                  "changed after it was signed",
                  side, kid);
    if (pol->trust != NULL) {
        capvi_instant at;
        if (capvi_json_get_string(&created, root, "", "created_at", true, NULL) != CAPV_OK ||
            !capvi_time_parse_instant(&at, created, strlen(created)))
            CAPV_FAIL(err, CAPV_E_MALFORMED, side, "sidecar '%s': created_at is not RFC 3339",
                      side);
        const capv_key *key = NULL;
        capv_status ts = capvi_trust_decide(&key, pol->trust, pub, at);
        if (ts != CAPV_OK)
            CAPV_FAIL(err, ts, side,
                      "backup sidecar '%s' is signed by key %s, which the trust store does not "
                      "accept for a backup made at %s (%s)",
                      side, kid, created, capv_status_name(ts));
    }
out:
    capvi_buf_free(&msg);
    cJSON_Delete(sig);
    return st;
}

static capv_status read_sidecar(info_box **out, const char *backup, const sig_policy *pol,
                                capv_error *err)
{
    char side[PATH_MAX];
    capv_status st = sidecar_path(side, backup, err);
    if (st != CAPV_OK)
        return st;
    *out = NULL;
    int fd = -1;
    capv_error oerr = CAPV_ERROR_INIT;
    if ((st = open_input(&fd, side, "backup sidecar", &oerr)) == CAPV_E_NOT_FOUND)
        return capvi_err_set(err, CAPV_E_NOT_FOUND, side,
                             "backup sidecar '%s' is missing: an incomplete or foreign backup",
                             side);
    if (st != CAPV_OK)
        return capvi_err_set(err, st, side, "%s", oerr.message);
    uint8_t *buf = malloc(SIDECAR_MAX + 1);
    size_t n = 0;
    bool bad = false;
    while (buf != NULL && n <= SIDECAR_MAX) {
        ssize_t r = read(fd, buf + n, SIDECAR_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            bad = r < 0;
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    cJSON *root = NULL;
    info_box *b = NULL;
    if (buf == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    if (bad)
        CAPV_FAIL(err, CAPV_E_IO, side, "cannot read '%s'", side);
    if (n > SIDECAR_MAX)
        CAPV_FAIL(err, CAPV_E_LIMIT, side, "sidecar '%s' is too large", side);
    capv_error jerr = CAPV_ERROR_INIT;
    if (capvi_json_parse(&root, buf, n, &jerr) != CAPV_OK || !cJSON_IsObject(root))
        CAPV_FAIL(err, CAPV_E_MALFORMED, side, "sidecar '%s' is not a JSON object: %s", side,
                  jerr.message);
    const char *format = NULL, *created = NULL, *sha3 = NULL, *tool = NULL;
    int64_t size = 0, schema = 0, entries = 0, verifications = 0;
    uint8_t d[32];
    if (capvi_json_get_string(&format, root, "", "format", true, NULL) != CAPV_OK ||
        strcmp(format, CAPV_BACKUP_FORMAT) != 0)
        CAPV_FAIL(err, CAPV_E_UNSUPPORTED_FORMAT, side,
                  "sidecar '%s' is not a " CAPV_BACKUP_FORMAT " document", side);
    if (capvi_json_get_string(&created, root, "", "created_at", true, NULL) != CAPV_OK ||
        capvi_json_get_string(&sha3, root, "", "sha3_256", true, NULL) != CAPV_OK ||
        capv_digest_parse(d, sha3, strlen(sha3), NULL) != CAPV_OK ||
        capvi_json_get_int(&size, root, "", "size_bytes", 0, INT64_MAX, true, NULL) != CAPV_OK ||
        capvi_json_get_int(&schema, root, "", "schema_version", 0, 1000000, true, NULL) !=
            CAPV_OK ||
        capvi_json_get_int(&entries, root, "", "entries", 0, INT64_MAX, true, NULL) != CAPV_OK ||
        capvi_json_get_int(&verifications, root, "", "verifications", 0, INT64_MAX, true, NULL) !=
            CAPV_OK ||
        capvi_json_get_string(&tool, root, "", "tool_version", true, NULL) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, side,
                  "sidecar '%s' lacks or mistypes created_at, sha3_256, size_bytes, "
                  "schema_version, entries, verifications or tool_version",
                  side);
    capvi_instant at;
    if (!capvi_time_parse_instant(&at, created, strlen(created)))
        CAPV_FAIL(err, CAPV_E_MALFORMED, side, "sidecar '%s': created_at is not an RFC 3339 time",
                  side);
    char canon[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(canon, d);
    if ((b = box_new(backup, side, created, canon, tool)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    b->created = at;
    b->info.size_bytes = (uint64_t)size;
    b->info.schema_version = (int)schema;
    b->info.entries = (uint64_t)entries;
    b->info.verifications = (uint64_t)verifications;
    /* last: it takes the signature out of the tree to rebuild the signed bytes */
    CAPV_TRY(sidecar_signature(b, root, side, pol, err));
    *out = b;
    b = NULL;
out:
    capv_backup_info_free(b ? &b->info : NULL);
    cJSON_Delete(root);
    free(buf);
    return st;
}

/* Writes the sidecar of `b`; with `key`, signed (and b's signer_kid set). */
static capv_status write_sidecar(info_box *b, const capv_signing_key *key, capv_error *err)
{
    capv_buf j = CAPV_BUF_INIT, msg = CAPV_BUF_INIT;
    cJSON *root = NULL;
    capv_status st = CAPV_OK;
    capvi_buf_printf(&j,
                     "{\n  \"format\": \"%s\",\n  \"created_at\": \"%s\",\n  \"sha3_256\": "
                     "\"%s\",\n  \"size_bytes\": %llu,\n  \"schema_version\": %d,\n  "
                     "\"entries\": %llu,\n  \"verifications\": %llu,\n  \"tool_version\": ",
                     CAPV_BACKUP_FORMAT, b->created_at, b->sha3,
                     (unsigned long long)b->info.size_bytes, b->info.schema_version,
                     (unsigned long long)b->info.entries,
                     (unsigned long long)b->info.verifications);
    capvi_json_write_string(&j, b->tool, strlen(b->tool));
    size_t body = j.len;
    capvi_buf_puts(&j, "\n}\n");
    if (j.failed)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    if (key != NULL) {
        /* the signed bytes come from the unsigned document, as a verifier rebuilds them */
        uint8_t pub[32], sig[64];
        char kid[CAPV_KID_SIZE], pub_b64[CAPV_BASE64_ENCODED_SIZE(32)],
            sig_b64[CAPV_BASE64_ENCODED_SIZE(64)];
        CAPV_TRY(capvi_json_parse(&root, j.data, j.len, err));
        CAPV_TRY(signed_bytes(&msg, root, err));
        capv_signing_key_public(pub, key);
        CAPV_TRY(capv_signing_key_sign(sig, key, msg.data, msg.len, err));
        CAPV_TRY(capv_key_id(kid, pub, err));
        CAPV_TRY(capv_base64_encode(pub_b64, sizeof pub_b64, NULL, pub, sizeof pub, CAPV_BASE64_STD,
                                    err));
        CAPV_TRY(capv_base64_encode(sig_b64, sizeof sig_b64, NULL, sig, sizeof sig, CAPV_BASE64_STD,
                                    err));
        j.len = body;
        capvi_buf_printf(&j,
                         ",\n  \"signature\": {\n    \"alg\": \"ed25519\",\n    \"kid\": \"%s\",\n"
                         "    \"public_key\": \"%s\",\n    \"value\": \"%s\"\n  }\n}\n",
                         kid, pub_b64, sig_b64);
        if (j.failed || !box_set_kid(b, kid))
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    }
    st = write_file_atomic(b->sidecar, j.data, j.len, err);
out:
    cJSON_Delete(root);
    capvi_buf_free(&msg);
    capvi_buf_free(&j);
    return st;
}

/* ---- list / prune ---------------------------------------------------------------------- */

struct capv_backup_list {
    info_box **items;
    size_t n;
};

/* By the instant each sidecar's created_at names, not its text: another tool may write an
 * offset or another number of fraction digits. */
static int newest_first(const void *a, const void *b)
{
    const info_box *x = *(info_box *const *)a, *y = *(info_box *const *)b;
    int c = capvi_instant_cmp(y->created, x->created);
    return c != 0 ? c : strcmp(y->path, x->path);
}

capv_status capv_registry_backup_list(capv_backup_list **out, const char *dir, capv_error *err)
{
    if (out == NULL || dir == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    DIR *d = opendir(dir);
    if (d == NULL)
        return capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, dir,
                             "cannot open backup directory '%s': %s", dir, strerror(errno));
    capv_backup_list *l = calloc(1, sizeof *l);
    size_t cap = 0;
    capv_status st = CAPV_OK;
    if (l == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (strncmp(de->d_name, "registry-", 9) != 0 || n < 16 ||
            strcmp(de->d_name + n - 7, ".sqlite") != 0)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
            continue;
        /* only regular files count: a symbolic link, FIFO or directory is no backup */
        struct stat sb;
        if (!is_regular(path, &sb))
            continue;
        info_box *b = NULL;
        if (read_sidecar(&b, path, NULL, NULL) != CAPV_OK)
            continue; /* no readable sidecar: incomplete or foreign */
        if ((uint64_t)sb.st_size != b->info.size_bytes) {
            capv_backup_info_free(&b->info);
            continue;
        }
        if (l->n == cap) {
            cap = cap ? cap * 2 : 16;
            info_box **p = realloc(l->items, cap * sizeof *p);
            if (p == NULL) {
                capv_backup_info_free(&b->info);
                CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
            }
            l->items = p;
        }
        l->items[l->n++] = b;
    }
    if (l->n > 1)
        qsort(l->items, l->n, sizeof *l->items, newest_first);
out:
    closedir(d);
    if (st != CAPV_OK) {
        capv_backup_list_free(l);
        return st;
    }
    *out = l;
    return capvi_err_done(err, CAPV_OK);
}

size_t capv_backup_list_count(const capv_backup_list *l)
{
    return l ? l->n : 0;
}

const capv_backup_info *capv_backup_list_get(const capv_backup_list *l, size_t i)
{
    return l && i < l->n ? &l->items[i]->info : NULL;
}

void capv_backup_list_free(capv_backup_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        capv_backup_info_free(&l->items[i]->info);
    free(l->items);
    free(l);
}

capv_status capv_registry_backup_prune(size_t *removed, const char *dir, unsigned int retain,
                                       capv_error *err)
{
    if (removed)
        *removed = 0;
    if (dir == NULL || retain == 0)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "retain must be at least 1");
    capv_backup_list *l = NULL;
    capv_status st = capv_registry_backup_list(&l, dir, err);
    if (st != CAPV_OK)
        return st;
    for (size_t i = retain; i < l->n; i++) {
        /* the sidecar first: without it the file no longer counts as a backup */
        if (unlink(l->items[i]->sidecar) != 0 || unlink(l->items[i]->path) != 0) {
            st = capvi_err_set(err, CAPV_E_IO, l->items[i]->path, "cannot remove '%s': %s",
                               l->items[i]->path, strerror(errno));
            break;
        }
        if (removed)
            (*removed)++;
    }
    capv_backup_list_free(l);
    return capvi_err_done(err, st);
}

/* Whether `name` ends in ".tmp.<pid>.<24 hex digits>" (or, as older versions named them,
 * ".tmp.<pid>"): a temporary file of process <pid>. */
static bool temp_owner(pid_t *pid, const char *name)
{
    const char *t = NULL;
    for (const char *p = strstr(name, ".tmp."); p != NULL; p = strstr(p + 1, ".tmp."))
        t = p;
    if (t == NULL)
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(t + 5, &end, 10);
    if (end == t + 5 || errno != 0 || v <= 0 || v > INT_MAX)
        return false;
    if (*end == '.') {
        size_t k = 0;
        for (end++; end[k] != '\0'; k++)
            if (!((end[k] >= '0' && end[k] <= '9') || (end[k] >= 'a' && end[k] <= 'f')))
                return false;
        if (k != 24)
            return false;
    } else if (*end != '\0') {
        return false;
    }
    *pid = (pid_t)v;
    return true;
}

/* A temporary directory of a process that died (a download's, backup_remote.c): the regular
 * files in it, then the directory. Anything else in it keeps it. */
static void remove_stale_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char p[PATH_MAX];
        struct stat sb;
        if (snprintf(p, sizeof p, "%s/%s", path, de->d_name) < (int)sizeof p && is_regular(p, &sb))
            unlink(p);
    }
    closedir(d);
    rmdir(path);
}

/* Temporary files (and download directories) of our processes that died
 * ("<dir>/<prefix>….tmp.<pid>.<random>"): only regular files and directories, never what a
 * symbolic link names, and only when no process <pid> exists any more. */
static void remove_stale_temps(const char *dir, const char *const *prefixes, size_t nprefixes)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        bool ours = false;
        for (size_t i = 0; i < nprefixes && !ours; i++)
            ours = strncmp(de->d_name, prefixes[i], strlen(prefixes[i])) == 0;
        pid_t pid = 0;
        if (!ours || !temp_owner(&pid, de->d_name))
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[PATH_MAX];
        struct stat sb;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
            lstat(path, &sb) != 0)
            continue;
        if (S_ISREG(sb.st_mode))
            unlink(path);
        else if (S_ISDIR(sb.st_mode))
            remove_stale_dir(path);
    }
    closedir(d);
}

/* What a backup directory may hold of ours besides backups: backups and sidecars being
 * written, copies being verified or restored into PostgreSQL. */
static const char *const backup_dir_temps[] = { ".registry-", ".verify.tmp.", ".restore.tmp." };
#define NBACKUP_DIR_TEMPS (sizeof backup_dir_temps / sizeof backup_dir_temps[0])

/* ---- backup ---------------------------------------------------------------------------- */

/* The online backup of `src` into `dest` to its end, `pages` per step, with progress after
 * each step. With `lock`, the start, each step and the finish hold it (the write lock: see
 * copy_snapshot). */
static capv_status run_backup(sqlite3 *dest, sqlite3 *src, pthread_mutex_t *lock, int pages,
                              capv_progress_fn progress, void *user, capv_error *err)
{
    if (lock != NULL)
        pthread_mutex_lock(lock);
    sqlite3_backup *b = sqlite3_backup_init(dest, "main", src, "main");
    if (lock != NULL)
        pthread_mutex_unlock(lock);
    if (b == NULL)
        return capvi_reg_sqlite_error(dest, sqlite3_errcode(dest), "starting the backup", err);
    int rc, frc = SQLITE_OK;
    bool again;
    do {
        if (lock != NULL)
            pthread_mutex_lock(lock);
        rc = sqlite3_backup_step(b, pages);
        int total = sqlite3_backup_pagecount(b);
        int left = sqlite3_backup_remaining(b);
        again = rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
        if (!again) /* done or failed: commits through `src` stop reaching the copy */
            frc = sqlite3_backup_finish(b);
        if (lock != NULL)
            pthread_mutex_unlock(lock);
        if (progress)
            progress(user, (uint64_t)(total - left), (uint64_t)total);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            struct timespec ts = { 0, 5 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    } while (again);
    if (rc != SQLITE_DONE)
        return capvi_reg_sqlite_error(dest, rc, "copying the database", err);
    if (frc != SQLITE_OK)
        return capvi_reg_sqlite_error(dest, frc, "finishing the backup", err);
    return CAPV_OK;
}

/* One snapshot of the registry into `dest`.
 *
 * A handle that writes copies on its write connection, one step at a time under the write
 * lock: SQLite carries every commit made through that connection meanwhile into the pages
 * already copied, so the copy is the database as it was at its last step, and no read
 * transaction held for the whole copy keeps the writer from starting the WAL over
 * (docs/registry.md, "A backup under load"). The writer waits at most one step between two
 * of its batches.
 *
 * A read-only handle copies on a long reader, in one read transaction for the whole copy,
 * so concurrent commits (another process's) neither restart nor leak into it. */
static capv_status copy_snapshot(capv_registry *reg, sqlite3 *dest, capv_progress_fn progress,
                                 void *user, capv_error *err)
{
    if (reg->w.db != NULL)
        return run_backup(dest, reg->w.db, &reg->wlock, WRITER_STEP_PAGES, progress, user, err);
    capv_reg_conn *c = NULL;
    capv_status st = capvi_reg_long_reader_acquire(&c, reg, err);
    if (st != CAPV_OK)
        return st;
    int64_t dummy = 0;
    /* a read transaction for the whole copy: one snapshot, however long it takes */
    st = capvi_reg_exec(c->db, "BEGIN", err);
    bool txn = st == CAPV_OK;
    if (st == CAPV_OK)
        st = capvi_reg_query_int(&dummy, c->db, "SELECT count(*) FROM sqlite_master", err);
    if (st == CAPV_OK)
        st = run_backup(dest, c->db, NULL, BACKUP_STEP_PAGES, progress, user, err);
    if (txn)
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    capvi_reg_long_reader_release(reg, c);
    return st;
}

/* ---- a PostgreSQL registry into a SQLite backup --------------------------------------- */

/* Every row of a PostgreSQL registry, read in one REPEATABLE READ snapshot, into `dest` (a
 * new file that gets the current SQLite schema first): the same rows, ids and sequence
 * numbers (registry_copy.c), so the backup is an ordinary SQLite registry. */
static capv_status copy_pg_snapshot(capv_registry *reg, sqlite3 *dest, capv_progress_fn progress,
                                    void *user, capv_error *err)
{
    uint64_t migrated = 0;
    capv_status st = capvi_reg_migrate(&migrated, dest, 0, err);
    if (st != CAPV_OK)
        return st;
    if ((st = capvi_pg_snapshot_begin(reg->pg, err)) != CAPV_OK)
        return st;
    st = capvi_reg_exec(dest, "BEGIN", err);
    if (st == CAPV_OK)
        st = capvi_reg_copy_pg_to_sqlite(dest, reg->pg, progress, user, err);
    capvi_pg_snapshot_end(reg->pg);
    if (st == CAPV_OK)
        st = capvi_reg_exec(dest, "COMMIT", err);
    return capvi_reg_note(reg, st, err);
}

/* The first schema difference (registry_schema.c), kept for the error message. */
static void first_difference(void *user, const char *type, const char *name, const char *message)
{
    (void)type;
    (void)name;
    char *first = user;
    if (first[0] == '\0')
        snprintf(first, CAPV_ERROR_MESSAGE_SIZE, "%s", message);
}

/* The first free backup name in `dir` for the time `compact` from the suffix *i on
 * ("registry-<compact>.sqlite", then "-1", "-2", ...): neither it nor its sidecar exists.
 * Sets *i to the suffix taken. */
static capv_status free_backup_name(char name[PATH_MAX], char side[PATH_MAX], const char *dir,
                                    const char *compact, int *i, capv_error *err)
{
    for (;; ++*i) {
        int w = *i == 0 ? snprintf(name, PATH_MAX, "%s/registry-%s.sqlite", dir, compact)
                        : snprintf(name, PATH_MAX, "%s/registry-%s-%d.sqlite", dir, compact, *i);
        if (w >= PATH_MAX)
            return capvi_err_set(err, CAPV_E_INVALID_ARG, dir, "backup directory path too long");
        capv_status st = sidecar_path(side, name, err);
        if (st != CAPV_OK)
            return st;
        if (!path_exists(name) && !path_exists(side))
            return CAPV_OK;
        if (*i > 1000)
            return capvi_err_set(err, CAPV_E_IO, dir, "cannot find a free backup name");
    }
}

/* The size of each version of capv_backup_options and capv_restore_options (docs/abi.md). */
static const size_t backup_options_sizes[] = { 0, sizeof(capv_backup_options) };
_Static_assert(sizeof backup_options_sizes / sizeof backup_options_sizes[0] ==
                   CAPV_BACKUP_OPTIONS_VERSION + 1,
               "one size per version of capv_backup_options");
static const size_t restore_options_sizes[] = { 0, sizeof(capv_restore_options) };
_Static_assert(sizeof restore_options_sizes / sizeof restore_options_sizes[0] ==
                   CAPV_RESTORE_OPTIONS_VERSION + 1,
               "one size per version of capv_restore_options");

capv_status capv_registry_backup_with(capv_backup_info **out, capv_registry *reg, const char *dir,
                                      const capv_backup_options *opts, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (reg == NULL || dir == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_backup_options o = CAPV_BACKUP_OPTIONS_INIT;
    capv_status st;
    if (opts != NULL &&
        (st = capvi_struct_read(&o, opts, backup_options_sizes,
                                sizeof backup_options_sizes / sizeof backup_options_sizes[0],
                                "capv_backup_options", err)) != CAPV_OK)
        return st;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return capvi_err_set(err, CAPV_E_IO, dir, "cannot create backup directory '%s': %s", dir,
                             strerror(errno));
    remove_stale_temps(dir, backup_dir_temps, NBACKUP_DIR_TEMPS);
    int64_t now = capvi_reg_now_ms(reg);
    char stamp[32], created[32], name[PATH_MAX], side[PATH_MAX], tmp[PATH_MAX], prefix[PATH_MAX];
    capvi_time_format_s(stamp, now); /* YYYY-MM-DDTHH:MM:SSZ → yyyymmddTHHMMSSZ */
    char compact[20];
    size_t k = 0;
    for (const char *p = stamp; *p && k + 1 < sizeof compact; p++)
        if (*p != '-' && *p != ':')
            compact[k++] = *p;
    compact[k] = '\0';
    capvi_time_format_ms(created, now);
    int suffix = 0;
    if ((st = free_backup_name(name, side, dir, compact, &suffix, err)) != CAPV_OK)
        return st;
    if ((st = temp_prefix(prefix, ".", base_of(name), err)) != CAPV_OK)
        return st;

    sqlite3 *dest = NULL;
    info_box *b = NULL;
    uint8_t digest[32];
    uint64_t size = 0, entries = 0, verifications = 0;
    int64_t schema = 0;
    int fd = -1;
    bool tmp_made = false, named = false; /* named: under its final name, without a sidecar */
    /* created here, O_EXCL | O_NOFOLLOW under a name nobody can guess; SQLite then opens
     * exactly that file (checked), so nothing planted in the directory is written through */
    CAPV_TRY(capvi_temp_create(&fd, tmp, dir, prefix, 0644, err));
    tmp_made = true;
    CAPV_TRY(open_own_db(&dest, fd, tmp, SQLITE_OPEN_READWRITE, err));
    /* the temporary file is fsynced once at the end; a crash before that discards it */
    CAPV_TRY(capvi_reg_exec(dest, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", err));
    if (reg->pg != NULL)
        CAPV_TRY(copy_pg_snapshot(reg, dest, o.progress, o.progress_user, err));
    else
        CAPV_TRY(copy_snapshot(reg, dest, o.progress, o.progress_user, err));
    /* a single self-contained file: rollback journal mode, not WAL */
    CAPV_TRY(capvi_reg_exec(dest, "PRAGMA journal_mode = DELETE", err));
    CAPV_TRY(capvi_reg_query_int(&schema, dest, "PRAGMA user_version", err));
    if (schema >= 1) {
        CAPV_TRY(capvi_reg_count_db(&entries, dest, "entries", err));
        CAPV_TRY(capvi_reg_count_db(&verifications, dest, "verifications", err));
    }
    /* a backup vouches for what it holds (and a signed one says so): a registry with schema
     * objects we do not create is not backed up */
    size_t diffs = 0;
    char first[CAPV_ERROR_MESSAGE_SIZE] = "";
    CAPV_TRY(capvi_reg_schema_compare(&diffs, dest, (int)schema, first_difference, first, err));
    if (diffs > 0)
        CAPV_FAIL(err, CAPV_E_MISMATCH, NULL,
                  "the registry's schema is not the one this library creates, so it is not "
                  "backed up: %s (run capverify registry check)",
                  first);
    /* PostgreSQL's verifications have no foreign keys (docs/registry.md, "Schema and
     * migrations"): the backup, which has them, checks the references instead */
    if (reg->pg != NULL) {
        uint64_t violations = 0;
        CAPV_TRY(foreign_keys(&violations, first, dest, true, NULL, NULL, err));
        if (violations > 0)
            CAPV_FAIL(err, CAPV_E_MALFORMED, NULL,
                      "the registry's rows are not whole, so they are not backed up: %s (%llu "
                      "in all)",
                      first, (unsigned long long)violations);
    }
    int rc = sqlite3_close(dest);
    dest = NULL;
    if (rc != SQLITE_OK)
        CAPV_FAIL(err, CAPV_E_IO, tmp, "closing the backup file failed");
    if (!capvi_temp_is(fd, tmp))
        CAPV_FAIL(err, CAPV_E_IO, tmp, "the temporary backup file '%s' was replaced: refused", tmp);
    if (fsync(fd) != 0)
        CAPV_FAIL(err, CAPV_E_IO, tmp, "fsync '%s': %s", tmp, strerror(errno));
    CAPV_TRY(hash_fd(digest, &size, fd, tmp, -1, NULL, NULL, NULL, err));
    /* the name is taken only now, and never from another backup that took it meanwhile
     * (another process, in the same second): the next free one then */
    while (capvi_rename_noreplace(tmp, name) != 0) {
        if (errno != EEXIST)
            CAPV_FAIL(err, CAPV_E_IO, name, "cannot rename the backup to '%s': %s", name,
                      strerror(errno));
        suffix++;
        CAPV_TRY(free_backup_name(name, side, dir, compact, &suffix, err));
    }
    tmp_made = false;
    if (!capvi_temp_is(fd, name))
        CAPV_FAIL(err, CAPV_E_IO, name, "the backup file '%s' was replaced while it was renamed",
                  name);
    named = true;
    CAPV_TRY(capvi_dir_sync(dir, err));
    char hex[CAPV_DIGEST_HEX_SIZE], tool[64];
    capv_digest_format(hex, digest);
    snprintf(tool, sizeof tool, "libcapverify %s", capv_version_string());
    if ((b = box_new(name, side, created, hex, tool)) == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    b->info.size_bytes = size;
    b->info.schema_version = (int)schema;
    b->info.entries = entries;
    b->info.verifications = verifications;
    /* the sidecar last: only now does the backup look complete */
    CAPV_TRY(write_sidecar(b, o.signing_key, err));
    named = false; /* complete */
    if (o.retain > 0)
        CAPV_TRY(capv_registry_backup_prune(NULL, dir, o.retain, err));
out:
    if (dest != NULL)
        sqlite3_close(dest);
    if (tmp_made)
        unlink(tmp);
    /* a file without its sidecar is no backup: no listing shows it and no retention prunes
     * it, on a disk that may just have filled up */
    if (named && capvi_temp_is(fd, name))
        unlink(name);
    if (fd >= 0)
        close(fd);
    if (st != CAPV_OK || out == NULL) {
        capv_backup_info_free(b ? &b->info : NULL);
        return capvi_err_done(err, st);
    }
    *out = &b->info;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_registry_backup(capv_backup_info **out, capv_registry *reg, const char *dir,
                                 unsigned int retain, capv_progress_fn progress, void *user,
                                 capv_error *err)
{
    capv_backup_options o = CAPV_BACKUP_OPTIONS_INIT;
    o.retain = retain;
    o.progress = progress;
    o.progress_user = user;
    return capv_registry_backup_with(out, reg, dir, &o, err);
}

/* ---- verify / restore ------------------------------------------------------------------ */

/* A SQLite failure on a backup being verified: the backup is input, so a damaged one is
 * malformed, not a storage fault of the registry. */
static capv_status backup_sqlite_error(sqlite3 *db, int rc, const char *what, capv_error *err)
{
    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
        return capvi_err_set(err, CAPV_E_MALFORMED, NULL,
                             "%s: not a valid database (%s, sqlite %d)", what,
                             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
    return capvi_reg_sqlite_error(db, rc, what, err);
}

/* PRAGMA integrity_check: CAPV_OK when it ran, `*ok` = it said "ok", `first` = its first
 * complaint. With `on_problem`, every complaint (up to 100) is reported with `code`. A
 * backup (`backup`) that SQLite cannot read at all is CAPV_E_MALFORMED. */
static capv_status integrity(bool *ok, char first[200], sqlite3 *db, const char *what, bool backup,
                             capv_status code, capv_registry_problem_fn on_problem, void *user,
                             capv_error *err)
{
    *ok = false;
    first[0] = '\0';
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(100)", -1, &s, NULL);
    bool said_ok = false;
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *m = (const char *)sqlite3_column_text(s, 0);
        rc = SQLITE_OK;
        if (m && strcmp(m, "ok") == 0) {
            said_ok = true;
            continue;
        }
        if (first[0] == '\0')
            snprintf(first, 200, "%s", m ? m : "(null)");
        if (on_problem)
            on_problem(user, "", code, m ? m : "(null)");
    }
    if (!backup && ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)) {
        /* so damaged that integrity_check itself stops: one more complaint, not a failure to
         * check (the rest of the check may still read what is intact) */
        if (first[0] == '\0')
            snprintf(first, 200, "%s", sqlite3_errmsg(db));
        if (on_problem)
            on_problem(user, "", code, sqlite3_errmsg(db));
        rc = SQLITE_DONE;
    }
    capv_status st = CAPV_OK;
    if (rc != SQLITE_DONE)
        st = backup ? backup_sqlite_error(db, rc, what, err)
                    : capvi_reg_sqlite_error(db, rc, what, err);
    *ok = said_ok && first[0] == '\0';
    sqlite3_finalize(s);
    return st;
}

/* PRAGMA foreign_key_check: every row that refers to a row that does not exist. `*count`
 * counts them; the first (up to 100) are reported through `fn` (may be NULL), `first` gets
 * the first one's description. On a live registry (not `backup`) a page too damaged to read
 * is one more complaint (CAPV_E_STORAGE), as in integrity(). */
static capv_status foreign_keys(uint64_t *count, char first[CAPV_ERROR_MESSAGE_SIZE], sqlite3 *db,
                                bool backup, capv_registry_problem_fn fn, void *user,
                                capv_error *err)
{
    *count = 0;
    first[0] = '\0';
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        const char *table = (const char *)sqlite3_column_text(s, 0);
        const char *parent = (const char *)sqlite3_column_text(s, 2);
        char msg[CAPV_ERROR_MESSAGE_SIZE];
        snprintf(msg, sizeof msg,
                 "foreign key violation: row %lld of table '%s' refers to a row of '%s' that "
                 "does not exist",
                 (long long)sqlite3_column_int64(s, 1), table ? table : "?", parent ? parent : "?");
        if (*count == 0)
            snprintf(first, CAPV_ERROR_MESSAGE_SIZE, "%s", msg);
        if (fn != NULL && *count < 100)
            fn(user, "", CAPV_E_MALFORMED, msg);
        (*count)++;
    }
    if (!backup && ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)) {
        if (fn != NULL)
            fn(user, "", CAPV_E_STORAGE, sqlite3_errmsg(db));
        rc = SQLITE_DONE;
    }
    capv_status st = CAPV_OK;
    if (rc != SQLITE_DONE)
        st = backup ? backup_sqlite_error(db, rc, "checking the foreign keys", err)
                    : capvi_reg_sqlite_error(db, rc, "checking the foreign keys", err);
    sqlite3_finalize(s);
    return st;
}

/* The entry of a row of REG_ENTRY_COLUMNS (borrowed strings, valid until the next step). */
static void entry_of_row(capv_registry_entry *e, sqlite3_stmt *s)
{
    const char *f[10];
    for (int i = 0; i < 10; i++)
        f[i] = (const char *)sqlite3_column_text(s, i + 1);
    e->id = f[0];
    e->manifest_hash = f[1];
    e->proof_hash = f[2];
    e->timestamp_file = f[3];
    e->registered_at = f[4];
    e->policy_hash = f[5];
    e->signature = f[6];
    e->public_key = f[7];
    e->kid = f[8];
    e->signature_scheme = f[9];
}

/* Calls fn for each entry whose 32-byte look-up keys are not the digests of its hashes as
 * written, which its signature covers: changed behind the signature, it would be found for
 * another package (the registry check compares the two too). Hashes that are not digests are
 * left to the caller. fn returns false to stop. */
static capv_status entry_keys_not_hashes(sqlite3 *db, bool (*fn)(void *user, const char *id),
                                         void *user, capv_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(
        db,
        "SELECT id, manifest_hash, proof_hash, manifest_key, proof_key FROM entries ORDER BY seq",
        -1, &s, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        const void *mk = sqlite3_column_blob(s, 3), *pk = sqlite3_column_blob(s, 4);
        if (capvi_reg_entry_keys_match((const char *)sqlite3_column_text(s, 1),
                                       (const char *)sqlite3_column_text(s, 2), mk,
                                       (size_t)sqlite3_column_bytes(s, 3), pk,
                                       (size_t)sqlite3_column_bytes(s, 4)) != CAPV_E_MISMATCH)
            continue;
        const char *id = (const char *)sqlite3_column_text(s, 0);
        if (!fn(user, id != NULL ? id : "")) {
            rc = SQLITE_DONE;
            break;
        }
    }
    capv_status st =
        rc == SQLITE_DONE ? CAPV_OK : capvi_reg_sqlite_error(db, rc, "reading the entries", err);
    sqlite3_finalize(s);
    return st;
}

/* The first entry entry_keys_not_hashes finds: its id into the char[CAPV_ERROR_MESSAGE_SIZE]
 * at user. */
static bool first_keys_not_hashes(void *user, const char *id)
{
    snprintf(user, CAPV_ERROR_MESSAGE_SIZE, "%s", id);
    return false;
}

/* Every signed entry of a backup's copy must verify (capv_registry_entry_verify); unsigned
 * entries pass. Whether their keys are trusted is the registry check's question. Every
 * entry's look-up keys must be its hashes. */
static capv_status backup_entry_signatures(sqlite3 *db, const char *backup, capv_error *err)
{
    char bad[CAPV_ERROR_MESSAGE_SIZE] = "";
    capv_status kst = entry_keys_not_hashes(db, first_keys_not_hashes, bad, err);
    if (kst != CAPV_OK)
        return kst;
    if (bad[0] != '\0')
        return capvi_err_set(err, CAPV_E_MISMATCH, bad,
                             "backup '%s': entry '%.80s' has look-up keys that are not its "
                             "hashes (changed behind its signature)",
                             backup, bad);
    sqlite3_stmt *s = NULL;
    capv_status st = CAPV_OK;
    int rc = sqlite3_prepare_v2(db, "SELECT " REG_ENTRY_COLUMNS " FROM entries ORDER BY seq", -1,
                                &s, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        entry_of_row(&e, s);
        capv_error verr = CAPV_ERROR_INIT;
        capv_status vs = capv_registry_entry_verify(&e, &verr);
        if (vs == CAPV_OK || vs == CAPV_E_MISSING)
            continue;
        CAPV_FAIL(err, vs, e.id ? e.id : "", "backup '%s': entry '%.80s' does not verify: %s",
                  backup, e.id ? e.id : "", verr.message);
    }
    if (rc != SQLITE_DONE)
        st = backup_sqlite_error(db, rc, "reading the backup's entries", err);
out:
    sqlite3_finalize(s);
    return st;
}

/* A verified private copy of a backup: the file `path`, open as `fd`. */
typedef struct backup_copy {
    int fd;
    char path[PATH_MAX];
} backup_copy;

static void copy_discard(backup_copy *c)
{
    if (c->fd >= 0) {
        unlink(c->path);
        close(c->fd);
    }
    c->fd = -1;
}

/* Copies `backup` into a new file in `copy_dir` (named "<copy_prefix>….tmp.<pid>.<random>")
 * while hashing it, then checks the copy: the sidecar (and its signature by `pol`), size and
 * SHA3-256, integrity_check, the schema version, exactly the schema objects we create,
 * foreign keys, the row counts and every entry signature. With `migrate`, an older schema is
 * migrated in the copy. On success `copy` is the checked copy (the caller removes it). */
static capv_status verify_into(info_box **info, backup_copy *copy, const char *backup,
                               const char *copy_dir, const char *copy_prefix, bool migrate,
                               const sig_policy *pol, capv_progress_fn progress, void *user,
                               capv_error *err)
{
    info_box *b = NULL;
    sqlite3 *db = NULL;
    int in = -1;
    copy->fd = -1;
    char prefix[PATH_MAX];
    capv_status st = read_sidecar(&b, backup, pol, err);
    if (st != CAPV_OK)
        return st;
    CAPV_TRY(open_input(&in, backup, "backup", err));
    struct stat sb;
    if (fstat(in, &sb) != 0)
        CAPV_FAIL(err, CAPV_E_IO, backup, "cannot examine backup '%s': %s", backup,
                  strerror(errno));
    if ((uint64_t)sb.st_size != b->info.size_bytes)
        CAPV_FAIL(err, CAPV_E_MISMATCH, backup,
                  "backup '%s' has %lld bytes, its sidecar says %llu: truncated or altered", backup,
                  (long long)sb.st_size, (unsigned long long)b->info.size_bytes);
    uint8_t want[32], got[32];
    uint64_t size = 0;
    if (capv_digest_parse(want, b->sha3, strlen(b->sha3), NULL) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, backup,
                  "backup '%s': its sidecar's sha3_256 is not a digest", backup);
    CAPV_TRY(temp_prefix(prefix, ".", copy_prefix, err));
    CAPV_TRY(capvi_temp_create(&copy->fd, copy->path, copy_dir, prefix, 0644, err));
    CAPV_TRY(hash_fd(got, &size, in, backup, copy->fd, copy->path, progress, user, err));
    if (size != b->info.size_bytes || CRYPTO_memcmp(want, got, 32) != 0)
        CAPV_FAIL(err, CAPV_E_MISMATCH, backup,
                  "backup '%s' does not match the SHA3-256 of its sidecar: tampered or corrupt",
                  backup);
    capv_error oerr = CAPV_ERROR_INIT;
    if ((st = open_own_db(&db, copy->fd, copy->path, SQLITE_OPEN_READWRITE, &oerr)) != CAPV_OK)
        CAPV_FAIL(err, st, backup, "backup '%s' cannot be opened: %s", backup, oerr.message);
    capv_error ierr = CAPV_ERROR_INIT;
    bool ok = false;
    char first[CAPV_ERROR_MESSAGE_SIZE];
    if ((st = integrity(&ok, first, db, "backup", true, CAPV_E_MALFORMED, NULL, NULL, &ierr)) !=
        CAPV_OK)
        CAPV_FAIL(err, st, backup, "backup '%s': %s", backup, ierr.message);
    if (!ok)
        CAPV_FAIL(err, CAPV_E_MALFORMED, backup, "backup '%s': integrity_check failed: %s", backup,
                  first);
    int version = 0;
    bool legacy = false;
    CAPV_TRY(capvi_reg_schema_probe(&version, &legacy, db, err));
    if (version != b->info.schema_version)
        CAPV_FAIL(err, CAPV_E_MISMATCH, backup,
                  "backup '%s' has schema version %d, its sidecar says %d", backup, version,
                  b->info.schema_version);
    /* exactly the tables, indexes (and no trigger or view) our migrations create: anything
     * else would run, or change what runs, once the registry uses the file */
    size_t diffs = 0;
    first[0] = '\0';
    CAPV_TRY(capvi_reg_schema_compare(&diffs, db, version, first_difference, first, err));
    if (diffs > 0)
        CAPV_FAIL(err, CAPV_E_MISMATCH, backup,
                  "backup '%s' holds a schema this library does not create: %s", backup, first);
    uint64_t violations = 0;
    CAPV_TRY(foreign_keys(&violations, first, db, true, NULL, NULL, err));
    if (violations > 0)
        CAPV_FAIL(err, CAPV_E_MALFORMED, backup, "backup '%s': %s (%llu in all)", backup, first,
                  (unsigned long long)violations);
    if (version >= 1) {
        uint64_t entries = 0, verifications = 0;
        CAPV_TRY(capvi_reg_count_db(&entries, db, "entries", err));
        CAPV_TRY(capvi_reg_count_db(&verifications, db, "verifications", err));
        if (entries != b->info.entries || verifications != b->info.verifications)
            CAPV_FAIL(err, CAPV_E_MISMATCH, backup,
                      "backup '%s' holds %llu entries and %llu verifications, its sidecar "
                      "says %llu and %llu",
                      backup, (unsigned long long)entries, (unsigned long long)verifications,
                      (unsigned long long)b->info.entries,
                      (unsigned long long)b->info.verifications);
    }
    if (migrate && version < CAPV_REGISTRY_SCHEMA_VERSION) {
        uint64_t rows = 0;
        CAPV_TRY(capvi_reg_migrate(&rows, db, version, err));
        version = CAPV_REGISTRY_SCHEMA_VERSION;
    }
    if (version >= 1)
        CAPV_TRY(backup_entry_signatures(db, backup, err));
out:
    if (db != NULL && sqlite3_close(db) != SQLITE_OK && st == CAPV_OK)
        st = capvi_err_set(err, CAPV_E_IO, copy->path, "closing the restored copy failed");
    if (st == CAPV_OK && !capvi_temp_is(copy->fd, copy->path))
        st = capvi_err_set(err, CAPV_E_IO, copy->path, "the copy '%s' was replaced: refused",
                           copy->path);
    if (in >= 0)
        close(in);
    if (st != CAPV_OK)
        copy_discard(copy);
    if (st != CAPV_OK || info == NULL)
        capv_backup_info_free(b ? &b->info : NULL);
    else
        *info = b;
    return st;
}

/* The restore options, read within the caller's version (NULL: the defaults). */
static capv_status restore_options(capv_restore_options *o, sig_policy *pol,
                                   const capv_restore_options *opts, capv_error *err)
{
    capv_restore_options init = CAPV_RESTORE_OPTIONS_INIT;
    *o = init;
    if (opts != NULL) {
        capv_status st =
            capvi_struct_read(o, opts, restore_options_sizes,
                              sizeof restore_options_sizes / sizeof restore_options_sizes[0],
                              "capv_restore_options", err);
        if (st != CAPV_OK)
            return st;
    }
    if ((o->flags & CAPV_RESTORE_REQUIRE_SIGNED) && o->trust == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "trust",
                             "requiring signed backups needs the trust store of their keys");
    pol->require = (o->flags & CAPV_RESTORE_REQUIRE_SIGNED) != 0;
    pol->trust = o->trust;
    return CAPV_OK;
}

capv_status capv_registry_backup_verify_with(capv_backup_info **out, const char *backup_path,
                                             const capv_restore_options *opts, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (backup_path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_restore_options o;
    sig_policy pol;
    capv_status st = restore_options(&o, &pol, opts, err);
    if (st != CAPV_OK)
        return st;
    char dir[PATH_MAX];
    dir_of(dir, backup_path);
    remove_stale_temps(dir, backup_dir_temps, NBACKUP_DIR_TEMPS);
    info_box *b = NULL;
    backup_copy copy;
    st = verify_into(&b, &copy, backup_path, dir, "verify", false, &pol, o.progress,
                     o.progress_user, err);
    copy_discard(&copy);
    if (st == CAPV_OK && out != NULL)
        *out = &b->info;
    else if (b != NULL)
        capv_backup_info_free(&b->info);
    return capvi_err_done(err, st);
}

capv_status capv_registry_backup_verify(capv_backup_info **out, const char *backup_path,
                                        capv_error *err)
{
    return capv_registry_backup_verify_with(out, backup_path, NULL, err);
}

void capvi_backup_dir_tidy(const char *dir)
{
    remove_stale_temps(dir, backup_dir_temps, NBACKUP_DIR_TEMPS);
}

capv_status capvi_backup_info_move(capv_backup_info *info, const char *dir, capv_error *err)
{
    info_box *b = (info_box *)info;
    char path[PATH_MAX], side[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, base_of(b->path)) >= (int)sizeof path ||
        snprintf(side, sizeof side, "%s/%s", dir, base_of(b->sidecar)) >= (int)sizeof side)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, dir, "directory path too long");
    char *p = strdup(path), *q = strdup(side);
    if (p == NULL || q == NULL) {
        free(p);
        free(q);
        return capvi_err_nomem(err);
    }
    free(b->path);
    free(b->sidecar);
    b->info.path = b->path = p;
    b->info.sidecar_path = b->sidecar = q;
    return CAPV_OK;
}

/* Undoes keeping the current database as `pre` when the restore cannot go on: its first
 * `moved` journal files go back beside it and the second name goes, so the database is as
 * it was (a file with two names is refused by the daemon), and the directory is synced.
 * The restore's error is the one reported, with a note when the undo is not whole. Whether
 * it was whole: if not, the old database (and journal files of it) is still named `pre`. */
static bool keep_undo(const char *dir, const char *real, const char *pre, size_t moved,
                      capv_error *err)
{
    char from[PATH_MAX + 16], to[PATH_MAX + 16];
    bool whole = true;
    for (size_t i = 0; whole && i < moved; i++) {
        snprintf(from, sizeof from, "%s%s", pre, capvi_reg_journal_suffixes[i]);
        snprintf(to, sizeof to, "%s%s", real, capvi_reg_journal_suffixes[i]);
        whole = rename(from, to) == 0 || errno == ENOENT;
    }
    /* the kept name goes only once its journal files are back: else it stays with them */
    whole = whole && unlink(pre) == 0;
    bool synced = capvi_dir_sync(dir, NULL) == CAPV_OK;
    size_t n = err != NULL ? strlen(err->message) : 0;
    if (!whole && err != NULL)
        snprintf(err->message + n, sizeof err->message - n,
                 "; undoing it failed: the database is also named '%s' (move that name and "
                 "its journal files back by hand)",
                 pre);
    else if (!synced && err != NULL)
        snprintf(err->message + n, sizeof err->message - n,
                 "; undone, but the directory could not be synced to disk");
    return whole;
}

static capv_status rename_if_exists(const char *from, const char *to, capv_error *err)
{
    if (rename(from, to) == 0 || errno == ENOENT)
        return CAPV_OK;
    return capvi_err_set(err, CAPV_E_IO, from, "cannot move '%s' to '%s': %s", from, to,
                         strerror(errno));
}

/* A restore into PostgreSQL: the backup verified on a private copy beside it (migrated if
 * older), then its rows replace the registry's in one transaction (registry_copy.c). */
static capv_status restore_pg(const char *url, const char *backup_path, const sig_policy *pol,
                              capv_progress_fn progress, void *user, capv_error *err)
{
    char dir[PATH_MAX];
    dir_of(dir, backup_path);
    remove_stale_temps(dir, backup_dir_temps, NBACKUP_DIR_TEMPS);
    sqlite3 *db = NULL;
    capv_registry *reg = NULL;
    backup_copy copy;
    capv_status st =
        verify_into(NULL, &copy, backup_path, dir, "restore", true, pol, progress, user, err);
    if (st != CAPV_OK)
        goto out;
    capv_error oerr = CAPV_ERROR_INIT;
    if ((st = open_own_db(&db, copy.fd, copy.path, SQLITE_OPEN_READONLY, &oerr)) != CAPV_OK)
        CAPV_FAIL(err, st, backup_path, "backup '%s' cannot be opened: %s", backup_path,
                  oerr.message);
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE;
    CAPV_TRY(capv_registry_open(&reg, url, &o, err));
    CAPV_TRY(capvi_reg_copy_load(NULL, reg, db, true, NULL, NULL, err));
out:
    capv_registry_close(reg);
    sqlite3_close(db);
    copy_discard(&copy);
    return st;
}

capv_status capv_registry_restore_with(char **previous, const char *db_path,
                                       const char *backup_path, const capv_restore_options *opts,
                                       capv_error *err)
{
    if (previous != NULL)
        *previous = NULL;
    if (db_path == NULL || backup_path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_restore_options o;
    sig_policy pol;
    capv_status st = restore_options(&o, &pol, opts, err);
    if (st != CAPV_OK)
        return st;
    if (capv_registry_location_is_postgres(db_path))
        return capvi_err_done(
            err, restore_pg(db_path, backup_path, &pol, o.progress, o.progress_user, err));
    /* the database file itself: a symbolic link to it is followed, so the restored file
     * takes the place of the file the link names, beside it */
    char real[PATH_MAX];
    struct stat lsb;
    if (lstat(db_path, &lsb) == 0 && S_ISLNK(lsb.st_mode)) {
        if (realpath(db_path, real) == NULL)
            return capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, db_path,
                                 "cannot resolve the link '%s': %s", db_path, strerror(errno));
    } else if (snprintf(real, sizeof real, "%s", db_path) >= (int)sizeof real) {
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "database path too long");
    }
    capv_reg_lock *lock = NULL;
    bool forced = false;
    st = capvi_reg_lock(&lock, real, false, err);
    if (st == CAPV_E_BUSY && (o.flags & CAPV_RESTORE_FORCE)) {
        st = CAPV_OK; /* forced: the daemon must reopen (SIGHUP) */
        forced = true;
        capv_error_clear(err);
    } else if (st == CAPV_E_BUSY) {
        return capvi_err_set(err, CAPV_E_BUSY, db_path,
                             "registry '%s' is held by a writer (capverifyd?): stop it first, or "
                             "use --force and send it SIGHUP afterwards",
                             db_path);
    } else if (st == CAPV_E_NOT_FOUND) {
        st = CAPV_OK; /* no database yet: nothing to hold */
        capv_error_clear(err);
    } else if (st != CAPV_OK) {
        return st;
    }
    char dir[PATH_MAX], pre[PATH_MAX], from[PATH_MAX], to[PATH_MAX], name[PATH_MAX];
    char *kept = NULL; /* `pre` for *previous, allocated before anything is moved */
    backup_copy copy = { .fd = -1 };
    dir_of(dir, real);
    if (snprintf(name, sizeof name, "%s.restore", base_of(real)) >= (int)sizeof name)
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, NULL, "database path too long");
    char stale[PATH_MAX + 2];
    snprintf(stale, sizeof stale, ".%s.", name);
    const char *const stale_prefixes[] = { stale };
    remove_stale_temps(dir, stale_prefixes, 1);
    CAPV_TRY(verify_into(NULL, &copy, backup_path, dir, name, true, &pol, o.progress,
                         o.progress_user, err));

    bool had_db = path_exists(real);
    if (had_db && lock == NULL && !forced)
        CAPV_FAIL(err, CAPV_E_BUSY, db_path,
                  "a database appeared at '%s' during the restore: run the restore again", real);
    if (had_db) {
        /* the restored file takes the live one's mode and owner (a restore run as root, or
         * under another umask, must not leave a file the daemon cannot write, or others can
         * read); an owner this process cannot give stays its own */
        struct stat live;
        if (stat(real, &live) == 0) {
            if (fchmod(copy.fd, live.st_mode & 07777) != 0)
                CAPV_FAIL(err, CAPV_E_IO, copy.path, "cannot set the mode of '%s': %s", copy.path,
                          strerror(errno));
            if ((live.st_uid != geteuid() || live.st_gid != getegid()) &&
                fchown(copy.fd, live.st_uid, live.st_gid) != 0 && errno != EPERM)
                CAPV_FAIL(err, CAPV_E_IO, copy.path, "cannot set the owner of '%s': %s", copy.path,
                          strerror(errno));
        }
        if (lock != NULL) {
            /* no writer: fold the WAL into the main file so the kept copy is one file */
            sqlite3 *old = NULL;
            if (sqlite3_open_v2(real, &old, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) ==
                SQLITE_OK)
                sqlite3_exec(old, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
            sqlite3_close(old);
        }
        char stamp[32], compact[20];
        capvi_time_format_s(stamp, capv_clock_system(NULL));
        size_t k = 0;
        for (const char *p = stamp; *p && k + 1 < sizeof compact; p++)
            if (*p != '-' && *p != ':')
                compact[k++] = *p;
        compact[k] = '\0';
        for (int i = 0;; i++) {
            int w = i == 0 ? snprintf(pre, sizeof pre, "%s.pre-restore-%s", real, compact)
                           : snprintf(pre, sizeof pre, "%s.pre-restore-%s-%d", real, compact, i);
            if (w >= (int)sizeof pre)
                CAPV_FAIL(err, CAPV_E_INVALID_ARG, NULL, "database path too long");
            if (!path_exists(pre))
                break;
        }
        if (previous != NULL && (kept = strdup(pre)) == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, "out of memory");
        /* keep the old file under its new name (a second link), then move its WAL and
         * shared-memory files with it BEFORE the new file takes the name: a stale WAL next
         * to the restored file would be replayed into it */
        if (link(real, pre) != 0)
            CAPV_FAIL(err, CAPV_E_IO, pre, "cannot keep the current database as '%s': %s", pre,
                      strerror(errno));
        size_t moved = 0;
        for (; moved < sizeof capvi_reg_journal_suffixes / sizeof *capvi_reg_journal_suffixes;
             moved++) {
            snprintf(from, sizeof from, "%s%s", real, capvi_reg_journal_suffixes[moved]);
            snprintf(to, sizeof to, "%s%s", pre, capvi_reg_journal_suffixes[moved]);
            if ((st = rename_if_exists(from, to, err)) != CAPV_OK)
                break;
        }
        if (st == CAPV_OK && rename(copy.path, real) != 0)
            st = capvi_err_set(err, CAPV_E_IO, db_path,
                               "cannot move the restored database into place: %s", strerror(errno));
        if (st != CAPV_OK) {
            /* not put back whole: the caller must learn where the old database is */
            if (!keep_undo(dir, real, pre, moved, err) && previous != NULL) {
                *previous = kept;
                kept = NULL;
            }
            goto out;
        }
        /* the database is the restored one from here on: the caller learns where the old one
         * is kept also when a later step fails (docs/registry.md "Restore") */
        if (previous != NULL) {
            *previous = kept;
            kept = NULL;
        }
    } else if ((st = capvi_reg_leftover_journal(real, "the restored one", err)) != CAPV_OK) {
        goto out;
    } else if (capvi_rename_noreplace(copy.path, real) != 0) {
        /* a database that appeared meanwhile is never replaced without being kept */
        CAPV_FAIL(err, errno == EEXIST ? CAPV_E_BUSY : CAPV_E_IO, db_path,
                  "cannot move the restored database into place: %s", strerror(errno));
    }
    if (!capvi_temp_is(copy.fd, real))
        CAPV_FAIL(err, CAPV_E_IO, db_path, "the restored database '%s' was replaced meanwhile",
                  real);
    close(copy.fd);
    copy.fd = -1;
    CAPV_TRY(capvi_dir_sync(dir, err));
out:
    free(kept);
    copy_discard(&copy);
    capvi_reg_unlock(lock);
    return capvi_err_done(err, st);
}

capv_status capv_registry_restore(char **previous, const char *db_path, const char *backup_path,
                                  unsigned int flags, capv_progress_fn progress, void *user,
                                  capv_error *err)
{
    capv_restore_options o = CAPV_RESTORE_OPTIONS_INIT;
    o.flags = flags & CAPV_RESTORE_FORCE;
    o.progress = progress;
    o.progress_user = user;
    return capv_registry_restore_with(previous, db_path, backup_path, &o, err);
}

/* ---- check ----------------------------------------------------------------------------- */

static void problem(capv_registry_check_result *r, capv_registry_problem_fn fn, void *user,
                    const char *id, capv_status code, const char *msg)
{
    r->problems++;
    if (fn != NULL)
        fn(user, id, code, msg);
}

/* Schema differences found by the check, each a problem (CAPV_E_MISMATCH). */
typedef struct schema_problems {
    capv_registry_check_result *r;
    capv_registry_problem_fn fn;
    void *user;
} schema_problems;

static void schema_problem(void *user, const char *type, const char *name, const char *message)
{
    (void)type;
    (void)name;
    schema_problems *sp = user;
    problem(sp->r, sp->fn, sp->user, "", CAPV_E_MISMATCH, message);
}

/* Whether a stored report body is what its key says: a whole report hashes to the key; a
 * summary is a summary object naming the key as the full report's SHA3-256. */
static bool report_body_ok(const uint8_t *key, bool summary, const char *json, size_t len)
{
    if (!summary) {
        uint8_t d[32];
        return capv_hash(d, CAPV_HASH_SHA3_256, (const uint8_t *)json, len, NULL) == CAPV_OK &&
               CRYPTO_memcmp(d, key, 32) == 0;
    }
    cJSON *root = NULL;
    if (capvi_json_parse(&root, (const uint8_t *)json, len, NULL) != CAPV_OK)
        return false;
    const cJSON *flag = capvi_json_get(root, "summary");
    const cJSON *sha = capvi_json_get(root, "report_sha3_256");
    uint8_t d[32];
    bool ok = cJSON_IsTrue(flag) && cJSON_IsString(sha) &&
              capv_digest_parse(d, sha->valuestring, strlen(sha->valuestring), NULL) == CAPV_OK &&
              CRYPTO_memcmp(d, key, 32) == 0;
    cJSON_Delete(root);
    return ok;
}

/* The size of each version of capv_registry_check_result (docs/abi.md): version 2 added
 * verifications and reports, version 3 schema_differences and foreign_key_violations. */
static const size_t check_result_sizes[] = {
    0, offsetof(capv_registry_check_result, verifications),
    offsetof(capv_registry_check_result, schema_differences), sizeof(capv_registry_check_result)
};
_Static_assert(sizeof check_result_sizes / sizeof check_result_sizes[0] ==
                   CAPV_REGISTRY_CHECK_RESULT_VERSION + 1,
               "one size per version of capv_registry_check_result");

/* Every stored report body against its key (schema 2). A mismatch counts as malformed. */
static capv_status check_reports(capv_registry_check_result *r, sqlite3 *db,
                                 capv_registry_problem_fn on_problem, void *problem_user,
                                 capv_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT id, sha3, summary, json FROM reports ORDER BY id", -1,
                                &s, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        r->reports++;
        const void *key = sqlite3_column_blob(s, 1);
        int klen = sqlite3_column_bytes(s, 1);
        const char *json = (const char *)sqlite3_column_text(s, 3);
        size_t jlen = (size_t)sqlite3_column_bytes(s, 3);
        if (key != NULL && klen == 32 && json != NULL &&
            report_body_ok(key, sqlite3_column_int(s, 2) != 0, json, jlen))
            continue;
        char msg[96];
        snprintf(msg, sizeof msg, "stored report %lld does not match its SHA3-256 key",
                 (long long)sqlite3_column_int64(s, 0));
        r->malformed++;
        problem(r, on_problem, problem_user, "", CAPV_E_MISMATCH, msg);
    }
    capv_status st = rc == SQLITE_DONE
                         ? CAPV_OK
                         : capvi_reg_sqlite_error(db, rc, "check: reading the reports failed", err);
    sqlite3_finalize(s);
    return st;
}

/* Entries whose look-up keys are not their hashes, each a malformed entry. */
typedef struct check_keys {
    capv_registry_check_result *r;
    capv_registry_problem_fn fn;
    void *user;
} check_keys;

static bool keys_problem(void *user, const char *id)
{
    check_keys *ck = user;
    ck->r->malformed++;
    problem(ck->r, ck->fn, ck->user, id, CAPV_E_MISMATCH,
            "its look-up keys are not the digests of its hashes (changed behind its signature): "
            "it would be found for another package");
    return true;
}

capv_status capv_registry_check(capv_registry_check_result *result, capv_registry *reg,
                                const capv_trust_store *trust, capv_registry_problem_fn on_problem,
                                void *problem_user, capv_progress_fn progress, void *user,
                                capv_error *err)
{
    if (result == NULL || reg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_status fst = capvi_reg_require_file(reg, "the integrity check", err);
    if (fst != CAPV_OK)
        return fst;
    /* filled in full here, copied out within the size of the caller's version */
    size_t size = 0;
    capv_status st = capvi_struct_size(&size, result->version, check_result_sizes,
                                       sizeof check_result_sizes / sizeof check_result_sizes[0],
                                       "capv_registry_check_result", err);
    if (st != CAPV_OK)
        return st;
    capv_registry_check_result res = CAPV_REGISTRY_CHECK_RESULT_INIT, *r = &res;
    capv_error lerr = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr;
    capv_reg_conn *c = NULL;
    if ((st = capvi_reg_long_reader_acquire(&c, reg, err)) != CAPV_OK) {
        capvi_struct_write(result, &res, size);
        return capvi_reg_note(reg, st, err);
    }
    sqlite3_stmt *s = NULL;
    uint64_t total = 0;
    st = capvi_reg_exec(c->db, "BEGIN", err);
    bool txn = st == CAPV_OK;
    if (st != CAPV_OK)
        goto out;
    bool ok = false;
    char first[200];
    /* a damaged live registry is a storage fault, reported as such */
    CAPV_TRY(integrity(&ok, first, c->db, "registry", false, CAPV_E_STORAGE, on_problem,
                       problem_user, err));
    if (ok)
        r->integrity_ok = true;
    else
        r->problems++;
    int64_t v = 0;
    CAPV_TRY(capvi_reg_query_int(&v, c->db, "PRAGMA user_version", err));
    r->schema_version = (int)v;
    /* what the registry runs on its writes: exactly our tables and indexes, no trigger or
     * view (the same comparison a restore makes) */
    schema_problems sp = { r, on_problem, problem_user };
    size_t diffs = 0;
    CAPV_TRY(capvi_reg_schema_compare(&diffs, c->db, r->schema_version, schema_problem, &sp, err));
    r->schema_differences = diffs;
    char first_fk[CAPV_ERROR_MESSAGE_SIZE];
    CAPV_TRY(foreign_keys(&r->foreign_key_violations, first_fk, c->db, false, on_problem,
                          problem_user, err));
    r->problems += r->foreign_key_violations;
    CAPV_TRY(capvi_reg_count_db(&total, c->db, "entries", err));
    if (r->schema_version >= 1)
        CAPV_TRY(capvi_reg_count_db(&r->verifications, c->db, "verifications", err));
    int rc = sqlite3_prepare_v2(c->db, "SELECT " REG_ENTRY_COLUMNS " FROM entries ORDER BY seq", -1,
                                &s, NULL);
    if (rc != SQLITE_OK) {
        st = capvi_reg_sqlite_error(c->db, rc, "check: cannot read the entries", err);
        goto out;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        entry_of_row(&e, s);
        const char *id = e.id ? e.id : "";
        r->entries++;
        if (progress && (r->entries % 4096 == 0 || r->entries == total))
            progress(user, r->entries, total);
        uint8_t d[32];
        if (e.id == NULL || e.manifest_hash == NULL || e.proof_hash == NULL ||
            e.registered_at == NULL ||
            capv_digest_parse(d, e.manifest_hash, strlen(e.manifest_hash), NULL) != CAPV_OK ||
            capv_digest_parse(d, e.proof_hash, strlen(e.proof_hash), NULL) != CAPV_OK) {
            r->malformed++;
            problem(r, on_problem, problem_user, id, CAPV_E_MALFORMED,
                    "entry fields are missing or its hashes are not digests");
            continue;
        }
        capv_error verr = CAPV_ERROR_INIT;
        capv_status vs = capv_registry_entry_verify(&e, &verr);
        if (vs == CAPV_E_MISSING) {
            r->unsigned_entries++;
            continue;
        }
        if (vs != CAPV_OK) {
            r->bad_signatures++;
            problem(r, on_problem, problem_user, id, vs, verr.message);
            continue;
        }
        r->signed_entries++;
        uint8_t pub[32], sig[64];
        capvi_reg_entry_sig_material(sig, pub, e.signature, e.public_key, e.signature_scheme, NULL);
        char kid[CAPV_KID_SIZE];
        if (e.kid != NULL && capv_key_id(kid, pub, NULL) == CAPV_OK && strcmp(kid, e.kid) != 0)
            r->kid_mismatches++;
        if (trust != NULL) {
            capvi_instant at;
            const capv_key *key = NULL;
            if (!capvi_time_parse_instant(&at, e.registered_at, strlen(e.registered_at)))
                at = (capvi_instant){ INT64_MIN, 0 };
            capv_status ts = capvi_trust_decide(&key, trust, pub, at);
            if (ts != CAPV_OK) {
                char msg[120];
                snprintf(msg, sizeof msg, "the signing key is not trusted for this entry (%s)",
                         capv_status_name(ts));
                r->untrusted++;
                problem(r, on_problem, problem_user, id, ts, msg);
            }
        }
    }
    if (rc != SQLITE_DONE) {
        st = capvi_reg_sqlite_error(c->db, rc, "check: reading the entries failed", err);
        goto out;
    }
    check_keys ck = { r, on_problem, problem_user };
    CAPV_TRY(entry_keys_not_hashes(c->db, keys_problem, &ck, err));
    if (r->schema_version >= 2)
        CAPV_TRY(check_reports(r, c->db, on_problem, problem_user, err));
out:
    sqlite3_finalize(s);
    if (txn)
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    capvi_reg_long_reader_release(reg, c);
    capvi_struct_write(result, &res, size);
    return capvi_err_done(err, capvi_reg_note(reg, st, err));
}
