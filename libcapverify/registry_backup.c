/* SPDX-License-Identifier: Apache-2.0 */
/* Backup, restore and check of the SQLite registry (docs/registry.md, "Backup", "Restore",
 * "Check").
 *
 * Backup: the SQLite online backup API copies one snapshot (a read transaction held on a
 * read-only connection for the whole copy, so concurrent commits by the writer neither
 * restart nor leak into it) into a hidden temporary file, which is switched to a rollback
 * journal (a single self-contained file), counted, fsynced, hashed and renamed; the sidecar
 * follows the same way, last. A backup is complete exactly when its sidecar exists.
 *
 * Restore: the backup is copied next to the database while being hashed (the bytes checked
 * are the bytes used), checked (size, SHA3-256, integrity_check, schema version, counts),
 * migrated if older, and only then swapped in under the writer lock; the old database and its
 * WAL are kept as "<db>.pre-restore-<ts>". Any failure before the swap leaves the database as
 * it was. A restore into PostgreSQL checks the backup the same way, then replaces the
 * registry's rows with the copy's in one transaction (registry_copy.c); nothing keeps the old
 * ones. */
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
#include "registry_copy_int.h"
#include "registry_entry_int.h"
#include "registry_pg_int.h"
#include "registry_pgb_int.h"
#include "registry_schema_int.h"
#include "time_int.h"

#define SIDECAR_MAX (64u * 1024u)
#define BACKUP_STEP_PAGES 1024
#define COPY_CHUNK (1u << 20)

/* ---- small file helpers ---------------------------------------------------------------- */

static capv_status fsync_path(const char *path, bool dir, capv_error *err)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return capvi_err_set(err, CAPV_E_IO, path, "cannot open '%s': %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return capvi_err_set(err, CAPV_E_IO, path, "fsync '%s': %s", path, strerror(e));
    return CAPV_OK;
}

static void dir_of(char out[PATH_MAX], const char *path)
{
    capvi_reg_dir_of(out, path);
}

static bool path_exists(const char *p)
{
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static capv_status write_all(int fd, const uint8_t *p, size_t n, const char *path, capv_error *err)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return capvi_err_set(err, CAPV_E_IO, path, "cannot write '%s': %s", path,
                                 strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return CAPV_OK;
}

/* Writes `data` to `path` through "<path>.tmp.<pid>": write, fsync, rename, fsync dir. */
static capv_status write_file_atomic(const char *path, const uint8_t *data, size_t len,
                                     capv_error *err)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return capvi_err_set(err, CAPV_E_IO, tmp, "cannot create '%s': %s", tmp, strerror(errno));
    capv_status st = write_all(fd, data, len, tmp, err);
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
    dir_of(dir, path);
    return fsync_path(dir, true, err);
}

