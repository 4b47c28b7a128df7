/* SPDX-License-Identifier: Apache-2.0 */
/* The registry's public entry points (docs/registry.md): opening and closing (settings,
 * the writer lock, schema checks and migrations), the handle's figures and health, and the
 * entries, verifications and policies. The layers below do the work: registry_db.c
 * (connections, statements, errors), registry_entry.c (entries), registry_writer.c (the
 * write path), registry_schema.c (migrations), registry_json.c (JSON, report summaries). */
#include <errno.h>
#include <openssl/rand.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "global_int.h"
#include "hex_int.h"
#include "json_int.h"
#include "registry_entry_int.h"
#include "registry_int.h"
#include "registry_json_int.h"
#include "registry_schema_int.h"
#include "registry_pgb_int.h"
#include "registry_sqlite_int.h"
#include "registry_writer_int.h"

#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define MAX_READERS 64u
#define DEFAULT_MAX_BATCH 512u
/* How often the writer thread looks for verifications past their retention when the last
 * look found fewer than a full batch. */
#define DEFAULT_PRUNE_INTERVAL_MS 5000
/* A report's tree while its fields are read: a one-unit report's ~110 values take about
 * 10 KiB. */
#define REPORT_STACK_BYTES 16384

/* The size of each version of capv_registry_options (docs/abi.md): version 2 added
 * max_report_bytes and retention_ms, version 3 record_queue_max and record_flush_ms. */
static const size_t options_sizes[] = { 0, offsetof(capv_registry_options, max_report_bytes),
                                        offsetof(capv_registry_options, record_queue_max),
                                        sizeof(capv_registry_options) };
_Static_assert(sizeof options_sizes / sizeof options_sizes[0] == CAPV_REGISTRY_OPTIONS_VERSION + 1,
               "one size per version of capv_registry_options");

/* Recently recorded report texts (docs/registry.md "Recording verifications"): a verdict
 * served from the report cache is recorded again and again with the same bytes, so a report
 * text is remembered with what was prepared from it (its fields, its SHA3-256 and, over the
 * cap, its summary), and a repeat skips parsing and SHA3 alike. A slot is picked by a cheap
 * hash of the text and matched by the text itself (memcmp: no cryptographic hash on the
 * request path). Texts over REG_MEMO_TEXT_MAX bytes are not remembered, so the memo holds at
 * most REG_MEMO_SLOTS * REG_MEMO_TEXT_MAX bytes. */
#define REG_MEMO_SLOTS 64
#define REG_MEMO_TEXT_MAX 32768

struct capvi_reg_memo {
    capvi_reg_body *text; /* the report text (NULL: the slot is free) */
    size_t cap;           /* the size cap it was prepared under */
    capvi_reg_record r;   /* the report's part of a record (no request id, subject, body) */
    capvi_reg_body *body; /* what is stored: the text itself, or its summary (r.summary) */
};

/* The memo slot of a report text: a multiply-xorshift mix of its 8-byte words, in four
 * independent lanes (one chain of multiplications would make the CPU wait for each). */
static size_t memo_slot(const char *json, size_t len)
{
    uint64_t h[4] = { len * 0x9e3779b97f4a7c15u, 0x6a09e667f3bcc909u, 0xbb67ae8584caa73bu,
                      0x3c6ef372fe94f82bu };
    size_t i = 0;
    for (; i + 32 <= len; i += 32)
        for (int k = 0; k < 4; k++) {
            uint64_t w;
            memcpy(&w, json + i + 8 * (size_t)k, 8);
            h[k] = (h[k] ^ w) * 0xff51afd7ed558ccdu;
            h[k] ^= h[k] >> 32;
        }
    uint64_t m = h[0];
    for (int k = 1; k < 4; k++) {
        m = (m ^ h[k]) * 0xff51afd7ed558ccdu;
        m ^= m >> 32;
    }
    for (; i < len; i++)
        m = (m ^ (unsigned char)json[i]) * 0xc4ceb9fe1a85ec53u;
    m ^= m >> 29;
    return (size_t)(m % REG_MEMO_SLOTS);
}

static void memo_free(capv_registry *reg)
{
    if (reg->memo == NULL)
        return;
    for (size_t i = 0; i < REG_MEMO_SLOTS; i++) {
        capvi_reg_body_put(reg->memo[i].text);
        capvi_reg_body_put(reg->memo[i].body);
    }
    free(reg->memo);
    reg->memo = NULL;
}

/* ---- open / close ---------------------------------------------------------------------- */

void capv_registry_stop_writer(capv_registry *reg)
{
    if (reg != NULL)
        capvi_reg_writer_stop(reg);
}

void capv_registry_close(capv_registry *reg)
{
    if (reg == NULL)
        return;
    capvi_reg_writer_stop(reg);
    if (reg->be != NULL)
        reg->be->close(reg);
    memo_free(reg);
    pthread_mutex_destroy(&reg->memo_lock);
    capvi_reg_keys_free(&reg->keys);
    pthread_mutex_destroy(&reg->wlock);
    pthread_mutex_destroy(&reg->rlock);
    pthread_cond_destroy(&reg->rcond);
    pthread_mutex_destroy(&reg->qlock);
    pthread_cond_destroy(&reg->qcond);
    pthread_mutex_destroy(&reg->flock);
    pthread_cond_destroy(&reg->rq_cond);
    free(reg->path);
    free(reg);
}

