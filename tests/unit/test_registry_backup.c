/* SPDX-License-Identifier: Apache-2.0 */
/* Backups you can trust (docs/registry.md "Backup", "Restore", "Check", "Signed backups",
 * "Connections and the single writer"), tried as an attacker would:
 *  - a backup with a schema object we do not create (a trigger that empties the registry, a
 *    view, an index, a table, an added or changed column, one of ours dropped), a foreign key
 *    pointing nowhere or an entry whose signature no longer verifies, with a recomputed
 *    sidecar: refused by verify, restore and (on a live file) check, the database untouched;
 *  - signed sidecars: the documented bytes, trusted and foreign keys, unsigned backups when
 *    signed ones are required, altered sidecars, revoked keys, option versions;
 *  - the writer lock through a symbolic link, hard links (also from another process), and
 *    SQLite's own locks kept when the lock's descriptor goes;
 *  - temporary files: nothing planted at a name is opened or followed, listing and restore
 *    take regular files only, stale temporaries are removed but planted links are not;
 *  - a restore that fails after the restored file took the database's name still says where
 *    the old database is kept. */
#include <capverify.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "registry_db_int.h"
#include "registry_lock_int.h"
#include "suites.h"
#include "tempfile_int.h"
#include "testutil.h"

#define PATH_CAP 1024

static char dir[300];

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
    tu_temp_dir(dir, sizeof dir, "capvbk");
}

static void teardown(void)
{
    tu_remove_tree(dir);
    capv_global_shutdown();
}

static const char *in_dir(char out[PATH_CAP], const char *name)
{
    snprintf(out, PATH_CAP, "%s/%s", dir, name);
    return out;
}

static capv_status open_status(const char *path, unsigned int flags, capv_error *err)
{
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = flags;
    capv_registry *reg = NULL;
    capv_status st = capv_registry_open(&reg, path, &o, err);
    capv_registry_close(reg);
    return st;
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql,
                  msg ? msg : "");
    sqlite3_close(db);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *buf = malloc(cap + 1);
    ck_assert_ptr_nonnull(buf);
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            uint8_t *grown = realloc(buf, cap + 1);
            ck_assert_ptr_nonnull(grown);
            buf = grown;
        }
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

static void write_all(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void copy_file(const char *from, const char *to)
{
    size_t len;
    uint8_t *data = read_all(from, &len);
    write_all(to, data, len);
    free(data);
}

static void file_digest(uint8_t d[32], const char *path)
{
    size_t len;
    uint8_t *data = read_all(path, &len);
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, data, len, NULL), CAPV_OK);
    free(data);
}

/* A digest of the database file and of its WAL (absent: zeros): "untouched" means both. */
static void db_digest(uint8_t d[64], const char *path)
{
    char wal[PATH_CAP + 8];
    file_digest(d, path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    memset(d + 32, 0, 32);
    if (access(wal, F_OK) == 0)
        file_digest(d + 32, wal);
}

static const char *hash_of(char out[CAPV_DIGEST_HEX_SIZE], const char *tag, int n)
{
    char in[64];
    uint8_t d[32];
    snprintf(in, sizeof in, "%s-%d", tag, n);
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, (const uint8_t *)in, strlen(in), NULL),
                     CAPV_OK);
    capv_digest_format(out, d);
    return out;
}

static void fill(capv_registry *reg, int from, int to)
{
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
    for (int i = from; i < to; i++) {
        capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
        e.manifest_hash = hash_of(mh, "m", i);
        e.proof_hash = hash_of(ph, "p", i);
        ck_assert_int_eq(capv_registry_add(NULL, reg, &e, NULL), CAPV_OK);
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        v.result = "ok";
        v.manifest_hash = mh;
        v.proof_hash = ph;
        v.report_json = "{\"result\":\"ok\"}";
        ck_assert_int_eq(capv_registry_record(NULL, reg, &v, NULL), CAPV_OK);
    }
}

static int64_t fixed_clock(void *user)
{
    return *(int64_t *)user;
}

/* A registry at `path` with `n` entries and verifications (entries signed with `key` when it
 * is not NULL), closed again: everything in the main file. */
static void make_registry(const char *path, int n, const capv_signing_key *key)
{
    capv_registry *reg = tu_registry_open(path, CAPV_REGISTRY_CREATE);
    capv_registry_set_signing_key(reg, key);
    fill(reg, 0, n);
    capv_registry_close(reg);
}

/* A backup of the registry at `path` into `bdir`; with `key`, signed. */
static capv_backup_info *backup_of(const char *path, const char *bdir, const capv_signing_key *key)
{
    capv_registry *reg = tu_registry_open(path, CAPV_REGISTRY_READ_ONLY);
    capv_backup_options o = CAPV_BACKUP_OPTIONS_INIT;
    o.signing_key = key;
    capv_backup_info *b = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_backup_with(&b, reg, bdir, &o, &err) == CAPV_OK, "backup: %s",
                  err.message);
    capv_registry_close(reg);
    return b;
}

/* The sidecar path of a backup path ("x.sqlite" → "x.json"). */
static const char *side_of(char out[PATH_CAP], const char *backup)
{
    size_t n = strlen(backup);
    ck_assert(n > 7);
    snprintf(out, PATH_CAP, "%.*s.json", (int)(n - 7), backup);
    return out;
}

/* Rewrites the sidecar of `backup` for the file as it is now (sha3_256, size_bytes), as an
 * attacker who can write the backup directory would: everything else as it was. */
static void recompute_sidecar(const char *backup)
{
    char side[PATH_CAP];
    size_t len = 0, dlen = 0;
    uint8_t *text = read_all(side_of(side, backup), &len);
    cJSON *root = cJSON_Parse((const char *)text);
    ck_assert_ptr_nonnull(root);
    uint8_t *data = read_all(backup, &dlen);
    uint8_t d[32];
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, data, dlen, NULL), CAPV_OK);
    char hex[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(hex, d);
    cJSON_ReplaceItemInObjectCaseSensitive(root, "sha3_256", cJSON_CreateString(hex));
    cJSON_ReplaceItemInObjectCaseSensitive(root, "size_bytes", cJSON_CreateNumber((double)dlen));
    char *out = cJSON_Print(root);
    ck_assert_ptr_nonnull(out);
    write_all(side, out, strlen(out));
    free(out);
    cJSON_Delete(root);
    free(data);
    free(text);
}