/* SHA3-256 and size of a file; with `copy_to`, also copies it there (O_EXCL, fsynced). */
static capv_status hash_file(uint8_t digest[32], uint64_t *size, const char *path,
                             const char *copy_to, capv_progress_fn progress, void *user,
                             capv_error *err)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, path,
                             "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    int out = -1;
    capv_hash_ctx *h = NULL;
    uint8_t *buf = malloc(COPY_CHUNK);
    capv_status st = CAPV_OK;
    uint64_t total = 0;
    if (buf == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode))
        CAPV_FAIL(err, CAPV_E_IO, path, "'%s' is not a regular file", path);
    CAPV_TRY(capv_hash_ctx_new(&h, CAPV_HASH_SHA3_256, err));
    if (copy_to != NULL && (out = open(copy_to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        CAPV_FAIL(err, CAPV_E_IO, copy_to, "cannot create '%s': %s", copy_to, strerror(errno));
    for (;;) {
        ssize_t r = read(in, buf, COPY_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            CAPV_FAIL(err, CAPV_E_IO, path, "cannot read '%s': %s", path, strerror(errno));
        if (r == 0)
            break;
        CAPV_TRY(capv_hash_ctx_update(h, buf, (size_t)r, err));
        if (out >= 0)
            CAPV_TRY(write_all(out, buf, (size_t)r, copy_to, err));
        total += (uint64_t)r;
        if (progress)
            progress(user, total, (uint64_t)sb.st_size);
    }
    CAPV_TRY(capv_hash_ctx_final(digest, h, err));
    if (out >= 0 && fsync(out) != 0)
        CAPV_FAIL(err, CAPV_E_IO, copy_to, "fsync '%s': %s", copy_to, strerror(errno));
    *size = total;
out:
    if (out >= 0 && close(out) != 0 && st == CAPV_OK)
        st = capvi_err_set(err, CAPV_E_IO, copy_to, "close '%s': %s", copy_to, strerror(errno));
    if (st != CAPV_OK && out >= 0)
        unlink(copy_to);
    close(in);
    capv_hash_ctx_free(h);
    free(buf);
    return st;
}

/* ---- backup info / sidecars ------------------------------------------------------------ */

typedef struct info_box {
    capv_backup_info info;
    char *path, *sidecar, *created_at, *sha3, *tool;
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

static capv_status read_sidecar(info_box **out, const char *backup, capv_error *err)
{
    char side[PATH_MAX];
    capv_status st = sidecar_path(side, backup, err);
    if (st != CAPV_OK)
        return st;
    *out = NULL;
    FILE *f = fopen(side, "rb");
    if (f == NULL)
        return capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, side,
                             "backup sidecar '%s' is missing: an incomplete or foreign backup",
                             side);
    uint8_t *buf = malloc(SIDECAR_MAX + 1);
    size_t n = buf ? fread(buf, 1, SIDECAR_MAX + 1, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    cJSON *root = NULL;
    if (buf == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    if (bad)
        CAPV_FAIL(err, CAPV_E_IO, side, "cannot read '%s'", side);
    if (n > SIDECAR_MAX)
        CAPV_FAIL(err, CAPV_E_LIMIT, side, "sidecar '%s' is too large", side);
    capv_error jerr = CAPV_ERROR_INIT;
    if (capvi_json_parse(&root, buf, n, &jerr) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, side, "sidecar '%s' is not valid JSON: %s", side,
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
    char canon[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(canon, d);
    info_box *b = box_new(backup, side, created, canon, tool);
    if (b == NULL)
        CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
    b->info.size_bytes = (uint64_t)size;
    b->info.schema_version = (int)schema;
    b->info.entries = (uint64_t)entries;
    b->info.verifications = (uint64_t)verifications;
    *out = b;
out:
    cJSON_Delete(root);
    free(buf);
    return st;
}

static capv_status write_sidecar(const info_box *b, capv_error *err)
{
    capv_buf j = CAPV_BUF_INIT;
    capvi_buf_printf(&j,
                     "{\n  \"format\": \"%s\",\n  \"created_at\": \"%s\",\n  \"sha3_256\": "
                     "\"%s\",\n  \"size_bytes\": %llu,\n  \"schema_version\": %d,\n  "
                     "\"entries\": %llu,\n  \"verifications\": %llu,\n  \"tool_version\": ",
                     CAPV_BACKUP_FORMAT, b->created_at, b->sha3,
                     (unsigned long long)b->info.size_bytes, b->info.schema_version,
                     (unsigned long long)b->info.entries,
                     (unsigned long long)b->info.verifications);
    capvi_json_write_string(&j, b->tool, strlen(b->tool));
    capvi_buf_puts(&j, "\n}\n");
    if (j.failed) {
        capvi_buf_free(&j);
        return capvi_err_nomem(err);
    }
    capv_status st = write_file_atomic(b->sidecar, j.data, j.len, err);
    capvi_buf_free(&j);
    return st;
}

/* ---- list / prune ---------------------------------------------------------------------- */

struct capv_backup_list {
    info_box **items;
    size_t n;
};

static int newest_first(const void *a, const void *b)
{
    const info_box *x = *(info_box *const *)a, *y = *(info_box *const *)b;
    int c = strcmp(y->created_at, x->created_at);
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
        info_box *b = NULL;
        if (read_sidecar(&b, path, NULL) != CAPV_OK)
            continue; /* no sidecar: incomplete */
        struct stat sb;
        if (stat(path, &sb) != 0 || (uint64_t)sb.st_size != b->info.size_bytes) {
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

/* Temporary files of backups whose process died ("<dir>/.registry-….tmp.<pid>"). */
static void remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ".registry-", 10) != 0)
            continue;
        const char *dot = strrchr(de->d_name, '.');
        char *end = NULL;
        long pid = dot ? strtol(dot + 1, &end, 10) : 0;
        if (pid <= 0 || end == NULL || *end != '\0' || strstr(de->d_name, ".tmp.") == NULL)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
}

/* ---- backup ---------------------------------------------------------------------------- */

static capv_status copy_snapshot(capv_registry *reg, sqlite3 *dest, capv_progress_fn progress,
                                 void *user, capv_error *err)
{
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
    sqlite3_backup *b = NULL;
    if (st == CAPV_OK && (b = sqlite3_backup_init(dest, "main", c->db, "main")) == NULL)
        st = capvi_reg_sqlite_error(dest, sqlite3_errcode(dest), "starting the backup", err);
    int rc = SQLITE_OK;
    while (st == CAPV_OK) {
        rc = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
        if (progress) {
            int total = sqlite3_backup_pagecount(b);
            int left = sqlite3_backup_remaining(b);
            progress(user, (uint64_t)(total - left), (uint64_t)total);
        }
        if (rc == SQLITE_DONE)
            break;
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            struct timespec ts = { 0, 5 * 1000 * 1000 };
            nanosleep(&ts, NULL);
            continue;
        }
        if (rc != SQLITE_OK)
            st = capvi_reg_sqlite_error(dest, rc, "copying the database", err);
    }
    if (b != NULL) {
        int frc = sqlite3_backup_finish(b);
        if (st == CAPV_OK && frc != SQLITE_OK)
            st = capvi_reg_sqlite_error(dest, frc, "finishing the backup", err);
    }
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

capv_status capv_registry_backup(capv_backup_info **out, capv_registry *reg, const char *dir,
                                 unsigned int retain, capv_progress_fn progress, void *user,
                                 capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (reg == NULL || dir == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return capvi_err_set(err, CAPV_E_IO, dir, "cannot create backup directory '%s': %s", dir,
                             strerror(errno));
    remove_stale_temps(dir);
    int64_t now = capvi_reg_now_ms(reg);
    char stamp[32], created[32], name[PATH_MAX], side[PATH_MAX], tmp[PATH_MAX];
    capvi_time_format_s(stamp, now); /* YYYY-MM-DDTHH:MM:SSZ → yyyymmddTHHMMSSZ */
    char compact[20];
    size_t k = 0;
    for (const char *p = stamp; *p && k + 1 < sizeof compact; p++)
        if (*p != '-' && *p != ':')
            compact[k++] = *p;
    compact[k] = '\0';
    capvi_time_format_ms(created, now);
    for (int i = 0;; i++) {
        int w = i == 0 ? snprintf(name, sizeof name, "%s/registry-%s.sqlite", dir, compact)
                       : snprintf(name, sizeof name, "%s/registry-%s-%d.sqlite", dir, compact, i);
        if (w >= (int)sizeof name)
            return capvi_err_set(err, CAPV_E_INVALID_ARG, dir, "backup directory path too long");
        capv_status s2 = sidecar_path(side, name, err);
        if (s2 != CAPV_OK)
            return s2;
        if (!path_exists(name) && !path_exists(side))
            break;
        if (i > 1000)
            return capvi_err_set(err, CAPV_E_IO, dir, "cannot find a free backup name");
    }
    const char *base = strrchr(name, '/') + 1;
    if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir, base, (long)getpid()) >= (int)sizeof tmp)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, dir, "backup directory path too long");

    sqlite3 *dest = NULL;
    info_box *b = NULL;
    uint8_t digest[32];
    uint64_t size = 0, entries = 0, verifications = 0;
    int64_t schema = 0;
    bool tmp_made = false;
    capv_status st = CAPV_OK;
    int rc = sqlite3_open_v2(tmp, &dest,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    tmp_made = true;
    if (rc != SQLITE_OK)
        CAPV_FAIL(err, capvi_reg_sqlite_error(dest, rc, "creating the backup file", NULL), tmp,
                  "cannot create '%s': %s", tmp, sqlite3_errmsg(dest));
    /* the temporary file is fsynced once at the end; a crash before that discards it */
    CAPV_TRY(capvi_reg_exec(dest, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", err));
    if (reg->pg != NULL)
        CAPV_TRY(copy_pg_snapshot(reg, dest, progress, user, err));
    else
        CAPV_TRY(copy_snapshot(reg, dest, progress, user, err));
    /* a single self-contained file: rollback journal mode, not WAL */
    CAPV_TRY(capvi_reg_exec(dest, "PRAGMA journal_mode = DELETE", err));
    CAPV_TRY(capvi_reg_query_int(&schema, dest, "PRAGMA user_version", err));
    if (schema >= 1) {
        CAPV_TRY(capvi_reg_count_db(&entries, dest, "entries", err));
        CAPV_TRY(capvi_reg_count_db(&verifications, dest, "verifications", err));
    }
    rc = sqlite3_close(dest);
    dest = NULL;
    if (rc != SQLITE_OK)
        CAPV_FAIL(err, CAPV_E_IO, tmp, "closing the backup file failed");
    CAPV_TRY(fsync_path(tmp, false, err));
    CAPV_TRY(hash_file(digest, &size, tmp, NULL, NULL, NULL, err));
    if (rename(tmp, name) != 0)
        CAPV_FAIL(err, CAPV_E_IO, name, "cannot rename the backup to '%s': %s", name,
                  strerror(errno));
    tmp_made = false;
    CAPV_TRY(fsync_path(dir, true, err));
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
    CAPV_TRY(write_sidecar(b, err));
    if (retain > 0)
        CAPV_TRY(capv_registry_backup_prune(NULL, dir, retain, err));
out:
    if (dest != NULL)
        sqlite3_close(dest);
    if (tmp_made)
        unlink(tmp);
    if (st != CAPV_OK || out == NULL) {
        capv_backup_info_free(b ? &b->info : NULL);
        return capvi_err_done(err, st);
    }
    *out = &b->info;
    return capvi_err_done(err, CAPV_OK);
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

/* Copies `backup` to `copy` (hashing it), then checks the copy against the sidecar. With
 * `migrate`, an older schema is migrated in the copy. */
static capv_status verify_into(info_box **info, const char *backup, const char *copy, bool migrate,
                               capv_progress_fn progress, void *user, capv_error *err)
{
    info_box *b = NULL;
    sqlite3 *db = NULL;
    capv_status st = read_sidecar(&b, backup, err);
    if (st != CAPV_OK)
        return st;
    struct stat sb;
    if (stat(backup, &sb) != 0)
        CAPV_FAIL(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, backup,
                  "cannot open backup '%s': %s", backup, strerror(errno));
    if ((uint64_t)sb.st_size != b->info.size_bytes)
        CAPV_FAIL(err, CAPV_E_MISMATCH, backup,
                  "backup '%s' has %lld bytes, its sidecar says %llu: truncated or altered", backup,
                  (long long)sb.st_size, (unsigned long long)b->info.size_bytes);
    uint8_t want[32], got[32];
    uint64_t size = 0;
    if (capv_digest_parse(want, b->sha3, strlen(b->sha3), NULL) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, backup,
                  "backup '%s': its sidecar's sha3_256 is not a digest", backup);
    CAPV_TRY(hash_file(got, &size, backup, copy, progress, user, err));
    if (size != b->info.size_bytes || CRYPTO_memcmp(want, got, 32) != 0)
        CAPV_FAIL(err, CAPV_E_MISMATCH, backup,
                  "backup '%s' does not match the SHA3-256 of its sidecar: tampered or corrupt",
                  backup);
    int rc = sqlite3_open_v2(copy, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        CAPV_FAIL(err, backup_sqlite_error(db, rc, "opening", NULL), backup,
                  "backup '%s' cannot be opened: %s", backup, sqlite3_errmsg(db));
    capv_error ierr = CAPV_ERROR_INIT;
    bool ok = false;
    char first[200];
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
    }
out:
    if (db != NULL && sqlite3_close(db) != SQLITE_OK && st == CAPV_OK)
        st = capvi_err_set(err, CAPV_E_IO, copy, "closing the restored copy failed");
    if (st != CAPV_OK || info == NULL)
        capv_backup_info_free(b ? &b->info : NULL);
    else
        *info = b;
    return st;
}

capv_status capv_registry_backup_verify(capv_backup_info **out, const char *backup_path,
                                        capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (backup_path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    char dir[PATH_MAX], copy[PATH_MAX];
    dir_of(dir, backup_path);
    if (snprintf(copy, sizeof copy, "%s/.verify-%ld.tmp", dir, (long)getpid()) >= (int)sizeof copy)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "path too long");
    unlink(copy);
    info_box *b = NULL;
    capv_status st = verify_into(&b, backup_path, copy, false, NULL, NULL, err);
    unlink(copy);
    if (st == CAPV_OK && out != NULL)
        *out = &b->info;
    else if (b != NULL)
        capv_backup_info_free(&b->info);
    return capvi_err_done(err, st);
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
static capv_status restore_pg(const char *url, const char *backup_path, capv_progress_fn progress,
                              void *user, capv_error *err)
{
    char dir[PATH_MAX], copy[PATH_MAX];
    dir_of(dir, backup_path);
    if (snprintf(copy, sizeof copy, "%s/.restore-%ld.tmp", dir, (long)getpid()) >= (int)sizeof copy)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "path too long");
    unlink(copy);
    sqlite3 *db = NULL;
    capv_registry *reg = NULL;
    capv_status st = verify_into(NULL, backup_path, copy, true, progress, user, err);
    if (st != CAPV_OK)
        goto out;
    int rc = sqlite3_open_v2(copy, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        CAPV_FAIL(err, backup_sqlite_error(db, rc, "opening", NULL), backup_path,
                  "backup '%s' cannot be opened: %s", backup_path, sqlite3_errmsg(db));
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE;
    CAPV_TRY(capv_registry_open(&reg, url, &o, err));
    CAPV_TRY(capvi_reg_copy_load(NULL, reg, db, true, NULL, NULL, err));
out:
    capv_registry_close(reg);
    sqlite3_close(db);
    unlink(copy);
    return st;
}

capv_status capv_registry_restore(char **previous, const char *db_path, const char *backup_path,
                                  unsigned int flags, capv_progress_fn progress, void *user,
                                  capv_error *err)
{
    if (previous != NULL)
        *previous = NULL;
    if (db_path == NULL || backup_path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (capv_registry_location_is_postgres(db_path))
        return capvi_err_done(err, restore_pg(db_path, backup_path, progress, user, err));
    int lock_fd = -1;
    capv_status st = capvi_reg_lock(&lock_fd, db_path, err);
    if (st == CAPV_E_BUSY && (flags & CAPV_RESTORE_FORCE)) {
        lock_fd = -1; /* forced: the daemon must reopen (SIGHUP) */
        st = CAPV_OK;
        capv_error_clear(err);
    } else if (st == CAPV_E_BUSY) {
        return capvi_err_set(err, CAPV_E_BUSY, db_path,
                             "registry '%s' is held by a writer (capverifyd?): stop it first, or "
                             "use --force and send it SIGHUP afterwards",
                             db_path);
    } else if (st != CAPV_OK) {
        return st;
    }
    char dir[PATH_MAX], copy[PATH_MAX], pre[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
    dir_of(dir, db_path);
    if (snprintf(copy, sizeof copy, "%s.restore-tmp.%ld", db_path, (long)getpid()) >=
        (int)sizeof copy)
        CAPV_FAIL(err, CAPV_E_INVALID_ARG, NULL, "database path too long");
    unlink(copy);
    CAPV_TRY(verify_into(NULL, backup_path, copy, true, progress, user, err));
    CAPV_TRY(fsync_path(copy, false, err));

    bool had_db = path_exists(db_path);
    if (had_db) {
        if (lock_fd >= 0) {
            /* no writer: fold the WAL into the main file so the kept copy is one file */
            sqlite3 *old = NULL;
            if (sqlite3_open_v2(db_path, &old, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) ==
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
            int w = i == 0 ? snprintf(pre, sizeof pre, "%s.pre-restore-%s", db_path, compact)
                           : snprintf(pre, sizeof pre, "%s.pre-restore-%s-%d", db_path, compact, i);
            if (w >= (int)sizeof pre)
                CAPV_FAIL(err, CAPV_E_INVALID_ARG, NULL, "database path too long");
            if (!path_exists(pre))
                break;
        }
        /* keep the old file under its new name (a second link), then move its WAL and
         * shared-memory files with it BEFORE the new file takes the name: a stale WAL next
         * to the restored file would be replayed into it */
        if (link(db_path, pre) != 0)
            CAPV_FAIL(err, CAPV_E_IO, pre, "cannot keep the current database as '%s': %s", pre,
                      strerror(errno));
        static const char *const sfx[] = { "-wal", "-shm" };
        for (int i = 0; i < 2; i++) {
            snprintf(from, sizeof from, "%s%s", db_path, sfx[i]);
            snprintf(to, sizeof to, "%s%s", pre, sfx[i]);
            CAPV_TRY(rename_if_exists(from, to, err));
        }
    }
    if (rename(copy, db_path) != 0)
        CAPV_FAIL(err, CAPV_E_IO, db_path, "cannot move the restored database into place: %s",
                  strerror(errno));
    CAPV_TRY(fsync_path(dir, true, err));
    if (previous != NULL && had_db && (*previous = strdup(pre)) == NULL)
        st = capvi_err_nomem(err);
out:
    unlink(copy);
    capvi_reg_unlock(lock_fd);
    return capvi_err_done(err, st);
}

/* ---- check ----------------------------------------------------------------------------- */

static void problem(capv_registry_check_result *r, capv_registry_problem_fn fn, void *user,
                    const char *id, capv_status code, const char *msg)
{
    r->problems++;
    if (fn != NULL)
        fn(user, id, code, msg);
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
 * verifications and reports. */
static const size_t check_result_sizes[] = { 0, offsetof(capv_registry_check_result, verifications),
                                             sizeof(capv_registry_check_result) };
_Static_assert(sizeof check_result_sizes / sizeof check_result_sizes[0] ==
                   CAPV_REGISTRY_CHECK_RESULT_VERSION + 1,
               "one size per version of capv_registry_check_result");

/* Copies a check's result to the caller's struct: the fields of its version, no further. */
static void result_out(capv_registry_check_result *out, const capv_registry_check_result *res,
                       size_t size)
{
    unsigned int version = out->version;
    memcpy(out, res, size);
    out->version = version;
}

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
    capv_status st = capvi_reg_struct_size(&size, result->version, check_result_sizes,
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
        result_out(result, &res, size);
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
        const char *f[10];
        for (int i = 0; i < 10; i++)
            f[i] = (const char *)sqlite3_column_text(s, i + 1);
        e.id = f[0];
        e.manifest_hash = f[1];
        e.proof_hash = f[2];
        e.timestamp_file = f[3];
        e.registered_at = f[4];
        e.policy_hash = f[5];
        e.signature = f[6];
        e.public_key = f[7];
        e.kid = f[8];
        e.signature_scheme = f[9];
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
            int64_t at = INT64_MIN;
            const capv_key *key = NULL;
            if (capv_rfc3339_parse(&at, e.registered_at, strlen(e.registered_at), NULL) != CAPV_OK)
                at = INT64_MIN;
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
    if (r->schema_version >= 2)
        CAPV_TRY(check_reports(r, c->db, on_problem, problem_user, err));
out:
    sqlite3_finalize(s);
    if (txn)
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    capvi_reg_long_reader_release(reg, c);
    result_out(result, &res, size);
    return capvi_err_done(err, capvi_reg_note(reg, st, err));
}