capv_status capv_registry_open(capv_registry **out, const char *path,
                               const capv_registry_options *opts, capv_error *err)
{
    capv_registry_options opt = CAPV_REGISTRY_OPTIONS_INIT;
    if (out == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    const capv_registry_options *o = &opt;
    capv_status st;
    if (opts != NULL && (st = capvi_struct_read(&opt, opts, options_sizes,
                                                sizeof options_sizes / sizeof options_sizes[0],
                                                "capv_registry_options", err)) != CAPV_OK)
        return st;
    if (o->busy_timeout_ms < 0 || o->readers > MAX_READERS)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                             "invalid registry options (busy_timeout_ms < 0 or readers > %u)",
                             MAX_READERS);
    if ((o->max_report_bytes != 0 && o->max_report_bytes < CAPV_REGISTRY_MIN_MAX_REPORT_BYTES) ||
        o->retention_ms < 0 || o->record_flush_ms < 0 || o->record_flush_ms > 60000)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                             "invalid registry options (max_report_bytes below %u, a negative "
                             "retention_ms, or record_flush_ms outside 0..60000)",
                             CAPV_REGISTRY_MIN_MAX_REPORT_BYTES);
    bool ro = (o->flags & CAPV_REGISTRY_READ_ONLY) != 0;
    if (ro && (o->flags & (CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD)))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                             "a read-only registry cannot create files or run a writer");
    if (ro && path == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "an in-memory registry is read-write");
    if ((st = capvi_global_require(err)) != CAPV_OK)
        return st;
    bool pg = capv_registry_location_is_postgres(path);
    bool exists = false;
    if (path != NULL && !pg) {
        struct stat sb;
        exists = stat(path, &sb) == 0;
        if (!exists) {
            if (errno != ENOENT)
                return capvi_err_set(err, CAPV_E_IO, path, "cannot access '%s': %s", path,
                                     strerror(errno));
            if (!(o->flags & CAPV_REGISTRY_CREATE))
                return capvi_err_set(err, CAPV_E_NOT_FOUND, path, "registry '%s' does not exist",
                                     path);
        } else if (!S_ISREG(sb.st_mode)) {
            return capvi_err_set(err, CAPV_E_IO, path, "'%s' is not a regular file", path);
        }
    }
    capv_registry *reg = calloc(1, sizeof *reg);
    if (reg == NULL)
        return capvi_err_nomem(err);
    reg->read_only = ro;
    reg->clock = o->clock ? o->clock : capv_clock_system;
    reg->clock_user = o->clock ? o->clock_user : NULL;
    reg->max_batch = o->max_batch ? o->max_batch : DEFAULT_MAX_BATCH;
    pthread_mutex_init(&reg->wlock, NULL);
    pthread_mutex_init(&reg->rlock, NULL);
    pthread_cond_init(&reg->rcond, NULL);
    pthread_mutex_init(&reg->qlock, NULL);
    pthread_mutex_init(&reg->flock, NULL);
    pthread_mutex_init(&reg->memo_lock, NULL);
    capvi_reg_keys_init(&reg->keys);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&reg->qcond, &ca);
    pthread_cond_init(&reg->rq_cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&reg->generation, 1);
    reg->verdict_mark = -1;
    atomic_init(&reg->writes, 0);
    atomic_init(&reg->commits, 0);
    atomic_init(&reg->pruned, 0);
    atomic_init(&reg->summarized, 0);
    atomic_init(&reg->faults, 0);
    atomic_init(&reg->rq_depth, 0);
    atomic_init(&reg->rq_dropped, 0);
    atomic_init(&reg->rq_rejected, 0);
    atomic_init(&reg->rq_written, 0);
    atomic_init(&reg->max_report, o->max_report_bytes
                                      ? o->max_report_bytes
                                      : (size_t)CAPV_REGISTRY_DEFAULT_MAX_REPORT_BYTES);
    atomic_init(&reg->retention_ms, o->retention_ms);
    reg->prune_interval_ms = DEFAULT_PRUNE_INTERVAL_MS;
    if (o->flags & CAPV_REGISTRY_WRITER_THREAD)
        reg->rq_max = o->record_queue_max;
    if (!ro && (reg->memo = calloc(REG_MEMO_SLOTS, sizeof *reg->memo)) == NULL) {
        st = capvi_err_nomem(err);
        goto out;
    }
    reg->rq_flush_ms = o->record_flush_ms ? o->record_flush_ms : REG_DEFAULT_FLUSH_MS;
    int busy_ms = o->busy_timeout_ms ? o->busy_timeout_ms : DEFAULT_BUSY_TIMEOUT_MS;
    reg->busy_ms = busy_ms;
    if (pg) {
        CAPV_TRY(capvi_reg_pg_open(reg, path, o, err));
    } else {
        if (path != NULL && (reg->path = strdup(path)) == NULL) {
            st = capvi_err_nomem(err);
            goto out;
        }
        CAPV_TRY(capvi_reg_sqlite_open(reg, o, exists, err));
    }
    if (o->flags & CAPV_REGISTRY_WRITER_THREAD)
        CAPV_TRY(capvi_reg_writer_start(reg, err));
out:
    if (st != CAPV_OK) {
        capv_registry_close(reg);
        return st;
    }
    *out = reg;
    return capvi_err_done(err, CAPV_OK);
}

const char *capv_registry_path(const capv_registry *reg)
{
    return reg && reg->path ? reg->path : "";
}

bool capv_registry_is_read_only(const capv_registry *reg)
{
    return reg == NULL || reg->read_only;
}

int capv_registry_found_version(const capv_registry *reg)
{
    return reg ? reg->found_version : -1;
}

bool capv_registry_found_legacy(const capv_registry *reg)
{
    return reg != NULL && reg->found_legacy;
}

uint64_t capv_registry_migrated_rows(const capv_registry *reg)
{
    return reg ? reg->migrated_rows : 0;
}

void capv_registry_set_signing_key(capv_registry *reg, const capv_signing_key *key)
{
    if (reg != NULL)
        reg->sign_key = key;
}

capv_status capv_registry_set_max_report_bytes(capv_registry *reg, size_t max, capv_error *err)
{
    if (reg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (max < CAPV_REGISTRY_MIN_MAX_REPORT_BYTES) /* the summary must always fit */
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "max",
                             "the report size cap must be at least %u bytes",
                             CAPV_REGISTRY_MIN_MAX_REPORT_BYTES);
    atomic_store(&reg->max_report, max);
    return capvi_err_done(err, CAPV_OK);
}

/* ---- the health of the storage --------------------------------------------------------- */