/* A copy of a backup (and its sidecar) under a new name in the same directory. */
static void copy_backup(char out[PATH_CAP], const capv_backup_info *b, const char *name)
{
    char side[PATH_CAP], bdir[PATH_CAP];
    snprintf(bdir, sizeof bdir, "%s", b->path);
    *strrchr(bdir, '/') = '\0';
    ck_assert(snprintf(out, PATH_CAP, "%s/%s.sqlite", bdir, name) < PATH_CAP);
    copy_file(b->path, out);
    copy_file(b->sidecar_path, side_of(side, out));
}

/* Whether a file whose name contains `part` is in `d`. */
static bool dir_has(const char *d, const char *part)
{
    DIR *h = opendir(d);
    ck_assert_ptr_nonnull(h);
    bool found = false;
    struct dirent *de;
    while ((de = readdir(h)) != NULL)
        found = found || strstr(de->d_name, part) != NULL;
    closedir(h);
    return found;
}

typedef struct seen {
    int n;
    char first[CAPV_ERROR_MESSAGE_SIZE];
    capv_status code;
    char all[4096];
} seen;

static void on_problem(void *user, const char *id, capv_status code, const char *message)
{
    (void)id;
    seen *s = user;
    if (s->n++ == 0) {
        snprintf(s->first, sizeof s->first, "%s", message);
        s->code = code;
    }
    size_t l = strlen(s->all);
    snprintf(s->all + l, sizeof s->all - l, "%s\n", message);
}

/* ---- the schema: exactly what our migrations create ----------------------------------- */

static const struct {
    const char *name;
    const char *sql;  /* applied to the backup's copy and to a live registry */
    const char *what; /* the refusal names it */
} tamperings[] = {
    { "trigger",
      "CREATE TRIGGER wipe AFTER INSERT ON verifications BEGIN DELETE FROM verifications; "
      "DELETE FROM entries; END",
      "trigger 'wipe' on table 'verifications'" },
    { "view", "CREATE VIEW entries_v AS SELECT * FROM entries", "view 'entries_v'" },
    { "index", "CREATE INDEX entries_kid ON entries (kid)", "index 'entries_kid'" },
    { "table", "CREATE TABLE notes (x TEXT)", "table 'notes'" },
    { "added column", "ALTER TABLE policies ADD COLUMN extra TEXT DEFAULT 'x'",
      "table 'policies' is not the one" },
    /* the CHECK of verifications.result taken out of its CREATE statement */
    { "changed column",
      "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, ' CHECK "
      "(result = ''ok'' OR result = ''warn'' OR result = ''fail'')', '') WHERE name = "
      "'verifications'; PRAGMA writable_schema = OFF",
      "table 'verifications' is not the one" },
    { "dropped index", "DROP INDEX verifications_time", "index 'verifications_time' is missing" },
    { "quoted trigger",
      "CREATE TRIGGER \"keep  calm\" BEFORE DELETE ON reports BEGIN SELECT 1; END",
      "trigger 'keep  calm' on table 'reports'" },
};
#define NTAMPERINGS (sizeof tamperings / sizeof tamperings[0])

START_TEST(schema_tampered)
{
    char live[PATH_CAP], bdir[PATH_CAP], target[PATH_CAP], copy[PATH_CAP], checked[PATH_CAP];
    make_registry(in_dir(live, "live.sqlite"), 6, NULL);
    capv_backup_info *b = backup_of(live, in_dir(bdir, "bk"), NULL);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_registry_backup_verify(NULL, b->path, &err), CAPV_OK);
    /* the database a restore would replace, with other rows */
    make_registry(in_dir(target, "target.sqlite"), 9, NULL);
    uint8_t before[64], after[64];
    db_digest(before, target);
    for (size_t i = 0; i < NTAMPERINGS; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%zu", i);
        copy_backup(copy, b, name);
        exec_sql(copy, tamperings[i].sql);
        recompute_sidecar(copy);
        /* verify: refused, naming the object */
        ck_assert_int_eq(capv_registry_backup_verify(NULL, copy, &err), CAPV_E_MISMATCH);
        ck_assert_msg(strstr(err.message, tamperings[i].what) != NULL, "%s: %s", tamperings[i].name,
                      err.message);
        ck_assert_ptr_nonnull(strstr(err.message, "schema this library does not create"));
        /* restore: refused, the target byte for byte as it was, no copy left behind */
        ck_assert_int_eq(capv_registry_restore(NULL, target, copy, 0, NULL, NULL, &err),
                         CAPV_E_MISMATCH);
        ck_assert_msg(strstr(err.message, tamperings[i].what) != NULL, "%s: %s", tamperings[i].name,
                      err.message);
        db_digest(after, target);
        ck_assert_msg(memcmp(before, after, 64) == 0, "%s: the target changed", tamperings[i].name);
        ck_assert(!dir_has(dir, ".restore.tmp."));
        ck_assert(!dir_has(bdir, ".verify.tmp."));
        /* check on a live registry with the same change: one problem naming it */
        snprintf(checked, sizeof checked, "%s/checked-%zu.sqlite", dir, i);
        copy_file(live, checked);
        exec_sql(checked, tamperings[i].sql);
        capv_registry *reg = tu_registry_open(checked, CAPV_REGISTRY_READ_ONLY);
        capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
        seen s = { 0 };
        ck_assert_int_eq(capv_registry_check(&r, reg, NULL, on_problem, &s, NULL, NULL, &err),
                         CAPV_OK);
        ck_assert_msg(r.schema_differences >= 1, "%s", tamperings[i].name);
        ck_assert_uint_ge(r.problems, r.schema_differences);
        ck_assert_msg(strstr(s.all, tamperings[i].what) != NULL, "%s: %s", tamperings[i].name,
                      s.all);
        ck_assert_int_eq(s.code, CAPV_E_MISMATCH);
        /* and a backup of it is refused: nothing vouches for a schema we did not make */
        ck_assert_int_eq(capv_registry_backup(NULL, reg, bdir, 0, NULL, NULL, &err),
                         CAPV_E_MISMATCH);
        ck_assert_msg(strstr(err.message, tamperings[i].what) != NULL, "%s", err.message);
        capv_registry_close(reg);
    }
    /* the attack of the issue, end to end: had the restore gone through, the first
     * verification recorded would have emptied the registry; it did not */
    capv_registry *reg = tu_registry_open(target, 0);
    fill(reg, 100, 101);
    uint64_t n = 0;
    ck_assert_int_eq(capv_registry_count(&n, reg, CAPV_REGISTRY_ENTRIES, NULL), CAPV_OK);
    ck_assert_uint_eq(n, 10);
    capv_registry_close(reg);
    /* what is not a schema change passes: SQLite's statistics (ANALYZE) */
    copy_backup(copy, b, "analyzed");
    exec_sql(copy, "ANALYZE");
    recompute_sidecar(copy);
    ck_assert_msg(capv_registry_backup_verify(NULL, copy, &err) == CAPV_OK, "%s", err.message);
    /* the untampered backup restores */
    ck_assert_msg(capv_registry_restore(NULL, target, b->path, 0, NULL, NULL, &err) == CAPV_OK,
                  "%s", err.message);
    capv_backup_info_free(b);
}
END_TEST

/* The legacy layouts of the existing implementation, migrated: their kept tables are ours
 * too, so check, backup and restore accept them. */
START_TEST(schema_legacy_layouts)
{
    static const char *const vectors[] = { "old_schema_registry", "empty_registry_v1" };
    for (size_t i = 0; i < 2; i++) {
        char from[PATH_CAP], path[PATH_CAP], bdir[PATH_CAP], target[PATH_CAP];
        snprintf(from, sizeof from, "%s/peer/registry/%s.sqlite", tu_shared_dir(), vectors[i]);
        snprintf(path, sizeof path, "%s/%s.sqlite", dir, vectors[i]);
        copy_file(from, path);
        capv_registry *reg = tu_registry_open(path, 0); /* migrates */
        capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
        seen s = { 0 };
        capv_error err = CAPV_ERROR_INIT;
        ck_assert_int_eq(capv_registry_check(&r, reg, NULL, on_problem, &s, NULL, NULL, &err),
                         CAPV_OK);
        ck_assert_msg(r.problems == 0 && r.schema_differences == 0, "%s: %s", vectors[i], s.all);
        capv_backup_info *b = NULL;
        snprintf(bdir, sizeof bdir, "%s/bk-%zu", dir, i);
        ck_assert_msg(capv_registry_backup(&b, reg, bdir, 0, NULL, NULL, &err) == CAPV_OK, "%s",
                      err.message);
        capv_registry_close(reg);
        ck_assert_int_eq(capv_registry_backup_verify(NULL, b->path, &err), CAPV_OK);
        snprintf(target, sizeof target, "%s/restored-%zu.sqlite", dir, i);
        ck_assert_int_eq(capv_registry_restore(NULL, target, b->path, 0, NULL, NULL, &err),
                         CAPV_OK);
        /* the legacy table with a trigger on it is still refused */
        char copy[PATH_CAP];
        copy_backup(copy, b, "legacy-trigger");
        exec_sql(copy, "CREATE TRIGGER t AFTER INSERT ON registry_entries BEGIN SELECT 1; END");
        recompute_sidecar(copy);
        ck_assert_int_eq(capv_registry_backup_verify(NULL, copy, &err), CAPV_E_MISMATCH);
        ck_assert_ptr_nonnull(strstr(err.message, "trigger 't'"));
        capv_backup_info_free(b);
    }
}
END_TEST

/* Foreign keys that point nowhere and entries whose signatures no longer verify. */
START_TEST(foreign_keys_and_signatures)
{
    char live[PATH_CAP], bdir[PATH_CAP], target[PATH_CAP], copy[PATH_CAP];
    capv_signing_key *key = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&key, NULL), CAPV_OK);
    make_registry(in_dir(live, "live.sqlite"), 5, key);
    capv_backup_info *b = backup_of(live, in_dir(bdir, "bk"), NULL);
    make_registry(in_dir(target, "target.sqlite"), 3, NULL);
    uint8_t before[64], after[64];
    db_digest(before, target);
    capv_error err = CAPV_ERROR_INIT;

    copy_backup(copy, b, "fk");
    exec_sql(copy, "PRAGMA foreign_keys = OFF; UPDATE verifications SET entry_seq = 999 WHERE "
                   "seq = 2");
    recompute_sidecar(copy);
    ck_assert_int_eq(capv_registry_backup_verify(NULL, copy, &err), CAPV_E_MALFORMED);
    ck_assert_msg(strstr(err.message, "foreign key violation: row 2 of table 'verifications'") !=
                      NULL,
                  "%s", err.message);
    ck_assert_int_eq(capv_registry_restore(NULL, target, copy, 0, NULL, NULL, &err),
                     CAPV_E_MALFORMED);
    db_digest(after, target);
    ck_assert_mem_eq(before, after, 64);

    copy_backup(copy, b, "sig");
    exec_sql(copy, "UPDATE entries SET registered_at = '2020-01-01T00:00:00Z' WHERE seq = 3");
    recompute_sidecar(copy);
    ck_assert_int_eq(capv_registry_backup_verify(NULL, copy, &err), CAPV_E_SIGNATURE);
    ck_assert_msg(strstr(err.message, "does not verify") != NULL, "%s", err.message);
    ck_assert_int_eq(capv_registry_restore(NULL, target, copy, 0, NULL, NULL, &err),
                     CAPV_E_SIGNATURE);
    db_digest(after, target);
    ck_assert_mem_eq(before, after, 64);

    /* the check counts foreign keys that point nowhere */
    char checked[PATH_CAP];
    copy_file(live, in_dir(checked, "checked.sqlite"));
    exec_sql(checked, "PRAGMA foreign_keys = OFF; UPDATE verifications SET entry_seq = 999 "
                      "WHERE seq IN (1, 4)");
    capv_registry *reg = tu_registry_open(checked, CAPV_REGISTRY_READ_ONLY);
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    seen s = { 0 };
    ck_assert_int_eq(capv_registry_check(&r, reg, NULL, on_problem, &s, NULL, NULL, &err), CAPV_OK);
    ck_assert_uint_eq(r.foreign_key_violations, 2);
    ck_assert_uint_eq(r.schema_differences, 0);
    ck_assert_uint_eq(r.problems, 2);
    ck_assert_int_eq(s.code, CAPV_E_MALFORMED);
    /* a version 2 result is filled no further than its end */
    union {
        capv_registry_check_result r;
        unsigned char bytes[sizeof(capv_registry_check_result) + 32];
    } box;
    memset(&box, 0xA5, sizeof box);
    box.r.version = 2;
    ck_assert_int_eq(capv_registry_check(&box.r, reg, NULL, NULL, NULL, NULL, NULL, &err), CAPV_OK);
    ck_assert_uint_eq(box.r.problems, 2);
    for (size_t i = offsetof(capv_registry_check_result, schema_differences); i < sizeof box.bytes;
         i++)
        ck_assert_msg(box.bytes[i] == 0xA5, "byte %zu past a version 2 result was written", i);
    capv_registry_close(reg);
    capv_backup_info_free(b);
    capv_signing_key_free(key);
}
END_TEST

/* ---- signed sidecars ------------------------------------------------------------------- */

#define SIG_CONTEXT "capverify-backup-sidecar.v1"