capv_status capv_registry_health(const capv_registry *creg, capv_error *err)
{
    if (creg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_registry *reg = (capv_registry *)creg; /* the fault is guarded by a mutex */
    if (!reg->read_only && reg->path != NULL && reg->pg == NULL) {
        /* two system calls: cheap enough for every readiness probe; they see what the next
         * write would run into, and name the cause more precisely than a failed write */
        if (access(reg->path, W_OK) != 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
            return capvi_err_set(err, CAPV_E_STORAGE, NULL,
                                 "database is read-only: '%s' is no longer writable (%s)",
                                 reg->path, strerror(errno));
        struct statvfs fs;
        if (statvfs(reg->path, &fs) == 0) {
            if (fs.f_flag & ST_RDONLY)
                return capvi_err_set(err, CAPV_E_STORAGE, NULL,
                                     "database is read-only: the file system of '%s' is "
                                     "mounted read-only",
                                     reg->path);
            /* root may use the blocks reserved for it */
            if ((geteuid() == 0 ? fs.f_bfree : fs.f_bavail) == 0)
                return capvi_err_set(err, CAPV_E_STORAGE, NULL,
                                     "disk is full: no space left on the file system of '%s'",
                                     reg->path);
        }
    }
    char msg[CAPV_ERROR_MESSAGE_SIZE];
    if (capvi_reg_fault_get(reg, msg))
        return capvi_err_set(err, CAPV_E_STORAGE, NULL, "%s", msg);
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_registry_disk_usage(uint64_t *db_bytes, uint64_t *free_bytes,
                                     const capv_registry *reg, capv_error *err)
{
    if (db_bytes != NULL)
        *db_bytes = 0;
    if (free_bytes != NULL)
        *free_bytes = 0;
    if (reg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    if (reg->path == NULL)
        return capvi_err_set(err, CAPV_E_UNSUPPORTED, NULL, "an in-memory registry has no files");
    capv_status fst = capvi_reg_require_file(reg, "the disk usage", err);
    if (fst != CAPV_OK)
        return fst;
    struct stat sb;
    if (stat(reg->path, &sb) != 0)
        return capvi_err_set(err, CAPV_E_IO, reg->path, "cannot examine '%s': %s", reg->path,
                             strerror(errno));
    uint64_t total = (uint64_t)sb.st_size;
    char wal[PATH_MAX];
    if (snprintf(wal, sizeof wal, "%s-wal", reg->path) < (int)sizeof wal && stat(wal, &sb) == 0)
        total += (uint64_t)sb.st_size;
    struct statvfs fs;
    if (statvfs(reg->path, &fs) != 0)
        return capvi_err_set(err, CAPV_E_IO, reg->path,
                             "cannot examine the file system of '%s': %s", reg->path,
                             strerror(errno));
    if (db_bytes != NULL)
        *db_bytes = total;
    if (free_bytes != NULL)
        *free_bytes = (uint64_t)fs.f_bavail * (uint64_t)fs.f_frsize;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_registry_filesystem_size(uint64_t *size_bytes, const capv_registry *reg,
                                          capv_error *err)
{
    if (size_bytes == NULL || reg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *size_bytes = 0;
    if (reg->path == NULL)
        return capvi_err_set(err, CAPV_E_UNSUPPORTED, NULL, "an in-memory registry has no files");
    capv_status fst = capvi_reg_require_file(reg, "the file system size", err);
    if (fst != CAPV_OK)
        return fst;
    struct statvfs fs;
    if (statvfs(reg->path, &fs) != 0)
        return capvi_err_set(err, CAPV_E_IO, reg->path,
                             "cannot examine the file system of '%s': %s", reg->path,
                             strerror(errno));
    *size_bytes = (uint64_t)fs.f_blocks * (uint64_t)fs.f_frsize;
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_registry_leader(bool *leader, capv_registry *reg, capv_error *err)
{
    if (leader == NULL || reg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *leader = false;
    capv_error lerr = CAPV_ERROR_INIT;
    if (err == NULL)
        err = &lerr;
    return capvi_err_done(err, capvi_reg_note(reg, reg->be->leader(leader, reg, err), err));
}

uint64_t capv_registry_generation(const capv_registry *reg)
{
    return reg ? atomic_load(&((capv_registry *)reg)->generation) : 0;
}

uint64_t capv_registry_stat_get(const capv_registry *reg, capv_registry_stat which)
{
    if (reg == NULL)
        return 0;
    capv_registry *r = (capv_registry *)reg;
    switch (which) {
    case CAPV_REGISTRY_STAT_WRITES: return atomic_load(&r->writes);
    case CAPV_REGISTRY_STAT_COMMITS: return atomic_load(&r->commits);
    case CAPV_REGISTRY_STAT_PRUNED: return atomic_load(&r->pruned);
    case CAPV_REGISTRY_STAT_SUMMARIZED: return atomic_load(&r->summarized);
    case CAPV_REGISTRY_STAT_STORAGE_FAULTS: return atomic_load(&r->faults);
    case CAPV_REGISTRY_STAT_QUEUE_DEPTH: return atomic_load(&r->rq_depth);
    case CAPV_REGISTRY_STAT_RECORDS_DROPPED: return atomic_load(&r->rq_dropped);
    case CAPV_REGISTRY_STAT_RECORDS_REJECTED: return atomic_load(&r->rq_rejected);
    case CAPV_REGISTRY_STAT_RECORDS_WRITTEN: return atomic_load(&r->rq_written);
    }
    return 0;
}

/* ---- entries --------------------------------------------------------------------------- */

typedef struct add_args {
    const capv_registry_entry *in;
    capv_registry_entry **stored;
} add_args;

static capv_status entry_sign(capv_reg_entry_in *e, const capv_signing_key *key, char *sig_b64,
                              char *pub_b64, char *kid, capv_error *err)
{
    capv_buf b = CAPV_BUF_INIT;
    capvi_reg_signed_bytes(&b, e->id, e->manifest_hash, e->proof_hash, e->timestamp_file,
                           e->registered_at);
    if (b.failed) {
        capvi_buf_free(&b);
        return capvi_err_nomem(err);
    }
    uint8_t d[32], sig[64], pub[32];
    capv_status st = capv_hash(d, CAPV_HASH_BLAKE3, b.data, b.len, err);
    capvi_buf_free(&b);
    if (st == CAPV_OK)
        st = capv_signing_key_sign(sig, key, d, 32, err);
    if (st != CAPV_OK)
        return st;
    capv_signing_key_public(pub, key);
    if ((st = capv_base64_encode(sig_b64, CAPV_BASE64_ENCODED_SIZE(64), NULL, sig, 64,
                                 CAPV_BASE64_STD, err)) != CAPV_OK ||
        (st = capv_base64_encode(pub_b64, CAPV_BASE64_ENCODED_SIZE(32), NULL, pub, 32,
                                 CAPV_BASE64_STD, err)) != CAPV_OK ||
        (st = capv_key_id(kid, pub, err)) != CAPV_OK)
        return st;
    e->signature = sig_b64;
    e->public_key = pub_b64;
    e->kid = kid;
    e->scheme = "ed25519";
    return CAPV_OK;
}

static capv_status add_run(capv_registry *reg, void *arg, capv_error *err)
{
    add_args *a = arg;
    capv_reg_entry_in e;
    bool signed_in = a->in->signature != NULL;
    capv_status st = capvi_reg_entry_prepare(
        &e, a->in, reg, REG_PREP_STRICT | (signed_in ? 0 : REG_PREP_CANONICAL), err);
    if (st != CAPV_OK)
        return st;
    if (signed_in) {
        capv_registry_entry chk = CAPV_REGISTRY_ENTRY_INIT;
        chk.id = e.id;
        chk.manifest_hash = e.manifest_hash;
        chk.proof_hash = e.proof_hash;
        chk.timestamp_file = e.timestamp_file;
        chk.registered_at = e.registered_at;
        chk.signature = e.signature;
        chk.public_key = e.public_key;
        chk.signature_scheme = e.scheme;
        capv_error verr = CAPV_ERROR_INIT;
        st = capv_registry_entry_verify(&chk, &verr);
        if (st != CAPV_OK)
            return capvi_err_set(err, st == CAPV_E_SIGNATURE ? CAPV_E_SIGNATURE : st,
                                 verr.field[0] ? verr.field : "signature", "entry '%s': %s", e.id,
                                 verr.message);
    }
    /* signed before the look-up, which then compares without the registry's signature */
    char sig[CAPV_BASE64_ENCODED_SIZE(64)], pub[CAPV_BASE64_ENCODED_SIZE(32)], kid[CAPV_KID_SIZE];
    capv_reg_entry_in signed_e = e;
    if (!signed_in && reg->sign_key != NULL) {
        if ((st = entry_sign(&signed_e, reg->sign_key, sig, pub, kid, err)) != CAPV_OK)
            return st;
        signed_e.signed_here = true;
    }
    return reg->be->entry_add(a->stored, reg, &signed_e, e.registered_at_given, err);
}

static void add_undo(void *arg)
{
    add_args *a = arg;
    if (a->stored != NULL) {
        capv_registry_entry_free(*a->stored);
        *a->stored = NULL;
    }
}

capv_status capv_registry_add(capv_registry_entry **stored, capv_registry *reg,
                              const capv_registry_entry *entry, capv_error *err)
{
    if (stored != NULL)
        *stored = NULL;
    if (reg == NULL || entry == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_registry_entry in;
    capv_status st = capvi_reg_entry_read(&in, entry, err);
    if (st != CAPV_OK)
        return st;
    add_args a = { &in, stored };
    capv_reg_write q;
    memset(&q, 0, sizeof q);
    q.run = add_run;
    q.undo = add_undo;
    q.arg = &a;
    q.changes_verdicts = true;
    /* the lock order of entries in a batch (run_order_cmp); bad hashes are refused by the
     * run */
    uint8_t key[64];
    if (in.manifest_hash != NULL && in.proof_hash != NULL &&
        capv_digest_parse(key, in.manifest_hash, strlen(in.manifest_hash), NULL) == CAPV_OK &&
        capv_digest_parse(key + 32, in.proof_hash, strlen(in.proof_hash), NULL) == CAPV_OK)
        q.order_key = key;
    capvi_reg_submit(reg, &q);
    return capvi_err_done(err, capvi_reg_write_result(&q, err));
}

/* An entry by id (id != NULL) or digests; `what` names it in the not-found message. */
static capv_status lookup_one(capv_registry_entry **out, capv_registry *reg, const char *id,
                              const uint8_t *mk, const uint8_t *pk, const char *what,
                              capv_error *err)
{
    capv_error lerr_ = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr_;
    capv_status st = reg->be->entry_get(out, reg, id, mk, pk, err);
    if (st == CAPV_E_NOT_FOUND)
        capvi_err_set(err, CAPV_E_NOT_FOUND, NULL, "no registry entry %s", what);
    return capvi_reg_note(reg, st, err);
}

capv_status capv_registry_get(capv_registry_entry **out, capv_registry *reg, const char *id,
                              capv_error *err)
{
    if (out == NULL || reg == NULL || id == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    char what[300];
    snprintf(what, sizeof what, "with id '%.256s'", id);
    return capvi_err_done(err, lookup_one(out, reg, id, NULL, NULL, what, err));
}

capv_status capv_registry_find(capv_registry_entry **out, capv_registry *reg,
                               const char *manifest_hash, const char *proof_hash, capv_error *err)
{
    if (out == NULL || reg == NULL || manifest_hash == NULL || proof_hash == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    uint8_t mk[32], pk[32];
    if (capv_digest_parse(mk, manifest_hash, strlen(manifest_hash), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "manifest_hash", "manifest_hash is not a digest");
    if (capv_digest_parse(pk, proof_hash, strlen(proof_hash), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "proof_hash", "proof_hash is not a digest");
    return capvi_err_done(
        err, lookup_one(out, reg, NULL, mk, pk, "for this manifest and proof hash", err));
}

struct capv_registry_page {
    capv_registry_entry **items;
    size_t n;
    int64_t next;
};

capv_status capv_registry_list(capv_registry_page **out, capv_registry *reg,
                               const char *manifest_hash, int64_t after, size_t limit,
                               capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || reg == NULL || after < 0 || limit == 0 || limit > 10000)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL,
                             "invalid arguments (limit must be 1..10000, after >= 0)");
    uint8_t mk[32];
    if (manifest_hash != NULL &&
        capv_digest_parse(mk, manifest_hash, strlen(manifest_hash), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "manifest_hash", "manifest_hash is not a digest");
    capv_error lerr_ = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr_;
    capv_registry_page *p = calloc(1, sizeof *p);
    if (p == NULL || (p->items = calloc(limit, sizeof *p->items)) == NULL) {
        free(p);
        return capvi_err_nomem(err);
    }
    /* one more than asked tells whether a next page exists */
    capv_registry_entry **items = calloc(limit + 1, sizeof *items);
    size_t got = 0;
    capv_status st = items ? reg->be->entry_list(items, &got, reg, manifest_hash ? mk : NULL, after,
                                                 limit + 1, err)
                           : capvi_err_nomem(err);
    for (size_t i = 0; i < got; i++) {
        if (i < limit)
            p->items[p->n++] = items[i];
        else
            capv_registry_entry_free(items[i]);
    }
    free(items);
    if (st == CAPV_OK && got > limit)
        p->next = p->items[p->n - 1]->seq;
    if (st != CAPV_OK) {
        capv_registry_page_free(p);
        return capvi_reg_note(reg, st, err);
    }
    *out = p;
    return capvi_err_done(err, capvi_reg_note(reg, CAPV_OK, err));
}

size_t capv_registry_page_count(const capv_registry_page *p)
{
    return p ? p->n : 0;
}

const capv_registry_entry *capv_registry_page_entry(const capv_registry_page *p, size_t i)
{
    return p && i < p->n ? p->items[i] : NULL;
}

int64_t capv_registry_page_next(const capv_registry_page *p)
{
    return p ? p->next : 0;
}

void capv_registry_page_free(capv_registry_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        capv_registry_entry_free(p->items[i]);
    free(p->items);
    free(p);
}

capv_status capv_registry_count(uint64_t *out, capv_registry *reg, capv_registry_table table,
                                capv_error *err)
{
    if (table != CAPV_REGISTRY_ENTRIES && table != CAPV_REGISTRY_VERIFICATIONS &&
        table != CAPV_REGISTRY_POLICIES)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown table");
    if (out == NULL || reg == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_error lerr_ = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr_;
    return capvi_err_done(err, capvi_reg_note(reg, reg->be->count(out, reg, table, err), err));
}

/* ---- verifications --------------------------------------------------------------------- */

/* The size of each version of capv_registry_verification (docs/abi.md). */
static const size_t verification_sizes[] = { 0, sizeof(capv_registry_verification) };
_Static_assert(sizeof verification_sizes / sizeof verification_sizes[0] ==
                   CAPV_REGISTRY_VERIFICATION_VERSION + 1,
               "one size per version of capv_registry_verification");

static bool text_ok(const char *s, size_t max)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
        if (*p < 0x20 || *p == 0x7f || n >= max)
            return false;
    return n > 0 && capvi_utf8_check((const uint8_t *)s, n, NULL) == CAPV_OK;
}

/* A random RFC 9562 version 4 UUID. */
static capv_status random_uuid(char out[37], capv_error *err)
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return capvi_err_set(err, CAPV_E_CRYPTO, NULL, "no randomness for a request id");
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return CAPV_OK;
}

/* An optional digest field: parsed into key (has = false when absent) and canonical text. */
static capv_status opt_digest(bool *has, uint8_t key[32], char text[CAPV_DIGEST_HEX_SIZE],
                              const char *in, const char *field, capv_error *err)
{
    *has = in != NULL;
    if (in == NULL)
        return CAPV_OK;
    if (capv_digest_parse(key, in, strlen(in), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, field, "%s is not a digest", field);
    capv_digest_format(text, key);
    return CAPV_OK;
}

/* The caller's part of a record, validated into `r`: the request id (a random one when
 * absent) and the subject. */
static capv_status record_caller_fields(capvi_reg_record *r, const capv_registry_verification *in,
                                        capv_error *err)
{
    capv_status st;
    if (in->request_id == NULL) {
        if ((st = random_uuid(r->request_id, err)) != CAPV_OK)
            return st;
    } else if (!text_ok(in->request_id, 128)) {
        return capvi_err_set(err, CAPV_E_MALFORMED, "request_id",
                             "request_id must be 1..128 printable characters");
    } else {
        snprintf(r->request_id, sizeof r->request_id, "%s", in->request_id);
    }
    if (in->subject != NULL && !text_ok(in->subject, 256))
        return capvi_err_set(err, CAPV_E_MALFORMED, "subject",
                             "subject must be 1..256 printable characters");
    r->subject = in->subject;
    return CAPV_OK;
}

/* Validates `in` into `r`: the caller's fields, result, digests in canonical form, and the
 * time (now on the registry's clock when absent). */
static capv_status record_fields(capvi_reg_record *r, capv_registry *reg,
                                 const capv_registry_verification *in, capv_error *err)
{
    capv_status st = record_caller_fields(r, in, err);
    if (st != CAPV_OK)
        return st;
    if (in->result == NULL || (strcmp(in->result, "ok") != 0 && strcmp(in->result, "warn") != 0 &&
                               strcmp(in->result, "fail") != 0))
        return capvi_err_set(err, CAPV_E_MALFORMED, "result", "result must be ok, warn or fail");
    snprintf(r->result, sizeof r->result, "%s", in->result);
    uint8_t polk[32];
    if ((st = opt_digest(&r->has_m, r->mk, r->mh, in->manifest_hash, "manifest_hash", err)) !=
            CAPV_OK ||
        (st = opt_digest(&r->has_p, r->pk, r->ph, in->proof_hash, "proof_hash", err)) != CAPV_OK ||
        (st = opt_digest(&r->has_pol, polk, r->pol, in->policy_hash, "policy_hash", err)) !=
            CAPV_OK)
        return st;
    r->at_given = in->verified_at != NULL;
    if (r->at_given) {
        size_t n = strlen(in->verified_at);
        if (n >= sizeof r->at || capv_rfc3339_parse(&r->ms, in->verified_at, n, NULL) != CAPV_OK)
            return capvi_err_set(err, CAPV_E_MALFORMED, "verified_at",
                                 "verified_at is not an RFC 3339 time");
        memcpy(r->at, in->verified_at, n + 1);
    } else {
        r->ms = capvi_reg_now_ms(reg);
        capv_rfc3339_format(r->at, r->ms);
    }
    return CAPV_OK;
}

/* What is stored for v->report_json: the report itself when it fits the cap, else its
 * summary (built in `sum`), keyed by the report's SHA3-256 either way. The hashing and the
 * summary run here, on the caller's thread, not on the writer's. `root` is the parsed report
 * when the caller has it. */
static capv_status prepare_report(capvi_reg_record *r, capv_registry *reg,
                                  const capv_registry_verification *v, size_t len,
                                  const cJSON *root, capv_buf *sum, capv_error *err)
{
    r->body = NULL;
    if (v->report_json == NULL)
        return CAPV_OK;
    const uint8_t *bytes = (const uint8_t *)v->report_json;
    if (root == NULL && capv_json_validate(bytes, len, NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_MALFORMED, "report_json", "report_json is not JSON");
    capv_status st = capv_hash(r->key, CAPV_HASH_SHA3_256, bytes, len, err);
    if (st != CAPV_OK)
        return st;
    r->full_len = len;
    size_t cap = atomic_load(&reg->max_report);
    if (len <= cap) {
        r->body = v->report_json;
        r->body_len = len;
        r->summary = false;
        return CAPV_OK;
    }
    cJSON *own = NULL;
    if (root == NULL) {
        /* valid JSON the strict parser refuses (a repeated key): summarized without it */
        if (capvi_json_parse(&own, bytes, len, NULL) == CAPV_OK)
            root = own;
    }
    st = capvi_reg_report_summary(sum, root, v, r->key, len, cap, err);
    cJSON_Delete(own);
    if (st != CAPV_OK)
        return st;
    r->body = (const char *)sum->data;
    r->body_len = sum->len;
    r->summary = true;
    return CAPV_OK;
}

/* A queued copy of `r`, its subject and body in the same allocation, or with a reference to
 * `shared` (which r->body points into) instead of a copy of the body (the writer frees it). */
static capv_reg_queued *record_copy(const capvi_reg_record *r, capvi_reg_body *shared)
{
    size_t sub = r->subject ? strlen(r->subject) + 1 : 0;
    size_t body = r->body && shared == NULL ? r->body_len + 1 : 0;
    capv_reg_queued *q = malloc(sizeof *q + sub + body);
    if (q == NULL)
        return NULL;
    memset(q, 0, sizeof *q);
    q->rec = *r;
    char *p = (char *)(q + 1);
    if (sub) {
        memcpy(p, r->subject, sub);
        q->rec.subject = p;
        p += sub;
    }
    if (body) {
        memcpy(p, r->body, r->body_len);
        p[r->body_len] = '\0';
        q->rec.body = p;
    }
    if (shared != NULL) {
        q->body = capvi_reg_body_get(shared);
        q->rec.body = shared->text;
        q->rec.body_len = shared->len;
    }
    q->w.rec = &q->rec;
    q->w.queued = true;
    return q;
}

/* CAPV_OK with the prepared record of a report recorded recently, its body in `*body` (a
 * reference the caller gives back), or CAPV_E_NOT_FOUND. */
static capv_status memo_get(capvi_reg_record *r, capvi_reg_body **body, capv_registry *reg,
                            const char *json, size_t len)
{
    memset(r, 0, sizeof *r);
    *body = NULL;
    if (reg->memo == NULL || len > REG_MEMO_TEXT_MAX)
        return CAPV_E_NOT_FOUND;
    size_t cap = atomic_load(&reg->max_report);
    pthread_mutex_lock(&reg->memo_lock);
    struct capvi_reg_memo *m = &reg->memo[memo_slot(json, len)];
    if (m->text != NULL && m->cap == cap && m->text->len == len &&
        memcmp(m->text->text, json, len) == 0) {
        *r = m->r;
        *body = capvi_reg_body_get(m->body);
    }
    pthread_mutex_unlock(&reg->memo_lock);
    if (*body == NULL)
        return CAPV_E_NOT_FOUND;
    r->body = (*body)->text;
    r->body_len = (*body)->len;
    return CAPV_OK;
}

/* Remembers the report part of a prepared record of the report text `json`, and returns a
 * reference to the body it keeps (the same bytes as r->body), or NULL when out of memory or
 * the text is too long to keep. */
static capvi_reg_body *memo_put(capv_registry *reg, const char *json, const capvi_reg_record *r)
{
    if (reg->memo == NULL || r->body == NULL || !r->at_given || r->full_len > REG_MEMO_TEXT_MAX)
        return NULL;
    capvi_reg_body *text = capvi_reg_body_new(json, r->full_len);
    capvi_reg_body *body = r->summary ? capvi_reg_body_new(r->body, r->body_len)
                           : text     ? capvi_reg_body_get(text)
                                      : NULL;
    if (text == NULL || body == NULL) {
        capvi_reg_body_put(text);
        capvi_reg_body_put(body);
        return NULL;
    }
    pthread_mutex_lock(&reg->memo_lock);
    struct capvi_reg_memo *m = &reg->memo[memo_slot(json, r->full_len)];
    capvi_reg_body *old_text = m->text, *old_body = m->body;
    m->text = text;
    m->cap = atomic_load(&reg->max_report);
    m->r = *r;
    memset(m->r.request_id, 0, sizeof m->r.request_id);
    m->r.subject = NULL;
    m->r.body = NULL; /* the caller's text, or its summary: the slot's body instead */
    m->body = capvi_reg_body_get(body);
    pthread_mutex_unlock(&reg->memo_lock);
    capvi_reg_body_put(old_text);
    capvi_reg_body_put(old_body);
    return body;
}

/* Stores a prepared record: waits for the commit, or queues it (asynchronous recording),
 * with a reference to `shared` (NULL, or the same bytes as r->body) instead of a copy. */
static capv_status record_submit(int64_t *seq, capv_registry *reg, capvi_reg_record *r,
                                 capvi_reg_body *shared, capv_error *err)
{
    capv_status st;
    bool queued = capvi_reg_queue_enabled(reg);
    r->seq_wanted = !queued && seq != NULL; /* a queued record's seq is never reported */
    if (queued) {
        capv_reg_queued *q = record_copy(r, shared);
        st = q ? capvi_reg_enqueue(reg, q, err) : capvi_err_nomem(err);
    } else {
        capv_reg_write q;
        memset(&q, 0, sizeof q);
        q.rec = r;
        capvi_reg_submit(reg, &q);
        st = capvi_reg_write_result(&q, err);
        if ((st == CAPV_OK || st == CAPV_E_EXISTS) && seq != NULL)
            *seq = r->seq;
    }
    if (st == CAPV_OK && r->summary)
        atomic_fetch_add(&reg->summarized, 1);
    return st;
}

/* Records `v`, whose report (if any) is `report_len` bytes long and, when `root` is not NULL,
 * already parsed. The prepared report text is remembered (memo_put) when `remember`. */
static capv_status record(int64_t *seq, capv_registry *reg, const capv_registry_verification *v,
                          size_t report_len, const cJSON *root, bool remember, capv_error *err)
{
    capvi_reg_record r;
    memset(&r, 0, sizeof r);
    capv_buf sum = CAPV_BUF_INIT;
    capv_status st = record_fields(&r, reg, v, err);
    if (st == CAPV_OK)
        st = prepare_report(&r, reg, v, report_len, root, &sum, err);
    capvi_reg_body *kept = st == CAPV_OK && remember ? memo_put(reg, v->report_json, &r) : NULL;
    if (st == CAPV_OK)
        st = record_submit(seq, reg, &r, kept, err);
    capvi_reg_body_put(kept);
    capvi_buf_free(&sum);
    return st;
}

capv_status capv_registry_record(int64_t *seq, capv_registry *reg,
                                 const capv_registry_verification *v, capv_error *err)
{
    if (seq != NULL)
        *seq = 0;
    if (reg == NULL || v == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_registry_verification in = CAPV_REGISTRY_VERIFICATION_INIT;
    capv_status st = capvi_struct_read(&in, v, verification_sizes,
                                       sizeof verification_sizes / sizeof verification_sizes[0],
                                       "capv_registry_verification", err);
    if (st != CAPV_OK)
        return st;
    st = record(seq, reg, &in, in.report_json ? strlen(in.report_json) : 0, NULL, false, err);
    return capvi_err_done(err, st);
}

capv_status capv_registry_record_report(int64_t *seq, capv_registry *reg, const capv_report *report,
                                        const char *request_id, const char *subject,
                                        capv_error *err)
{
    if (reg == NULL || report == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    char *json = NULL;
    size_t len = 0;
    capv_status st = capv_report_to_json(&json, &len, report, 0, err);
    if (st != CAPV_OK)
        return st;
    st = capv_registry_record_report_json(seq, reg, json, len, request_id, subject, err);
    capv_free(json);
    return capvi_err_done(err, st);
}

capv_status capv_registry_record_report_json(int64_t *seq, capv_registry *reg, const char *json,
                                             size_t len, const char *request_id,
                                             const char *subject, capv_error *err)
{
    if (seq != NULL)
        *seq = 0;
    if (reg == NULL || json == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    /* the same report text as a recent one (a cached verdict): its prepared fields */
    capvi_reg_record r;
    capvi_reg_body *body = NULL;
    capv_status st;
    if (memo_get(&r, &body, reg, json, len) == CAPV_OK) {
        capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
        v.request_id = request_id;
        v.subject = subject;
        v.result = r.result;
        if ((st = record_caller_fields(&r, &v, err)) == CAPV_OK)
            st = record_submit(seq, reg, &r, body, err);
        capvi_reg_body_put(body);
        return capvi_err_done(err, st);
    }
    /* the tree lives only here: a typical report's nodes fit on the stack */
    max_align_t mem[REPORT_STACK_BYTES / sizeof(max_align_t)];
    capv_json_arena arena = CAPV_JSON_ARENA(mem);
    cJSON *root = NULL;
    if ((st = capvi_json_parse_in(&root, &arena, (const uint8_t *)json, len, err)) != CAPV_OK)
        goto out;
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    const cJSON *m;
    if (capvi_json_get_string(&v.result, root, "report", "result", true, err) != CAPV_OK ||
        capvi_json_get_string(&v.verified_at, root, "report", "verified_at", true, err) != CAPV_OK)
        CAPV_FAIL(err, CAPV_E_MALFORMED, "report", "not a verification report");
    /* hashes are null for multi-unit bundles */
    if ((m = capvi_json_get(root, "manifest_hash")) && cJSON_IsString(m))
        v.manifest_hash = m->valuestring;
    if ((m = capvi_json_get(root, "proof_hash")) && cJSON_IsString(m))
        v.proof_hash = m->valuestring;
    if ((m = capvi_json_get(root, "policy_hash")) && cJSON_IsString(m))
        v.policy_hash = m->valuestring;
    v.request_id = request_id;
    v.subject = subject;
    v.report_json = json;
    st = record(seq, reg, &v, len, root, true, err);
out:
    capvi_json_arena_release(&arena);
    return capvi_err_done(err, st);
}

/* The storage's look-up, which also sees the records this handle queued: on a miss while
 * records wait, the queue is written first (at most REG_READ_WAIT_MS) and the storage asked
 * again. A caller that was told CAPV_OK by capv_registry_record expects to find its record;
 * a miss is only an answer once nothing this handle accepted is still waiting. */
static capv_status verification_lookup(capv_registry_verification **out, capv_registry *reg,
                                       const char *request_id, capv_error *err)
{
    capv_status st = reg->be->verification_get(out, reg, request_id, err);
    if (st != CAPV_E_NOT_FOUND || !capvi_reg_queue_enabled(reg) ||
        capv_registry_stat_get(reg, CAPV_REGISTRY_STAT_QUEUE_DEPTH) == 0)
        return st;
    capv_error ferr = CAPV_ERROR_INIT;
    capv_status fst = capv_registry_flush(reg, REG_READ_WAIT_MS, &ferr);
    st = reg->be->verification_get(out, reg, request_id, err);
    if (st == CAPV_E_NOT_FOUND && fst != CAPV_OK)
        return capvi_err_set(err, CAPV_E_BUSY, "request_id",
                             "no verification under '%.200s' yet, and %s", request_id,
                             ferr.message);
    return st;
}

capv_status capv_registry_get_verification(capv_registry_verification **out, capv_registry *reg,
                                           const char *request_id, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || reg == NULL || request_id == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_error lerr_ = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr_;
    capv_status st = verification_lookup(out, reg, request_id, err);
    if (st == CAPV_E_NOT_FOUND)
        capvi_err_set(err, CAPV_E_NOT_FOUND, "request_id",
                      "no verification recorded under '%.200s'", request_id);
    return capvi_err_done(err, capvi_reg_note(reg, st, err));
}

capv_status capv_registry_get_report(char **out, size_t *out_len, capv_registry *reg,
                                     const char *request_id, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out_len != NULL)
        *out_len = 0;
    if (out == NULL || reg == NULL || request_id == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    /* the rule of record_caller_fields: an id no record can carry is a malformed question */
    if (!text_ok(request_id, 128))
        return capvi_err_set(err, CAPV_E_MALFORMED, "request_id",
                             "request_id must be 1..128 printable characters");
    capv_registry_verification *v = NULL;
    capv_status st = capv_registry_get_verification(&v, reg, request_id, err);
    if (st != CAPV_OK)
        return st;
    if (v->report_json == NULL) {
        capv_registry_verification_free(v);
        return capvi_err_set(err, CAPV_E_NOT_FOUND, "request_id",
                             "the verification '%.200s' was recorded without a report", request_id);
    }
    size_t n = strlen(v->report_json);
    char *copy = malloc(n + 1);
    if (copy == NULL) {
        capv_registry_verification_free(v);
        return capvi_err_nomem(err);
    }
    memcpy(copy, v->report_json, n + 1);
    capv_registry_verification_free(v);
    *out = copy;
    if (out_len != NULL)
        *out_len = n;
    return capvi_err_done(err, CAPV_OK);
}

void capv_registry_verification_free(capv_registry_verification *v)
{
    free(v);
}

/* ---- policies -------------------------------------------------------------------------- */

/* The size of each version of capv_registry_policy (docs/abi.md). */
static const size_t policy_sizes[] = { 0, offsetof(capv_registry_policy, ir_bytes),
                                       sizeof(capv_registry_policy) };
_Static_assert(sizeof policy_sizes / sizeof policy_sizes[0] == CAPV_REGISTRY_POLICY_VERSION + 1,
               "one size per version of capv_registry_policy");

static capv_status policy_run(capv_registry *reg, void *arg, capv_error *err)
{
    const capv_registry_policy *in = arg;
    uint8_t key[32], irk[32];
    if (in->policy_id == NULL || !text_ok(in->policy_id, 128))
        return capvi_err_set(err, CAPV_E_MALFORMED, "policy_id",
                             "policy_id must be 1..128 printable characters");
    if (in->policy_version == NULL || !text_ok(in->policy_version, 64))
        return capvi_err_set(err, CAPV_E_MALFORMED, "policy_version",
                             "policy_version must be 1..64 printable characters");
    if (in->policy_hash == NULL ||
        capv_digest_parse(key, in->policy_hash, strlen(in->policy_hash), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "policy_hash", "policy_hash is not a digest");
    if (in->ir_hash == NULL ||
        capv_digest_parse(irk, in->ir_hash, strlen(in->ir_hash), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_HEX, "ir_hash", "ir_hash is not a digest");
    if (in->ir_json == NULL ||
        capv_json_validate((const uint8_t *)in->ir_json, strlen(in->ir_json), NULL) != CAPV_OK)
        return capvi_err_set(err, CAPV_E_MALFORMED, "ir_json", "ir_json is not JSON");
    int64_t ms;
    if (in->created_at != NULL &&
        (strlen(in->created_at) > 64 ||
         capv_rfc3339_parse(&ms, in->created_at, strlen(in->created_at), NULL) != CAPV_OK))
        return capvi_err_set(err, CAPV_E_MALFORMED, "created_at",
                             "created_at must be an RFC 3339 time of at most 64 bytes");
    char at[32];
    capvi_reg_now(reg, at);
    return reg->be->policy_put(reg, in, key, irk, in->created_at ? in->created_at : at, err);
}

capv_status capv_registry_put_policy(capv_registry *reg, const capv_registry_policy *policy,
                                     capv_error *err)
{
    if (reg == NULL || policy == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_registry_policy in = CAPV_REGISTRY_POLICY_INIT;
    capv_status st =
        capvi_struct_read(&in, policy, policy_sizes, sizeof policy_sizes / sizeof policy_sizes[0],
                          "capv_registry_policy", err);
    if (st != CAPV_OK)
        return st;
    capv_reg_write q;
    memset(&q, 0, sizeof q);
    q.run = policy_run;
    q.arg = &in;
    q.changes_verdicts = true; /* policy.binding knows the registry's policies */
    capvi_reg_submit(reg, &q);
    return capvi_err_done(err, capvi_reg_write_result(&q, err));
}

capv_status capv_registry_put_policy_ir(capv_registry *reg, const capv_policy_ir *ir,
                                        capv_error *err)
{
    if (reg == NULL || ir == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_registry_policy p = CAPV_REGISTRY_POLICY_INIT;
    p.policy_id = capv_policy_ir_policy_id(ir);
    p.policy_version = capv_policy_ir_policy_version(ir);
    p.policy_hash = capv_policy_ir_policy_hash(ir);
    p.ir_hash = capv_policy_ir_hash(ir);
    p.ir_json = capv_policy_ir_json(ir, CAPV_POLICY_IR_PRETTY, NULL);
    if (p.policy_version == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, "policy_version",
                             "IR loaded from JSON does not carry its policy's version: store it "
                             "with capv_registry_put_policy");
    return capvi_err_done(err, capv_registry_put_policy(reg, &p, err));
}

/* capv_registry_get_policy (with_ir) or capv_registry_get_policy_head. */
static capv_status policy_get(capv_registry_policy **out, capv_registry *reg, const char *key,
                              bool with_ir, capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || reg == NULL || key == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_error lerr_ = CAPV_ERROR_INIT; /* the reason of a storage fault, for the health */
    if (err == NULL)
        err = &lerr_;
    capv_status st = with_ir ? reg->be->policy_get(out, reg, key, err)
                             : reg->be->policy_head(out, reg, key, err);
    if (st == CAPV_E_NOT_FOUND)
        capvi_err_set(err, CAPV_E_NOT_FOUND, NULL, "no stored policy '%.200s'", key);
    return capvi_err_done(err, capvi_reg_note(reg, st, err));
}

capv_status capv_registry_get_policy(capv_registry_policy **out, capv_registry *reg,
                                     const char *key, capv_error *err)
{
    return policy_get(out, reg, key, true, err);
}

capv_status capv_registry_get_policy_head(capv_registry_policy **out, capv_registry *reg,
                                          const char *key, capv_error *err)
{
    return policy_get(out, reg, key, false, err);
}

capv_status capvi_reg_policy_ir(capv_policy_ir **out, const capv_registry_policy *p,
                                capv_error *err)
{
    *out = NULL;
    capv_policy_ir *ir = NULL;
    capv_error lerr = CAPV_ERROR_INIT;
    capv_status st =
        capv_policy_ir_load(&ir, (const uint8_t *)p->ir_json, strlen(p->ir_json), &lerr);
    if (st == CAPV_E_MISMATCH)
        st = capvi_err_set(err, CAPV_E_MISMATCH, "ir_json",
                           "stored policy '%.100s': its IR does not hash to its own ir_hash "
                           "(damaged or altered store)",
                           p->policy_id);
    else if (st != CAPV_OK)
        st = capvi_err_set(err, st, lerr.field, "stored policy '%.100s': %s", p->policy_id,
                           lerr.message);
    else if (!capvi_digest_same(p->ir_hash, capv_policy_ir_hash(ir)))
        st = capvi_err_set(err, CAPV_E_MISMATCH, "ir_hash",
                           "stored policy '%.100s': its IR does not hash to the ir_hash stored "
                           "beside it (damaged or altered store)",
                           p->policy_id);
    if (st != CAPV_OK) {
        capv_policy_ir_free(ir);
        return st;
    }
    *out = ir;
    return CAPV_OK;
}

capv_status capv_registry_get_policy_ir(capv_policy_ir **out, capv_registry *reg, const char *key,
                                        capv_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || reg == NULL || key == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    capv_registry_policy *p = NULL;
    capv_status st = capv_registry_get_policy(&p, reg, key, err);
    if (st == CAPV_OK)
        st = capvi_reg_policy_ir(out, p, err);
    capv_registry_policy_free(p);
    return capvi_err_done(err, st);
}

void capv_registry_policy_free(capv_registry_policy *p)
{
    free(p);
}