/* Checks a signed sidecar by docs/registry.md alone: Ed25519 by its public_key over
 * SIG_CONTEXT, a NUL byte and the compat canonical JSON of the sidecar without "signature". */
static void check_signed_bytes(const char *sidecar, const char *want_kid)
{
    size_t len = 0;
    uint8_t *text = read_all(sidecar, &len);
    cJSON *root = cJSON_Parse((const char *)text);
    ck_assert_ptr_nonnull(root);
    cJSON *sig = cJSON_DetachItemFromObjectCaseSensitive(root, "signature");
    ck_assert_ptr_nonnull(sig);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(sig, "alg")->valuestring, "ed25519");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(sig, "kid")->valuestring, want_kid);
    const char *pub_b64 = cJSON_GetObjectItemCaseSensitive(sig, "public_key")->valuestring;
    const char *val_b64 = cJSON_GetObjectItemCaseSensitive(sig, "value")->valuestring;
    uint8_t pub[32], value[64];
    size_t n = 0;
    ck_assert_int_eq(
        capv_base64_decode(pub, sizeof pub, &n, pub_b64, strlen(pub_b64), CAPV_BASE64_STD, NULL),
        CAPV_OK);
    ck_assert_uint_eq(n, 32);
    ck_assert_int_eq(capv_base64_decode(value, sizeof value, &n, val_b64, strlen(val_b64),
                                        CAPV_BASE64_STD, NULL),
                     CAPV_OK);
    ck_assert_uint_eq(n, 64);
    char kid[CAPV_KID_SIZE];
    ck_assert_int_eq(capv_key_id(kid, pub, NULL), CAPV_OK);
    ck_assert_str_eq(kid, want_kid);
    char *unsigned_text = cJSON_PrintUnformatted(root);
    uint8_t *canon = NULL;
    size_t clen = 0;
    ck_assert_int_eq(capv_json_canonical(&canon, &clen, (const uint8_t *)unsigned_text,
                                         strlen(unsigned_text), 0, NULL),
                     CAPV_OK);
    size_t mlen = sizeof SIG_CONTEXT + clen;
    uint8_t *msg = malloc(mlen);
    ck_assert_ptr_nonnull(msg);
    memcpy(msg, SIG_CONTEXT, sizeof SIG_CONTEXT); /* with its NUL */
    memcpy(msg + sizeof SIG_CONTEXT, canon, clen);
    ck_assert_int_eq(capv_ed25519_verify(pub, value, msg, mlen, NULL), CAPV_OK);
    msg[0] ^= 1; /* and the context is part of it */
    ck_assert_int_eq(capv_ed25519_verify(pub, value, msg, mlen, NULL), CAPV_E_SIGNATURE);
    free(msg);
    capv_free(canon);
    free(unsigned_text);
    cJSON_Delete(sig);
    cJSON_Delete(root);
    free(text);
}

/* Replaces the first `from` in a file by `to`. */
static void edit_file(const char *path, const char *from, const char *to)
{
    size_t len = 0;
    char *text = (char *)read_all(path, &len);
    char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "'%s' not in %s", from, path);
    size_t out_len = len - strlen(from) + strlen(to);
    char *out = malloc(out_len + 1);
    ck_assert_ptr_nonnull(out);
    size_t head = (size_t)(at - text);
    memcpy(out, text, head);
    memcpy(out + head, to, strlen(to));
    memcpy(out + head + strlen(to), at + strlen(from), len - head - strlen(from));
    write_all(path, out, out_len);
    free(out);
    free(text);
}

static capv_status verify_with(capv_backup_info **out, const char *path, unsigned int flags,
                               const capv_trust_store *trust, capv_error *err)
{
    capv_restore_options o = CAPV_RESTORE_OPTIONS_INIT;
    o.flags = flags;
    o.trust = trust;
    return capv_registry_backup_verify_with(out, path, &o, err);
}

START_TEST(signed_backups)
{
    char live[PATH_CAP], bdir[PATH_CAP], target[PATH_CAP], copy[PATH_CAP], side[PATH_CAP];
    capv_signing_key *ours = NULL, *foreign = NULL;
    ck_assert_int_eq(capv_signing_key_generate(&ours, NULL), CAPV_OK);
    ck_assert_int_eq(capv_signing_key_generate(&foreign, NULL), CAPV_OK);
    uint8_t pub[32], fpub[32];
    char kid[CAPV_KID_SIZE], fkid[CAPV_KID_SIZE];
    capv_signing_key_public(pub, ours);
    capv_signing_key_public(fpub, foreign);
    ck_assert_int_eq(capv_key_id(kid, pub, NULL), CAPV_OK);
    ck_assert_int_eq(capv_key_id(fkid, fpub, NULL), CAPV_OK);
    capv_trust_store *trust = NULL;
    ck_assert_int_eq(capv_trust_store_new(&trust, NULL), CAPV_OK);
    ck_assert_int_eq(capv_trust_store_add(trust, pub, "backups", NULL), CAPV_OK);
    make_registry(in_dir(live, "live.sqlite"), 4, NULL);
    in_dir(bdir, "bk");
    capv_error err = CAPV_ERROR_INIT;

    /* signed: the sidecar says by whom, and the documented bytes verify */
    capv_backup_info *sb = backup_of(live, bdir, ours);
    ck_assert_uint_eq(sb->version, CAPV_BACKUP_INFO_VERSION);
    ck_assert_str_eq(sb->signer_kid, kid);
    check_signed_bytes(sb->sidecar_path, kid);
    capv_backup_info *v = NULL;
    ck_assert_msg(verify_with(&v, sb->path, CAPV_RESTORE_REQUIRE_SIGNED, trust, &err) == CAPV_OK,
                  "%s", err.message);
    ck_assert_str_eq(v->signer_kid, kid);
    capv_backup_info_free(v);
    ck_assert_int_eq(capv_registry_backup_verify(NULL, sb->path, &err), CAPV_OK);
    capv_backup_list *l = NULL;
    ck_assert_int_eq(capv_registry_backup_list(&l, bdir, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_backup_list_count(l), 1);
    ck_assert_str_eq(capv_backup_list_get(l, 0)->signer_kid, kid);
    capv_backup_list_free(l);

    /* unsigned: fine unless signed backups are required */
    capv_backup_info *ub = backup_of(live, bdir, NULL);
    ck_assert_ptr_null(ub->signer_kid);
    ck_assert_int_eq(verify_with(NULL, ub->path, 0, trust, &err), CAPV_OK);
    ck_assert_int_eq(verify_with(NULL, ub->path, CAPV_RESTORE_REQUIRE_SIGNED, trust, &err),
                     CAPV_E_UNTRUSTED);
    ck_assert_ptr_nonnull(strstr(err.message, "is not signed"));
    ck_assert_int_eq(verify_with(NULL, ub->path, CAPV_RESTORE_REQUIRE_SIGNED, NULL, &err),
                     CAPV_E_INVALID_ARG);

    /* signed by a key the trust store does not hold: a foreign backup */
    capv_backup_info *fb = backup_of(live, bdir, foreign);
    ck_assert_int_eq(capv_registry_backup_verify(NULL, fb->path, &err), CAPV_OK);
    ck_assert_int_eq(verify_with(NULL, fb->path, CAPV_RESTORE_REQUIRE_SIGNED, trust, &err),
                     CAPV_E_UNTRUSTED);
    ck_assert_msg(strstr(err.message, fkid) != NULL, "%s", err.message);
    ck_assert_int_eq(verify_with(NULL, fb->path, 0, trust, &err), CAPV_E_UNTRUSTED);

    /* altered after signing: any field, also without a trust store */
    copy_backup(copy, sb, "altered");
    edit_file(side_of(side, copy), "libcapverify", "libcapverifx");
    ck_assert_int_eq(capv_registry_backup_verify(NULL, copy, &err), CAPV_E_SIGNATURE);
    ck_assert_ptr_nonnull(strstr(err.message, "changed after it was signed"));
    ck_assert_int_eq(verify_with(NULL, copy, CAPV_RESTORE_REQUIRE_SIGNED, trust, &err),
                     CAPV_E_SIGNATURE);
    /* a database changed and its sidecar recomputed: the signature no longer fits */
    copy_backup(copy, sb, "resigned");
    exec_sql(copy, "DELETE FROM verifications WHERE seq = 1");
    recompute_sidecar(copy);
    ck_assert_int_eq(verify_with(NULL, copy, CAPV_RESTORE_REQUIRE_SIGNED, trust, &err),
                     CAPV_E_SIGNATURE);
    /* the signature taken off: an unsigned backup, refused when signed ones are required */
    copy_backup(copy, sb, "stripped");
    size_t len = 0;
    char *text = (char *)read_all(side_of(side, copy), &len);
    cJSON *root = cJSON_Parse(text);
    cJSON_DeleteItemFromObjectCaseSensitive(root, "signature");
    char *out = cJSON_Print(root);
    write_all(side, out, strlen(out));
    free(out);
    cJSON_Delete(root);
    free(text);
    ck_assert_int_eq(verify_with(NULL, copy, CAPV_RESTORE_REQUIRE_SIGNED, trust, &err),
                     CAPV_E_UNTRUSTED);
    /* a kid that does not name the public key */
    copy_backup(copy, sb, "kid");
    edit_file(side_of(side, copy), kid, fkid);
    ck_assert_int_eq(capv_registry_backup_verify(NULL, copy, &err), CAPV_E_MALFORMED);

    /* a revoked key is refused even though it is in the store */
    char *cap_key = NULL;
    char keydir[PATH_CAP], keyfile[PATH_CAP];
    ck_assert_int_eq(
        capv_signing_key_cap_key_json(&cap_key, ours, "backups", 0, INT64_MIN, INT64_MAX, NULL),
        CAPV_OK);
    ck_assert_int_eq(mkdir(in_dir(keydir, "keys"), 0700), 0);
    ck_assert(snprintf(keyfile, sizeof keyfile, "%s/backups.json", keydir) < PATH_CAP);
    write_all(keyfile, cap_key, strlen(cap_key));
    edit_file(keyfile, "\"active\"", "\"revoked\"");
    capv_trust_store *revoked = NULL;
    ck_assert_int_eq(capv_trust_store_load(&revoked, keydir, NULL), CAPV_OK);
    ck_assert_int_eq(verify_with(NULL, sb->path, CAPV_RESTORE_REQUIRE_SIGNED, revoked, &err),
                     CAPV_E_REVOKED);
    capv_trust_store_free(revoked);
    capv_free(cap_key);

    /* restore: the same rules, the target untouched when refused */
    make_registry(in_dir(target, "target.sqlite"), 2, NULL);
    uint8_t before[64], after[64];
    db_digest(before, target);
    capv_restore_options ro = CAPV_RESTORE_OPTIONS_INIT;
    ro.flags = CAPV_RESTORE_REQUIRE_SIGNED;
    ro.trust = trust;
    ck_assert_int_eq(capv_registry_restore_with(NULL, target, ub->path, &ro, &err),
                     CAPV_E_UNTRUSTED);
    ck_assert_int_eq(capv_registry_restore_with(NULL, target, fb->path, &ro, &err),
                     CAPV_E_UNTRUSTED);
    db_digest(after, target);
    ck_assert_mem_eq(before, after, 64);
    char *previous = NULL;
    ck_assert_msg(capv_registry_restore_with(&previous, target, sb->path, &ro, &err) == CAPV_OK,
                  "%s", err.message);
    ck_assert_ptr_nonnull(previous);
    capv_free(previous);
    capv_registry *reg = tu_registry_open(target, CAPV_REGISTRY_READ_ONLY);
    uint64_t n = 0;
    ck_assert_int_eq(capv_registry_count(&n, reg, CAPV_REGISTRY_ENTRIES, NULL), CAPV_OK);
    ck_assert_uint_eq(n, 4);
    capv_registry_close(reg);

    /* option structs: version 0 and newer ones are refused */
    const unsigned int bad[] = { 0, CAPV_RESTORE_OPTIONS_VERSION + 1 };
    for (size_t i = 0; i < 2; i++) {
        ro.version = bad[i];
        ck_assert_int_eq(capv_registry_restore_with(NULL, target, sb->path, &ro, &err),
                         CAPV_E_INVALID_ARG);
        ck_assert_str_eq(err.field, "version");
        ck_assert_int_eq(capv_registry_backup_verify_with(NULL, sb->path, &ro, &err),
                         CAPV_E_INVALID_ARG);
        capv_backup_options bo = CAPV_BACKUP_OPTIONS_INIT;
        bo.version = i == 0 ? 0u : CAPV_BACKUP_OPTIONS_VERSION + 1;
        reg = tu_registry_open(live, CAPV_REGISTRY_READ_ONLY);
        ck_assert_int_eq(capv_registry_backup_with(NULL, reg, bdir, &bo, &err), CAPV_E_INVALID_ARG);
        capv_registry_close(reg);
    }
    capv_backup_info_free(sb);
    capv_backup_info_free(ub);
    capv_backup_info_free(fb);
    capv_trust_store_free(trust);
    capv_signing_key_free(ours);
    capv_signing_key_free(foreign);
}
END_TEST

/* ---- the writer lock is the file's, whatever names it ---------------------------------- */

/* The POSIX read lock a SQLite reader holds on the database file in WAL mode (its SHARED
 * bytes): whether process `owner` holds one there, as another process sees it. */
static bool holds_sqlite_shared_lock(const char *path, pid_t owner)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(path, O_RDWR);
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = 0x40000002;
        fl.l_len = 510;
        if (fd < 0 || fcntl(fd, F_GETLK, &fl) != 0)
            _exit(2);
        _exit(fl.l_type == F_RDLCK && fl.l_pid == owner ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 2);
    return WEXITSTATUS(status) == 0;
}

/* In another process: the status of a read-write open of `path` (CAPV_OK, CAPV_E_BUSY,
 * CAPV_E_STATE; anything else is CAPV_E_INTERNAL). */
static capv_status open_in_child(const char *path)
{
    static const capv_status known[] = { CAPV_OK, CAPV_E_BUSY, CAPV_E_STATE };
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        capv_status st = open_status(path, 0, NULL);
        for (int i = 0; i < 3; i++)
            if (st == known[i])
                _exit(i);
        _exit(3);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status) < 3 ? known[WEXITSTATUS(status)] : CAPV_E_INTERNAL;
}

START_TEST(lock_aliases)
{
    char path[PATH_CAP], sym[PATH_CAP], hard[PATH_CAP], sub[PATH_CAP], hard2[PATH_CAP];
    char bdir[PATH_CAP], lockfile[PATH_CAP + 8];
    make_registry(in_dir(path, "r.sqlite"), 3, NULL);
    capv_backup_info *b = backup_of(path, in_dir(bdir, "bk"), NULL);
    ck_assert_int_eq(symlink(path, in_dir(sym, "link.sqlite")), 0);
    /* the writer first, then the other names appear */
    capv_registry *w = tu_registry_open(path, 0);
    ck_assert_int_eq(link(path, in_dir(hard, "hard.sqlite")), 0);
    ck_assert_int_eq(mkdir(in_dir(sub, "elsewhere"), 0755), 0);
    ck_assert_int_eq(link(path, in_dir(hard2, "elsewhere/other-name.sqlite")), 0);
    capv_error err = CAPV_ERROR_INIT;
    const char *aliases[] = { path, sym, hard, hard2 };
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(open_status(aliases[i], 0, &err), CAPV_E_BUSY);
        ck_assert_msg(strstr(err.message, "held by another writer") != NULL, "%s", err.message);
        /* another process, through the same name */
        ck_assert_int_eq(open_in_child(aliases[i]), CAPV_E_BUSY);
        /* a restore through it */
        ck_assert_int_eq(capv_registry_restore(NULL, aliases[i], b->path, 0, NULL, NULL, &err),
                         CAPV_E_BUSY);
    }
    /* a reader through the symbolic link shares the writer's WAL (SQLite resolves the link) */
    ck_assert_int_eq(open_status(sym, CAPV_REGISTRY_READ_ONLY, &err), CAPV_OK);
    ck_assert_int_eq(open_status(sym, 0, &err), CAPV_E_BUSY);
    ck_assert_msg(strstr(err.message, "(the file '") != NULL, "%s", err.message);
    /* no lock file beside any name */
    snprintf(lockfile, sizeof lockfile, "%s.lock", path);
    ck_assert_int_eq(access(lockfile, F_OK), -1);
    capv_registry_close(w);

    /* held through the symbolic link (taken while there was one name): the real name and
     * a hard link made afterwards are refused */
    ck_assert_int_eq(unlink(hard), 0);
    ck_assert_int_eq(unlink(hard2), 0);
    w = tu_registry_open(sym, 0);
    ck_assert_int_eq(link(path, hard), 0);
    ck_assert_int_eq(link(path, hard2), 0);
    ck_assert_int_eq(open_status(path, 0, &err), CAPV_E_BUSY);
    ck_assert_int_eq(open_in_child(hard), CAPV_E_BUSY);
    capv_registry_close(w);
    /* with no writer, a file with several names is still refused to writers (each name
     * would get a WAL of its own); one name left, it opens */
    ck_assert_int_eq(open_in_child(hard), CAPV_E_STATE);
    ck_assert_int_eq(open_status(path, 0, &err), CAPV_E_STATE);
    ck_assert_msg(strstr(err.message, "has 3 hard links") != NULL, "%s", err.message);
    ck_assert_int_eq(unlink(hard2), 0);
    ck_assert_int_eq(unlink(hard), 0);
    ck_assert_int_eq(open_in_child(sym), CAPV_OK);
    ck_assert_int_eq(link(path, hard), 0);

    /* SQLite's own locks survive the writer lock's descriptor: a reader of this process keeps
     * its shared lock when a writer of the same file closes, or is refused */
    capv_registry *r = tu_registry_open(path, CAPV_REGISTRY_READ_ONLY);
    uint64_t n = 0;
    ck_assert_int_eq(capv_registry_count(&n, r, CAPV_REGISTRY_ENTRIES, NULL), CAPV_OK);
    ck_assert(holds_sqlite_shared_lock(path, getpid()));
    ck_assert_int_eq(unlink(hard), 0);
    w = tu_registry_open(sym, 0);
    ck_assert_int_eq(open_status(path, 0, &err), CAPV_E_BUSY);
    capv_registry_close(w);
    ck_assert(holds_sqlite_shared_lock(path, getpid()));
    ck_assert_int_eq(open_status(path, 0, &err), CAPV_OK); /* the lock went with the writer */
    ck_assert(holds_sqlite_shared_lock(path, getpid()));
    ck_assert_int_eq(link(path, hard), 0);
    capv_registry_close(r);
    ck_assert(!holds_sqlite_shared_lock(path, getpid()));

    /* the internal lock: the same inode through two names, and a pin */
    capv_reg_lock *l1 = NULL, *l2 = NULL, *pin = NULL;
    ck_assert_int_eq(capvi_reg_lock(&l1, hard, false, &err), CAPV_OK);
    ck_assert_int_eq(capvi_reg_lock(&l2, sym, false, &err), CAPV_E_BUSY);
    ck_assert_ptr_null(l2);
    ck_assert_int_eq(capvi_reg_pin(&pin, sym, &err), CAPV_OK);
    capvi_reg_unlock(l1);
    ck_assert_int_eq(capvi_reg_lock(&l2, sym, false, &err), CAPV_OK);
    capvi_reg_unlock(l2);
    capvi_reg_unlock(pin);
    ck_assert_int_eq(capvi_reg_lock(&l1, in_dir(lockfile, "none.sqlite"), false, &err),
                     CAPV_E_NOT_FOUND);

    /* a restore through the symbolic link restores the file it names; the link stays */
    char *previous = NULL;
    ck_assert_msg(capv_registry_restore(&previous, sym, b->path, 0, NULL, NULL, &err) == CAPV_OK,
                  "%s", err.message);
    struct stat st;
    ck_assert_int_eq(lstat(sym, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_ptr_nonnull(strstr(previous, "/r.sqlite.pre-restore-"));
    capv_free(previous);
    capv_backup_info_free(b);
}
END_TEST

/* ---- temporary files: nothing planted is opened or followed ---------------------------- */

/* A file with known content and its digest. */
static void victim(char path[PATH_CAP], uint8_t d[32], const char *name)
{
    in_dir(path, name);
    write_all(path, "precious, not a registry\n", 25);
    file_digest(d, path);
}

START_TEST(temp_exclusive)
{
    char vpath[PATH_CAP], name[PATH_CAP], tmp[PATH_MAX];
    uint8_t vd[32], now[32];
    victim(vpath, vd, "victim");
    capv_error err = CAPV_ERROR_INIT;
    int fd = -1;
    /* whatever is at the name: refused, nothing opened, followed or created */
    ck_assert_int_eq(symlink(vpath, in_dir(name, "link")), 0);
    ck_assert_int_eq(capvi_temp_open(&fd, name, 0600, &err), CAPV_E_EXISTS);
    ck_assert_int_eq(fd, -1);
    char dangling_target[PATH_CAP];
    in_dir(dangling_target, "would-be-created");
    ck_assert_int_eq(symlink(dangling_target, in_dir(name, "dangling")), 0);
    ck_assert_int_eq(capvi_temp_open(&fd, name, 0600, &err), CAPV_E_EXISTS);
    ck_assert_int_eq(access(dangling_target, F_OK), -1);
    ck_assert_int_eq(mkfifo(in_dir(name, "fifo"), 0600), 0);
    ck_assert_int_eq(capvi_temp_open(&fd, name, 0600, &err), CAPV_E_EXISTS);
    ck_assert_int_eq(capvi_temp_open(&fd, vpath, 0600, &err), CAPV_E_EXISTS);
    file_digest(now, vpath);
    ck_assert_mem_eq(vd, now, 32);
    /* a free name: a new, empty regular file */
    ck_assert_int_eq(capvi_temp_open(&fd, in_dir(name, "fresh"), 0600, &err), CAPV_OK);
    ck_assert(capvi_temp_is(fd, name));
    ck_assert(!capvi_temp_is(fd, vpath));
    close(fd);
    /* random names: 24 hex digits after the prefix, never the same twice */
    char first[PATH_MAX] = "";
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(capvi_temp_create(&fd, tmp, dir, ".x.tmp.1.", 0600, &err), CAPV_OK);
        const char *suffix = strrchr(tmp, '.') + 1;
        ck_assert_uint_eq(strlen(suffix), 24);
        ck_assert_uint_eq(strspn(suffix, "0123456789abcdef"), 24);
        ck_assert_str_ne(tmp, first);
        snprintf(first, sizeof first, "%s", tmp);
        struct stat st;
        ck_assert_int_eq(fstat(fd, &st), 0);
        ck_assert_int_eq(st.st_size, 0);
        ck_assert_int_eq(st.st_mode & 0777, 0600);
        close(fd);
    }
}
END_TEST

/* A pid no process has: a child that has exited and been reaped. */
static pid_t dead_pid(void)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    return pid;
}

START_TEST(planted_links_never_followed)
{
    char live[PATH_CAP], bdir[PATH_CAP], name[PATH_CAP + 128], vpath[PATH_CAP], target[PATH_CAP];
    uint8_t vd[32], now[32];
    int64_t clock_ms = INT64_C(1767225600000); /* 2026-01-01T00:00:00Z */
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE;
    o.clock = fixed_clock;
    o.clock_user = &clock_ms;
    capv_registry *reg = NULL;
    ck_assert_int_eq(capv_registry_open(&reg, in_dir(live, "live.sqlite"), &o, NULL), CAPV_OK);
    fill(reg, 0, 5);
    victim(vpath, vd, "victim");
    in_dir(bdir, "bk");
    ck_assert_int_eq(mkdir(bdir, 0750), 0);
    /* every name the backup, its sidecar, a verification and a restore used to write
     * through, planted as links to the victim */
    long pid = (long)getpid();
    make_registry(in_dir(target, "target.sqlite"), 1, NULL);
    const char *const planted[][2] = {
        { "/.registry-20260101T000000Z.sqlite.tmp.", "" },
        { "/.registry-20260101T000000Z.json.tmp.", "" },
        { "/registry-20260101T000000Z.json.tmp.", "" },
        { "/.verify-", ".tmp" },
        { "/.restore-", ".tmp" },
    };
    for (size_t i = 0; i < sizeof planted / sizeof planted[0]; i++) {
        snprintf(name, sizeof name, "%s%s%ld%s", bdir, planted[i][0], pid, planted[i][1]);
        ck_assert_int_eq(symlink(vpath, name), 0);
    }
    snprintf(name, sizeof name, "%s.restore-tmp.%ld", target, pid);
    ck_assert_int_eq(symlink(vpath, name), 0);
    /* and a stale temporary of a dead process in the new format: a regular file is removed,
     * a link of that name is left alone (and never followed) */
    char stale_file[PATH_CAP + 128], stale_link[PATH_CAP + 128];
    snprintf(stale_file, sizeof stale_file,
             "%s/.registry-20250101T000000Z.sqlite.tmp.%ld.0123456789abcdef01234567", bdir,
             (long)dead_pid());
    write_all(stale_file, "x", 1);
    snprintf(stale_link, sizeof stale_link,
             "%s/.registry-20250102T000000Z.sqlite.tmp.%ld.0123456789abcdef01234567", bdir,
             (long)dead_pid());
    ck_assert_int_eq(symlink(vpath, stale_link), 0);

    capv_backup_info *b = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_backup(&b, reg, bdir, 0, NULL, NULL, &err) == CAPV_OK, "%s",
                  err.message);
    capv_registry_close(reg);
    ck_assert_int_eq(capv_registry_backup_verify(NULL, b->path, &err), CAPV_OK);
    ck_assert_msg(capv_registry_restore(NULL, target, b->path, 0, NULL, NULL, &err) == CAPV_OK,
                  "%s", err.message);
    file_digest(now, vpath);
    ck_assert_mem_eq(vd, now, 32);
    struct stat st;
    ck_assert_int_eq(lstat(b->path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(lstat(b->sidecar_path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(access(stale_file, F_OK), -1);
    ck_assert_int_eq(lstat(stale_link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));

    /* a link at the next backup's name (its sidecar made valid for the file it names): the
     * backup takes another name, and the listing never counts the link */
    char real_copy[PATH_CAP], side[PATH_CAP];
    in_dir(real_copy, "elsewhere.sqlite");
    copy_file(b->path, real_copy);
    snprintf(name, sizeof name, "%s/registry-20260101T000000Z-1.sqlite", bdir);
    ck_assert_int_eq(symlink(real_copy, name), 0);
    copy_file(b->sidecar_path, side_of(side, name)); /* a valid sidecar for what it names */
    capv_backup_list *l = NULL;
    ck_assert_int_eq(capv_registry_backup_list(&l, bdir, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_backup_list_count(l), 1);
    ck_assert_str_eq(capv_backup_list_get(l, 0)->path, b->path);
    capv_backup_list_free(l);
    /* verify and restore take no link either */
    ck_assert_int_eq(capv_registry_backup_verify(NULL, name, &err), CAPV_E_IO);
    ck_assert_ptr_nonnull(strstr(err.message, "symbolic link"));
    uint8_t before[64], after[64];
    db_digest(before, target);
    ck_assert_int_eq(capv_registry_restore(NULL, target, name, 0, NULL, NULL, &err), CAPV_E_IO);
    db_digest(after, target);
    ck_assert_mem_eq(before, after, 64);
    /* nor a sidecar that is a link */
    char linked[PATH_CAP];
    copy_backup(linked, b, "linked-sidecar");
    ck_assert_int_eq(unlink(side_of(side, linked)), 0);
    ck_assert_int_eq(symlink(b->sidecar_path, side), 0);
    ck_assert_int_eq(capv_registry_backup_verify(NULL, linked, &err), CAPV_E_IO);
    /* a FIFO and a directory with backup names and sidecars are no backups (and no hang) */
    snprintf(name, sizeof name, "%s/registry-20260101T000001Z.sqlite", bdir);
    ck_assert_int_eq(mkfifo(name, 0600), 0);
    copy_file(b->sidecar_path, side_of(side, name));
    snprintf(name, sizeof name, "%s/registry-20260101T000002Z.sqlite", bdir);
    ck_assert_int_eq(mkdir(name, 0700), 0);
    copy_file(b->sidecar_path, side_of(side, name));
    ck_assert_int_eq(capv_registry_backup_list(&l, bdir, NULL), CAPV_OK);
    ck_assert_uint_eq(capv_backup_list_count(l), 1);
    capv_backup_list_free(l);
    snprintf(name, sizeof name, "%s/registry-20260101T000001Z.sqlite", bdir);
    ck_assert_int_eq(capv_registry_backup_verify(NULL, name, &err), CAPV_E_IO);
    /* retention removes only what it listed */
    size_t removed = 0;
    ck_assert_int_eq(capv_registry_backup_prune(&removed, bdir, 1, NULL), CAPV_OK);
    ck_assert_uint_eq(removed, 0);
    ck_assert_int_eq(access(real_copy, F_OK), 0);
    file_digest(now, vpath);
    ck_assert_mem_eq(vd, now, 32);
    capv_backup_info_free(b);
}
END_TEST

/* ---- a restore that fails after the rename -------------------------------------------- */

/* Every fsync of this process, the library's included (the test program's definition takes
 * the place of libc's, as clock_gettime's does in testutil.c): while armed, that of the
 * directory `fail_dev`/`fail_ino` fails with EIO, as on a failing disk. */
static atomic_bool dir_fsync_fails;
static dev_t fail_dev;
static ino_t fail_ino;

__attribute__((visibility("default"))) int fsync(int fd)
{
    struct stat sb;
    if (atomic_load(&dir_fsync_fails) && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode) &&
        sb.st_dev == fail_dev && sb.st_ino == fail_ino) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fsync, fd);
}

static int64_t entries_in(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM entries", -1, &q, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

/* docs/registry.md "Restore": the directory's fsync fails once the restored file has taken
 * the database's name. The restore fails, and `*previous` names where the old database is
 * kept, so that the caller does not say "not changed" (until 2026-12-07 it stayed NULL). */
START_TEST(restore_fails_after_the_rename)
{
    char live[PATH_CAP], other[PATH_CAP], bdir[PATH_CAP];
    make_registry(in_dir(live, "live.sqlite"), 3, NULL);
    make_registry(in_dir(other, "other.sqlite"), 7, NULL);
    capv_backup_info *b = backup_of(other, in_dir(bdir, "backups"), NULL);
    struct stat sb;
    ck_assert_int_eq(stat(dir, &sb), 0);
    fail_dev = sb.st_dev;
    fail_ino = sb.st_ino;
    capv_error err = CAPV_ERROR_INIT;
    char *previous = NULL;
    atomic_store(&dir_fsync_fails, true);
    capv_status st = capv_registry_restore(&previous, live, b->path, 0, NULL, NULL, &err);
    atomic_store(&dir_fsync_fails, false);
    ck_assert_int_eq(st, CAPV_E_IO);
    ck_assert_msg(strstr(err.message, "fsync of directory") != NULL, "%s", err.message);
    ck_assert_msg(previous != NULL, "no previous after a failure past the rename");
    ck_assert_ptr_nonnull(strstr(previous, "/live.sqlite.pre-restore-"));
    ck_assert_int_eq(entries_in(live), 7);     /* the restored database */
    ck_assert_int_eq(entries_in(previous), 3); /* the old one, kept */
    capv_free(previous);
    /* a failure before anything moved: NULL, the database as it was */
    previous = (char *)"unchanged";
    ck_assert_int_eq(
        capv_registry_restore(&previous, live, in_dir(other, "none.sqlite"), 0, NULL, NULL, &err),
        CAPV_E_NOT_FOUND);
    ck_assert_ptr_null(previous);
    ck_assert_int_eq(entries_in(live), 7);
    capv_backup_info_free(b);
}
END_TEST

Suite *registry_backup_suite(void)
{
    Suite *s = suite_create("registry_backup");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, schema_tampered);
    tcase_add_test(tc, schema_legacy_layouts);
    tcase_add_test(tc, foreign_keys_and_signatures);
    tcase_add_test(tc, signed_backups);
    tcase_add_test(tc, lock_aliases);
    tcase_add_test(tc, temp_exclusive);
    tcase_add_test(tc, planted_links_never_followed);
    tcase_add_test(tc, restore_fails_after_the_rename);
    suite_add_tcase(s, tc);
    return s;
}
