/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * The registry (docs/registry.md): registered proofs, recorded verifications and compiled
 * policies in one SQLite database, with JSON import/export, online backup, verified restore
 * and an integrity + signature check. Requires capv_global_init().
 *
 * Writers. Debian's SQLite 3.40.1 has the WAL-reset bug that corrupts a database when two
 * connections write or checkpoint at the same time. So one process, through one connection,
 * does every write and checkpoint: opening a database read-write takes an exclusive lock on
 * the database file itself (an open-file-description lock on one byte SQLite never locks,
 * so it is the same lock through any symbolic or hard link, and it also excludes a second
 * read-write handle in the same process; "<path>.lock" until 0.2); a second writer gets
 * CAPV_E_BUSY. Everything else opens the
 * database read-only (CAPV_REGISTRY_READ_ONLY), which never writes or checkpoints. A handle
 * opened with CAPV_REGISTRY_WRITER_THREAD runs a writer thread that takes writes from any
 * number of threads, commits them in batches (one transaction and one fsync per batch) and
 * returns from each write call only after its batch committed.
 *
 * Thread safety: a capv_registry handle is internally synchronized and may be shared by any
 * number of threads; reads run in parallel on its read-only connections (`readers`), writes
 * are serialized on its one read-write connection.
 *
 * Conventions of this header (docs/abi.md):
 *  - Every function returning capv_status is CAPV_WARN_UNUSED_RESULT. Outputs come first,
 *    `capv_error *err` (may be NULL) last. On failure err->code is the returned status; on
 *    success a non-NULL `err` is left as CAPV_ERROR_INIT would leave it.
 *  - Public structs start with `version` and are initialised with their _INIT macro. The
 *    library accepts any version from 1 to the current one (0 or a newer one is
 *    CAPV_E_INVALID_ARG), reads a field only when the caller's version has it (else its
 *    default), and never writes past the size of the caller's version. Structs the library
 *    allocates carry the current version; a caller built against an older header reads the
 *    fields its version has, at the same offsets.
 *  - Strings the library returns inside its structs belong to the struct's allocation. */
#ifndef CAPVERIFY_REGISTRY_H
#define CAPVERIFY_REGISTRY_H

#include <stdbool.h>

#include "keys.h"
#include "policy.h"
#include "verify.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The schema version this library creates and migrates to (PRAGMA user_version). Version 0
 * is an empty file or the existing implementation's schema (tables registry_meta and
 * registry_entries, with or without kid / signature_scheme). Version 2 keeps report bodies
 * once each in a `reports` table keyed by their SHA3-256; version 3 records verifications
 * faster (the CHECK on their result respelled, two unused indexes dropped; docs/registry.md).
 * Since 0.1. */
#define CAPV_REGISTRY_SCHEMA_VERSION 3

/** Progress of a long operation: `done` of `total` units (pages, entries); total 0 = unknown.
 * Since 0.1. */
typedef void (*capv_progress_fn)(void *user, uint64_t done, uint64_t total);

/* ---- opening --------------------------------------------------------------------------- */

/** An open registry. Since 0.1. */
typedef struct capv_registry capv_registry;

/** Flags of capv_registry_options. SYNC_NORMAL: synchronous=NORMAL instead of FULL (in WAL
 * mode a power loss may then lose the last commits, but never corrupts). Since 0.1. */
#define CAPV_REGISTRY_READ_ONLY 0x01u     /**< no writes, no migration, no lock; file must exist */
#define CAPV_REGISTRY_CREATE 0x02u        /**< read-write: create the file when missing */
#define CAPV_REGISTRY_NO_MIGRATE 0x04u    /**< an older schema is CAPV_E_STATE, not migrated */
#define CAPV_REGISTRY_SYNC_NORMAL 0x08u   /**< synchronous=NORMAL instead of FULL */
#define CAPV_REGISTRY_WRITER_THREAD 0x10u /**< batch writes on a writer thread (the daemon) */

/** The version of capv_registry_options that this header describes. */
#define CAPV_REGISTRY_OPTIONS_VERSION 3
/** Options of capv_registry_open. Since 0.1 (version 1); version 2 (Since 0.2) adds
 * max_report_bytes and retention_ms, so a handle starts with the limits it runs with;
 * version 3 (Since 0.2) adds asynchronous recording (record_queue_max, record_flush_ms). */
typedef struct capv_registry_options {
    unsigned int version;   /**< CAPV_REGISTRY_OPTIONS_VERSION */
    unsigned int flags;     /**< CAPV_REGISTRY_* */
    int busy_timeout_ms;    /**< how long a statement waits for a lock; 0 = 5000 */
    unsigned int readers;   /**< read-only connections for look-ups; 0 = 1 */
    unsigned int max_batch; /**< writer thread: most writes per transaction; 0 = 512 */
    capv_clock_fn clock;    /**< default registered_at / verified_at; NULL = system */
    void *clock_user;       /**< passed to `clock` */
    /* version 2 */
    size_t max_report_bytes; /**< as capv_registry_set_max_report_bytes; 0 = the default */
    int64_t retention_ms;    /**< as capv_registry_set_retention; 0 = keep forever */
    /** version 3: with CAPV_REGISTRY_WRITER_THREAD and record_queue_max > 0, verifications
     * are recorded asynchronously (capv_registry_record): queued, at most record_queue_max
     * of them, and written by the writer thread in batches at least every record_flush_ms
     * (0 = 5). 0 = each record waits for its commit. */
    size_t record_queue_max;
    int record_flush_ms; /**< version 3: see record_queue_max */
    /** version 3: for a PostgreSQL registry, a file whose first line is the database
     * password; NULL = libpq's own sources (PGPASSWORD, PGPASSFILE, ~/.pgpass) */
    const char *password_file;
} capv_registry_options;

/** Initialiser of a capv_registry_options: the current version, all else 0 or NULL. */
#define CAPV_REGISTRY_OPTIONS_INIT                                                                 \
    {                                                                                              \
        CAPV_REGISTRY_OPTIONS_VERSION, 0u, 0, 0u, 0u, NULL, NULL, 0u, 0, 0u, 0, NULL               \
    }

/** Whether a registry location is a PostgreSQL URL (it begins with postgresql:// or
 * postgres://, as libpq's URIs do) rather than a SQLite file path: the rule of
 * capv_registry_open. Since 0.2. */
CAPV_API bool capv_registry_location_is_postgres(const char *location);

/** Opens the registry at `path`: a PostgreSQL URL (postgresql://… or postgres://…, libpq's
 * URI syntax, TLS settings such as sslmode=verify-full in its query; Since 0.2) for a
 * registry shared by several processes (docs/registry.md "PostgreSQL backend"), or else a
 * SQLite database file (NULL = a private in-memory registry, read-write, gone when closed).
 * Both behave alike for every call below; the SQLite details follow. Read-write opens set
 * journal_mode=WAL, synchronous=FULL (or NORMAL), busy_timeout and foreign_keys=ON, take the
 * writer lock, and migrate an older schema (each
 * step in its own transaction) unless CAPV_REGISTRY_NO_MIGRATE. Errors: CAPV_E_INVALID_ARG
 * (bad options, an options version of 0 or newer than this library's), CAPV_E_NOT_FOUND (no
 * such file and no CREATE), CAPV_E_BUSY (another writer holds the lock), CAPV_E_STATE (schema
 * older than ours on a read-only or NO_MIGRATE open: run a migration), CAPV_E_UNSUPPORTED_FORMAT
 * (written by a newer version, or a SQLite file that is not a registry), CAPV_E_HEX /
 * CAPV_E_MALFORMED / CAPV_E_CONFLICT (a legacy row that cannot be migrated, named in
 * err->field; the file is left as it was), CAPV_E_IO. Storage faults are CAPV_E_STORAGE: a
 * file that is not a database ("… is not a valid registry database: file is not a
 * database"), a read-write open of a damaged one ("… is corrupt: <first PRAGMA quick_check
 * complaint>"; read-write opens run quick_check, whose cost grows with the file:
 * docs/registry.md), and a read-write open of a file or directory this process cannot write
 * ("… is read-only"; open with CAPV_REGISTRY_READ_ONLY to read it). `opts` NULL = defaults.
 * Free with capv_registry_close. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_open(capv_registry **out,
                                                                const char *path,
                                                                const capv_registry_options *opts,
                                                                capv_error *err);
/** Stops the writer thread (after committing what it has queued), closes every connection
 * (the read-write one last, which checkpoints) and releases the lock. NULL is a no-op.
 * Since 0.1. */
CAPV_API void capv_registry_close(capv_registry *reg);
/** Stops the writer thread (CAPV_REGISTRY_WRITER_THREAD) as capv_registry_close does: what
 * it has queued is written, a record dropped (and counted) only while the storage still
 * fails after a grace period, and the thread ends, with it the scheduled pruning and the
 * watch of other processes' writes. The handle stays usable: each write and record is then
 * made on the caller's thread before the call returns. Call it before reading the final
 * counters of a handle about to be closed (capv_registry_stat_get): they then count every
 * record it queued. Idempotent, and safe to call from several threads at once (each returns
 * once the thread has ended), though not beside capv_registry_close; a handle without the
 * writer thread and NULL are no-ops. Since 0.2. */
CAPV_API void capv_registry_stop_writer(capv_registry *reg);

/** The database path ("" for in-memory); borrowed, valid while the handle lives. Since 0.1. */
CAPV_API const char *capv_registry_path(const capv_registry *reg);
/** Whether the handle cannot write (true for NULL). Since 0.1; bool since 0.2. */
CAPV_API bool capv_registry_is_read_only(const capv_registry *reg);
/** The schema version found on disk when opening, before any migration (0 = empty or legacy;
 * -1 for NULL). Since 0.1. */
CAPV_API int capv_registry_found_version(const capv_registry *reg);
/** Whether that was the existing implementation's schema. Since 0.1; bool since 0.2. */
CAPV_API bool capv_registry_found_legacy(const capv_registry *reg);
/** Rows copied from legacy tables by the migration at open (0 when none ran). Since 0.1. */
CAPV_API uint64_t capv_registry_migrated_rows(const capv_registry *reg);

/** Signs entries added without a signature (capv_registry_add) with `key`: the entry
 * signature (docs/registry.md), its public key (base64), kid and signature_scheme "ed25519".
 * Borrowed: the key must outlive the handle or be unset with NULL. Set before sharing the
 * handle. Since 0.1. */
CAPV_API void capv_registry_set_signing_key(capv_registry *reg, const capv_signing_key *key);

/** Increases whenever this handle commits a change to the entries (add, import): a cache of
 * results that depend on the registry includes it in its key. On SQLite no other process
 * writes while this handle holds the writer lock. On PostgreSQL, where other replicas write,
 * a handle with its writer thread (CAPV_REGISTRY_WRITER_THREAD) asks the database every
 * second whether entries were added, and any addition increases it too; without the writer
 * thread other processes' writes are not seen. Thread-safe. Since 0.1. */
CAPV_API uint64_t capv_registry_generation(const capv_registry *reg);

/** Counters of capv_registry_stat_get. Since 0.1. */
typedef enum capv_registry_stat {
    CAPV_REGISTRY_STAT_WRITES = 0,         /**< write requests this handle's transactions
                                            * answered (added, found, in conflict): one run
                                            * again after a failure counts once (since 0.2) */
    CAPV_REGISTRY_STAT_COMMITS = 1,        /**< transactions committed (writes / commits =
                                            * batching) */
    CAPV_REGISTRY_STAT_PRUNED = 2,         /**< verifications removed by retention and prune */
    CAPV_REGISTRY_STAT_SUMMARIZED = 3,     /**< recorded reports stored as their summary */
    CAPV_REGISTRY_STAT_STORAGE_FAULTS = 4, /**< operations that failed with CAPV_E_STORAGE */
    /* asynchronous recording (Since 0.2): */
    CAPV_REGISTRY_STAT_QUEUE_DEPTH = 5,      /**< records waiting to be written (a level) */
    CAPV_REGISTRY_STAT_RECORDS_DROPPED = 6,  /**< records not queued: the queue was full
                                              * while the storage failed */
    CAPV_REGISTRY_STAT_RECORDS_REJECTED = 7, /**< queued records the storage refused
                                              * (CAPV_E_CONFLICT: a request id reused; or
                                              * one failing alone while others went in) */
    CAPV_REGISTRY_STAT_RECORDS_WRITTEN = 8   /**< queued records written (or already there) */
} capv_registry_stat;
/** A counter of this handle since it was opened (0 for an unknown `which`). Thread-safe.
 * Since 0.1. */
CAPV_API uint64_t capv_registry_stat_get(const capv_registry *reg, capv_registry_stat which);

/** Whether this handle is the registry's leader: the one process that runs scheduled
 * backups and retention pruning when several share a registry. A SQLite registry has one
 * writer, its leader (true for a read-write handle); a PostgreSQL registry elects one among
 * its handles with an advisory lock held by a session of the leader, taken over by another
 * handle at its next call once the leader closes or dies (docs/registry.md "Leadership").
 * CAPV_E_STORAGE (*leader false) when the database cannot be reached. Thread-safe.
 * Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_leader(bool *leader, capv_registry *reg,
                                                                  capv_error *err);

/* ---- limits, retention and the health of the storage ---------------------------------- */

/** @{ */
/** The default and the smallest report size cap, in bytes of report JSON. Since 0.1. */
#define CAPV_REGISTRY_DEFAULT_MAX_REPORT_BYTES 16384u
#define CAPV_REGISTRY_MIN_MAX_REPORT_BYTES 1024u
/** @} */

/** The largest report JSON a recorded verification stores (default 16384). A larger report is
 * stored as its summary instead: a JSON object with "summary":true, the result, the hashes
 * the report has, verified_at, the failing and warning checks (id, status, message cut to
 * 256 bytes on a character boundary), the full report's length ("report_bytes") and
 * SHA3-256 ("report_sha3_256"), and "checks_omitted", the number of such checks left out to
 * keep the summary itself within `max` (docs/registry.md has the exact shape). The summary
 * always fits: `max` below CAPV_REGISTRY_MIN_MAX_REPORT_BYTES is CAPV_E_INVALID_ARG.
 * SIZE_MAX stores every report whole. Thread-safe; applies to records made after the call.
 * Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_set_max_report_bytes(capv_registry *reg,
                                                                                size_t max,
                                                                                capv_error *err);

/** Keeps recorded verifications for `max_age_ms` milliseconds after their verified_at
 * (0 = forever, the default; negative is CAPV_E_INVALID_ARG). On a handle opened with
 * CAPV_REGISTRY_WRITER_THREAD the writer thread prunes older verifications by itself, in
 * small transactions (at most 1000 rows each) between write batches, at most once every
 * few seconds while nothing is left to prune, and at once after this call; the cutoff comes
 * from the handle's clock. Entries and policies are never pruned. Without a writer thread
 * nothing is pruned automatically: call capv_registry_prune. Thread-safe.
 * Since 0.1; `err` since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_set_retention(capv_registry *reg,
                                                                         int64_t max_age_ms,
                                                                         capv_error *err);

/** Removes every recorded verification whose verified_at is earlier than `before_ms`
 * (milliseconds since the epoch), and the stored report bodies no verification references
 * any more; entries and policies are kept. Runs as a series of small write transactions (at
 * most 1000 verifications each) through the writer thread when there is one, so concurrent
 * writes are never held up for long. `removed` (may be NULL) receives the number of
 * verifications removed, also when a later batch failed. Needs a read-write handle (else
 * CAPV_E_STATE); CAPV_E_STORAGE when the database cannot be written; CAPV_E_BUSY when
 * another prune of a shared (PostgreSQL) registry held the prune lock for longer than the
 * busy timeout (its steps are waited out until then). Thread-safe. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_prune(uint64_t *removed,
                                                                 capv_registry *reg,
                                                                 int64_t before_ms,
                                                                 capv_error *err);

/** Whether the registry's storage works, cheap enough for every readiness probe (no query:
 * a few system calls). CAPV_E_STORAGE when, for a read-write handle on a file, the file is no
 * longer writable, its file system is mounted read-only or has no free space left; or when
 * the last storage failure of any operation on this handle (corrupt, read-only, disk full,
 * I/O error) has not been followed by a successful write since (for a read-only handle: by a
 * successful read). With CAPV_REGISTRY_WRITER_THREAD the writer tries a one-row write every
 * second while such a failure is current, so the health recovers with the storage even when
 * no other write comes. Else CAPV_OK. The reason ("database is corrupt", "database is
 * read-only", "disk is full", "I/O error", with context) is err->message. Thread-safe.
 * Since 0.1; takes `err` instead of a detail buffer since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_health(const capv_registry *reg,
                                                                  capv_error *err);

/** Disk figures: `db_bytes` = the database file plus its write-ahead log, `free_bytes` = what
 * the file system holding it still has for this process (statvfs f_bavail * f_frsize).
 * Either pointer may be NULL. CAPV_E_UNSUPPORTED for an in-memory registry, CAPV_E_IO when
 * the files cannot be examined. Thread-safe. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_disk_usage(uint64_t *db_bytes,
                                                                      uint64_t *free_bytes,
                                                                      const capv_registry *reg,
                                                                      capv_error *err);
/** The size of the file system holding the registry (statvfs f_blocks * f_frsize), so that
 * free space can be judged as a share of it. Errors as capv_registry_disk_usage.
 * Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_filesystem_size(uint64_t *size_bytes,
                                                                           const capv_registry *reg,
                                                                           capv_error *err);

/* ---- entries --------------------------------------------------------------------------- */

/** The version of capv_registry_entry that this header describes. */
#define CAPV_REGISTRY_ENTRY_VERSION 1
/** A registry entry (docs/registry.md) plus policy_hash. As input (capv_registry_add) the
 * strings are borrowed; as output they belong to the entry's allocation. Hashes are digests
 * in any capv_digest_parse form; signature and public_key are standard base64 (0x-hex is
 * accepted on input). Since 0.1 (version 1). */
typedef struct capv_registry_entry {
    unsigned int version;         /**< CAPV_REGISTRY_ENTRY_VERSION */
    int64_t seq;                  /**< output: position in the registry (list cursor) */
    const char *id;               /**< input NULL = derived from the two hashes; a given id
                                       shaped as a derived one must be these hashes' own */
    const char *manifest_hash;    /**< required */
    const char *proof_hash;       /**< required */
    const char *timestamp_file;   /**< optional */
    const char *registered_at;    /**< RFC 3339; input NULL = now */
    const char *policy_hash;      /**< optional */
    const char *signature;        /**< optional; Ed25519 over BLAKE3 of the signed JSON */
    const char *public_key;       /**< optional; required with a signature */
    const char *kid;              /**< optional; our kid of public_key when we sign */
    const char *signature_scheme; /**< NULL or "ed25519" */
} capv_registry_entry;

/** Initialiser of a capv_registry_entry: the current version, all else 0 or NULL. */
#define CAPV_REGISTRY_ENTRY_INIT                                                                   \
    {                                                                                              \
        CAPV_REGISTRY_ENTRY_VERSION, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
    }

/** Frees an entry returned by the library. NULL is a no-op. Since 0.1. */
CAPV_API void capv_registry_entry_free(capv_registry_entry *entry);

/** The exact bytes an entry signature covers (docs/registry.md, "Entry signatures"): the
 * compact JSON {"id":…,"manifest_hash":…,"proof_hash":…,"timestamp_file":<string|null>,
 * "registered_at":…} of the entry's strings as they are. Caller frees with capv_free.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_entry_signed_bytes(
    uint8_t **out, size_t *out_len, const capv_registry_entry *entry, capv_error *err);

/** Checks an entry's signature: CAPV_OK when it verifies under the entry's own public key,
 * CAPV_E_MISSING when the entry is unsigned, CAPV_E_SIGNATURE when it does not verify,
 * CAPV_E_MALFORMED when signature / public_key / signature_scheme cannot be read. Whether the
 * key is trusted is the caller's decision (capv_trust_store_find). Thread-safe. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_entry_verify(const capv_registry_entry *entry, capv_error *err);

/** Registers an entry. Writes are idempotent, keyed by (manifest_hash, proof_hash):
 * @verbatim
 *   CAPV_OK           added (`*stored` = the entry as stored, with id, registered_at and, if
 *                     a signing key is set and the input was unsigned, the signature)
 *   CAPV_E_EXISTS     the same entry is already there (a retry); `*stored` = it
 *   CAPV_E_CONFLICT   an entry for these hashes (or this id) exists with different content;
 *                     it is never overwritten; `*stored` = it
 * @endverbatim
 * An input signature must verify (else CAPV_E_SIGNATURE); malformed fields are CAPV_E_HEX,
 * CAPV_E_BASE64, CAPV_E_MALFORMED with err->field naming them. On a storage shared with other
 * writers (PostgreSQL), a write the server fails as a deadlock's victim or a serialization
 * failure runs again in a new transaction; CAPV_E_BUSY only when that kept happening (retry
 * later). `stored` may be NULL; free it with capv_registry_entry_free. Needs a read-write
 * handle (else CAPV_E_STATE). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_add(capv_registry_entry **stored,
                                                               capv_registry *reg,
                                                               const capv_registry_entry *entry,
                                                               capv_error *err);

/** An entry as compact JSON: the signed fields (timestamp_file null when absent) and the
 * optional ones that are set. Caller frees with capv_free. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_entry_to_json(
    char **out, size_t *out_len, const capv_registry_entry *entry, capv_error *err);
/** Reads an entry from a JSON object (the body of the daemon's POST /registry/entries):
 * manifest_hash and proof_hash required; id, timestamp_file, registered_at, policy_hash,
 * signature, public_key, kid, signature_scheme optional (string or null); other keys are
 * CAPV_E_MALFORMED. Free with capv_registry_entry_free. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_entry_from_json(
    capv_registry_entry **out, const uint8_t *json, size_t len, capv_error *err);

/** @{ */
/** Look-ups: by id, or by the pair of hashes (any digest form). CAPV_E_NOT_FOUND when absent.
 * Free the result with capv_registry_entry_free. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_get(capv_registry_entry **out,
                                                               capv_registry *reg, const char *id,
                                                               capv_error *err);
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_find(capv_registry_entry **out,
                                                                capv_registry *reg,
                                                                const char *manifest_hash,
                                                                const char *proof_hash,
                                                                capv_error *err);
/** @} */

/** A page of entries in registration order. Since 0.1. */
typedef struct capv_registry_page capv_registry_page;

/** Lists up to `limit` (1..10000) entries with seq > `after` (0 = from the start), optionally
 * only those for one manifest_hash (NULL = all). Free with capv_registry_page_free.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_list(capv_registry_page **out,
                                                                capv_registry *reg,
                                                                const char *manifest_hash,
                                                                int64_t after, size_t limit,
                                                                capv_error *err);
/** The number of entries of the page. Since 0.1. */
CAPV_API size_t capv_registry_page_count(const capv_registry_page *page);
/** Borrowed, valid while the page lives; NULL when index >= count. Since 0.1. */
CAPV_API const capv_registry_entry *capv_registry_page_entry(const capv_registry_page *page,
                                                             size_t index);
/** The `after` of the next page, or 0 when this page is the last. Since 0.1. */
CAPV_API int64_t capv_registry_page_next(const capv_registry_page *page);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_registry_page_free(capv_registry_page *page);
/** The page as compact JSON `{"entries":[<entry>,…],"next":N|null}`, each entry as
 * capv_registry_entry_to_json writes it and next the `after` of the next page (null on the
 * last page): the body of the daemon's GET /registry/entries. Caller frees with capv_free.
 * Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_page_to_json(
    char **out, size_t *out_len, const capv_registry_page *page, capv_error *err);

/** Tables of capv_registry_count. Since 0.1. */
typedef enum capv_registry_table {
    CAPV_REGISTRY_ENTRIES = 0,       /**< registry entries */
    CAPV_REGISTRY_VERIFICATIONS = 1, /**< recorded verifications */
    CAPV_REGISTRY_POLICIES = 2       /**< stored policies */
} capv_registry_table;

/** Number of rows of a table. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_count(uint64_t *out, capv_registry *reg,
                                                                 capv_registry_table table,
                                                                 capv_error *err);

/* ---- verifications --------------------------------------------------------------------- */

/** The version of capv_registry_verification that this header describes. */
#define CAPV_REGISTRY_VERIFICATION_VERSION 1
/** A recorded verification. Since 0.1 (version 1). */
typedef struct capv_registry_verification {
    unsigned int version;      /**< CAPV_REGISTRY_VERIFICATION_VERSION */
    int64_t seq;               /**< output */
    const char *request_id;    /**< idempotency key; input NULL = a new random id */
    const char *subject;       /**< who asked (token `sub`), optional */
    const char *manifest_hash; /**< optional (multi-unit bundles have none) */
    const char *proof_hash;    /**< optional */
    const char *policy_hash;   /**< optional */
    const char *result;        /**< "ok" | "warn" | "fail" */
    const char *report_json;   /**< optional: the report */
    const char *verified_at;   /**< RFC 3339; input NULL = now */
} capv_registry_verification;

/** Initialiser of a capv_registry_verification: the current version, all else 0 or NULL. */
#define CAPV_REGISTRY_VERIFICATION_INIT                                                            \
    {                                                                                              \
        CAPV_REGISTRY_VERIFICATION_VERSION, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL      \
    }

/** Records one verification. Idempotent by request_id: CAPV_OK (recorded), CAPV_E_EXISTS (the
 * same record is there), CAPV_E_CONFLICT (that request_id was recorded with other content;
 * reports are compared by their SHA3-256). `seq` (may be NULL) receives the row's position.
 * The report is stored once per distinct content (identical reports share one stored body),
 * as its summary when it is larger than the cap (capv_registry_set_max_report_bytes).
 * Storage faults are CAPV_E_STORAGE.
 * With asynchronous recording (capv_registry_options version 3) the record is validated
 * (CAPV_E_MALFORMED, CAPV_E_HEX as above), queued and CAPV_OK returned at once, `seq` 0:
 * the writer writes it within record_flush_ms, retrying while the storage fails. A full
 * queue makes the call wait for room (up to 1 s) while the storage works; while it fails
 * (or when no room came), the record is dropped and CAPV_E_BUSY answered (counted:
 * CAPV_REGISTRY_STAT_RECORDS_DROPPED).
 * Closing the handle writes every queued record first (docs/registry.md). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_record(int64_t *seq, capv_registry *reg,
                     const capv_registry_verification *verification, capv_error *err);
/** Records a report: its verdict, hashes and compact JSON. request_id NULL = random.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_record_report(int64_t *seq, capv_registry *reg, const capv_report *report,
                            const char *request_id, const char *subject, capv_error *err);
/** Records a report given as its JSON (capv_report_to_json / capv_verify_zip_memory_json):
 * result, hashes and verified_at are read from it. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_record_report_json(int64_t *seq, capv_registry *reg, const char *json, size_t len,
                                 const char *request_id, const char *subject, capv_error *err);
/** Waits until every record queued before the call is written or refused (asynchronous
 * recording), at most `timeout_ms` (< 0: no limit): CAPV_OK, or CAPV_E_BUSY while records
 * still wait (the storage fails). Without asynchronous recording, CAPV_OK at once.
 * Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_flush(capv_registry *reg, int timeout_ms,
                                                                 capv_error *err);
/** The verification recorded under `request_id`; free with capv_registry_verification_free.
 * Its report_json is the report as stored: the report, or its summary ("summary":true) when
 * the report was larger than the cap when it was recorded. CAPV_E_NOT_FOUND when absent
 * (never recorded, or pruned). A record this handle accepted is found as soon as
 * capv_registry_record returned, also with asynchronous recording: a look-up that misses
 * while records of this handle are queued waits for them (at most 1 s, as
 * capv_registry_flush) and looks again; CAPV_E_BUSY when they could not be written in that
 * time (the storage fails: the answer is not known yet). Records queued by other processes
 * sharing a PostgreSQL registry are found once their writer wrote them. Since 0.1; finds this
 * handle's queued records since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_get_verification(
    capv_registry_verification **out, capv_registry *reg, const char *request_id, capv_error *err);
/** The report stored with the verification recorded under `request_id`, exactly as stored:
 * the report JSON as it was recorded (for capverifyd, the bytes its /verify answered), or
 * its summary ("summary":true) when it was larger than the cap. `*out` is NUL-terminated,
 * `*out_len` (may be NULL) its length; the caller frees it with capv_free. Looks up as
 * capv_registry_get_verification does (records this handle queued included). Errors:
 * CAPV_E_MALFORMED (err->field "request_id") for an id no record can carry (not 1..128
 * characters of UTF-8 without control characters); CAPV_E_NOT_FOUND when no verification is
 * recorded under it, or it was recorded without a report; CAPV_E_BUSY and CAPV_E_STORAGE as
 * capv_registry_get_verification. Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_get_report(char **out, size_t *out_len,
                                                                      capv_registry *reg,
                                                                      const char *request_id,
                                                                      capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_registry_verification_free(capv_registry_verification *verification);

/** A page of recorded verifications, newest first (docs/registry.md, "Listing
 * verifications"). Since 0.2. */
typedef struct capv_registry_verification_page capv_registry_verification_page;

/** Lists up to `limit` (1..10000) recorded verifications with seq < `before` (0 = from the
 * newest), newest first; with `result` ("ok", "warn" or "fail"; NULL = any) only those with
 * that result. The items carry no report_json (capv_registry_get_report reads it). Lists what
 * the storage holds: records still queued by asynchronous recording appear once written.
 * CAPV_E_INVALID_ARG for another result, a negative `before` or a limit out of range. Free
 * with capv_registry_verification_page_free. Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_list_verifications(capv_registry_verification_page **out, capv_registry *reg,
                                 const char *result, int64_t before, size_t limit, capv_error *err);
/** The number of verifications of the page. Since 0.2. */
CAPV_API size_t capv_registry_verification_page_count(const capv_registry_verification_page *page);
/** Borrowed, valid while the page lives; NULL when index >= count. Since 0.2. */
CAPV_API const capv_registry_verification *
capv_registry_verification_page_get(const capv_registry_verification_page *page, size_t index);
/** The `before` of the next (older) page, or 0 when this page is the last. Since 0.2. */
CAPV_API int64_t capv_registry_verification_page_next(const capv_registry_verification_page *page);
/** NULL is a no-op. Since 0.2. */
CAPV_API void capv_registry_verification_page_free(capv_registry_verification_page *page);
/** The page as compact JSON {"verifications":[{"seq","request_id","subject","manifest_hash",
 * "proof_hash","policy_hash","result","verified_at"},…],"next":N|null} (absent strings as
 * null; next the `before` of the next page): the body of the daemon's
 * GET /registry/verifications. Caller frees with capv_free. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_verification_page_to_json(
    char **out, size_t *out_len, const capv_registry_verification_page *page, capv_error *err);

/* ---- policies -------------------------------------------------------------------------- */

/** The version of capv_registry_policy that this header describes. */
#define CAPV_REGISTRY_POLICY_VERSION 2
/** A compiled policy (IR) stored by id, version and hash. The registry stores what it is
 * given; compiling and hashing is the policy module's business. Since 0.1 (version 1);
 * version 2 (0.2) adds ir_bytes. */
typedef struct capv_registry_policy {
    unsigned int version;       /**< CAPV_REGISTRY_POLICY_VERSION */
    const char *policy_id;      /**< the policy's id */
    const char *policy_version; /**< the policy's version */
    const char *policy_hash;    /**< digest, any form ("sha3-256:…" as IR v1 writes it) */
    const char *ir_hash;        /**< digest */
    const char *ir_json;        /**< the IR document */
    const char *created_at;     /**< output (input NULL = now) */
    uint64_t ir_bytes;          /**< output: the size of the stored IR text in bytes (not
                                     characters), also where ir_json is NULL; ignored on
                                     input. Since 0.2 (version 2). */
} capv_registry_policy;

/** Initialiser of a capv_registry_policy: the current version, all else 0 or NULL. */
#define CAPV_REGISTRY_POLICY_INIT                                                                  \
    {                                                                                              \
        CAPV_REGISTRY_POLICY_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0                        \
    }

/** Stores a policy: CAPV_OK, CAPV_E_EXISTS (same hash and IR already stored), CAPV_E_CONFLICT
 * (the hash, or the id + version, is stored with other content). Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_put_policy(capv_registry *reg, const capv_registry_policy *policy, capv_error *err);
/** Stores a compiled IR (capv_policy_compile) as capv_registry_put_policy does, with its
 * policy id, version, policy_hash, ir_hash and pretty IR text (capv_policy_ir_json
 * CAPV_POLICY_IR_PRETTY): what `capverify policy compile --registry` and the daemon's
 * POST /policy/compile with "persist" store. CAPV_OK, CAPV_E_EXISTS (already stored, the
 * same), CAPV_E_CONFLICT; CAPV_E_INVALID_ARG for an IR loaded from JSON (IR v1 does not carry
 * the policy version: store it with capv_registry_put_policy). Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_put_policy_ir(capv_registry *reg,
                                                                         const capv_policy_ir *ir,
                                                                         capv_error *err);
/** By hash when `key` is a digest, else by id (the most recently stored version). Free with
 * capv_registry_policy_free. CAPV_E_NOT_FOUND when absent. Since 0.1; ir_bytes since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_get_policy(capv_registry_policy **out,
                                                                      capv_registry *reg,
                                                                      const char *key,
                                                                      capv_error *err);
/** The stored policy `key` as capv_registry_get_policy finds it, without its IR text:
 * ir_json NULL, ir_bytes the text's size as the storage measures it. What a caller needs to
 * judge the memory a load (capv_registry_get_policy, capv_registry_get_policy_ir) will take
 * before it makes it: the daemon's GET /policy/{id} (docs/hardening.md "Memory budget").
 * Free with capv_registry_policy_free. CAPV_E_NOT_FOUND when absent, CAPV_E_INVALID_ARG for
 * a NULL argument. Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_get_policy_head(
    capv_registry_policy **out, capv_registry *reg, const char *key, capv_error *err);
/** The stored policy `key` (as capv_registry_get_policy) loaded as IR (capv_policy_ir_load,
 * which recomputes its ir_hash), whose ir_hash must also equal the one stored beside it:
 * CAPV_E_MISMATCH when either check fails (damaged or altered store), CAPV_E_NOT_FOUND when
 * absent. Free with capv_policy_ir_free. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_get_policy_ir(capv_policy_ir **out,
                                                                         capv_registry *reg,
                                                                         const char *key,
                                                                         capv_error *err);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_registry_policy_free(capv_registry_policy *policy);

/** A page of stored policies, in the order they were stored. Since 0.2. */
typedef struct capv_registry_policy_page capv_registry_policy_page;

/** Lists up to `limit` (1..10000) stored policies after position `after` (0 = from the
 * first), oldest first. The items carry no ir_json (capv_registry_get_policy reads it),
 * their ir_bytes (since 0.2).
 * Free with capv_registry_policy_page_free. Thread-safe. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_list_policies(capv_registry_policy_page **out, capv_registry *reg, int64_t after,
                            size_t limit, capv_error *err);
/** The number of policies of the page. Since 0.2. */
CAPV_API size_t capv_registry_policy_page_count(const capv_registry_policy_page *page);
/** Borrowed, valid while the page lives; NULL when index >= count. Since 0.2. */
CAPV_API const capv_registry_policy *
capv_registry_policy_page_get(const capv_registry_policy_page *page, size_t index);
/** The `after` of the next page, or 0 when this page is the last. Since 0.2. */
CAPV_API int64_t capv_registry_policy_page_next(const capv_registry_policy_page *page);
/** NULL is a no-op. Since 0.2. */
CAPV_API void capv_registry_policy_page_free(capv_registry_policy_page *page);
/** The page as compact JSON {"policies":[{"policy_id","policy_version","policy_hash",
 * "ir_hash","created_at"},…],"next":N|null}: the body of the daemon's GET /policies. Caller
 * frees with capv_free. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_policy_page_to_json(
    char **out, size_t *out_len, const capv_registry_policy_page *page, capv_error *err);

/* ---- JSON import / export (docs/registry.md) ------------------------------------------- */

#define CAPV_REGISTRY_IMPORT_VERIFY 0x1u /**< refuse an entry whose signature does not verify */

/** Imports {"registry_version":"1.0","entries":[…]} in one transaction: all or nothing.
 * Entries already present unchanged count as existing; a conflicting one (other content for
 * the same hashes or id) fails the import with CAPV_E_CONFLICT naming it in err->field; with
 * CAPV_REGISTRY_IMPORT_VERIFY a signed entry that capv_registry_entry_verify does not accept
 * fails it with that call's status (CAPV_E_SIGNATURE: it does not verify; CAPV_E_MALFORMED:
 * its signature, key or scheme cannot be read), the entry's id in err->field; unsigned
 * entries are accepted. `added` / `existing` may be NULL. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_import_json(
    size_t *added, size_t *existing, capv_registry *reg, const uint8_t *data, size_t len,
    unsigned int flags, capv_progress_fn progress, void *user, capv_error *err);

/** Receives output bytes; returns 0 on success, anything else aborts with CAPV_E_IO.
 * Since 0.1. */
typedef int (*capv_write_fn)(void *user, const uint8_t *data, size_t len);

/** capv_registry_export_json() flag: 2-space indentation. Since 0.1. */
#define CAPV_REGISTRY_EXPORT_PRETTY 0x1u
/** Writes every entry as registry JSON, in registration order, from one consistent snapshot.
 * Optional fields are written only when set; timestamp_file is always written (null when
 * unset) since the signature covers it. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_export_json(capv_registry *reg, unsigned int flags, capv_write_fn write,
                          void *write_user, capv_progress_fn progress, void *user, capv_error *err);

/* ---- check ------------------------------------------------------------------------------ */

/** The version of capv_registry_check_result that this header describes. */
#define CAPV_REGISTRY_CHECK_RESULT_VERSION 3
/** What capv_registry_check found. The caller allocates it and sets `version` (use
 * CAPV_REGISTRY_CHECK_RESULT_INIT): the library fills the fields of that version only.
 * Since 0.1 (version 1); version 2 (Since 0.2) adds verifications and reports; version 3
 * (Since 0.2) adds schema_differences and foreign_key_violations. */
typedef struct capv_registry_check_result {
    unsigned int version;      /**< CAPV_REGISTRY_CHECK_RESULT_VERSION, set by the caller */
    bool integrity_ok;         /**< PRAGMA integrity_check said "ok" */
    int schema_version;        /**< the registry's schema version */
    uint64_t entries;          /**< registry entries */
    uint64_t signed_entries;   /**< entries that carry a signature */
    uint64_t unsigned_entries; /**< entries without one */
    uint64_t bad_signatures;   /**< do not verify, or unreadable */
    uint64_t untrusted;        /**< valid, by a key not in the trust store (when one is given) */
    uint64_t kid_mismatches;   /**< declared kid differs from ours (reported, not a problem) */
    uint64_t malformed;        /**< rows whose fields cannot be read, entries whose look-up
                               * keys are not their hashes, stored reports that do not match
                               * their SHA3-256 key */
    uint64_t problems;         /**< integrity failure + bad_signatures + untrusted + malformed
                              * + schema_differences + foreign_key_violations */
    /* version 2 */
    uint64_t verifications; /**< recorded verifications in the snapshot */
    uint64_t reports;       /**< stored report bodies checked against their SHA3-256 key */
    /* version 3 */
    uint64_t schema_differences;     /**< schema objects (tables, indexes, triggers, views) that
                                      * are not exactly those this library creates for the
                                      * schema version, and ours that are missing */
    uint64_t foreign_key_violations; /**< rows referring to rows that do not exist */
} capv_registry_check_result;

/** Initialiser of a capv_registry_check_result: the current version, all else 0 or NULL. */
#define CAPV_REGISTRY_CHECK_RESULT_INIT                                                            \
    {                                                                                              \
        CAPV_REGISTRY_CHECK_RESULT_VERSION, false, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0           \
    }

/** Called for each problem found: `id` is the entry id ("" for database-level problems).
 * Since 0.1. */
typedef void (*capv_registry_problem_fn)(void *user, const char *id, capv_status code,
                                         const char *message);

/** Runs PRAGMA integrity_check and re-verifies every entry signature on one snapshot; with
 * `trust` also requires signers to be trusted; checks every stored report body against its
 * SHA3-256 key (CAPV_E_MISMATCH problems). Integrity complaints are reported with
 * CAPV_E_STORAGE. Since 0.2 it also compares the schema objects with exactly those this
 * library creates for the schema version (each difference a CAPV_E_MISMATCH problem naming
 * the object: a trigger, view, index or table of someone else's, a changed table, one of ours
 * missing) and runs PRAGMA foreign_key_check (each violation a CAPV_E_MALFORMED problem).
 * CAPV_OK when the check ran (look at result->problems); an error status
 * (CAPV_E_STORAGE when the file cannot be read) when it could not run. `result->version`
 * must be set (CAPV_E_INVALID_ARG otherwise): the fields of that version are reset and
 * filled, nothing beyond it is written. Since 0.1; the caller sets the version since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_check(capv_registry_check_result *result, capv_registry *reg,
                    const capv_trust_store *trust, capv_registry_problem_fn on_problem,
                    void *problem_user, capv_progress_fn progress, void *user, capv_error *err);

/* ---- backup / restore (docs/registry.md) ----------------------------------------------- */

/** A complete backup: the database file `registry-<ts>.sqlite` and its sidecar
 * `registry-<ts>.json` {format "capverify-backup.v1", created_at, sha3_256, size_bytes,
 * schema_version, entries, verifications, tool_version[, signature]}. Since 0.1; the optional
 * "signature" (Ed25519 over the sidecar, docs/registry.md "Signed backups") since 0.2. */
#define CAPV_BACKUP_FORMAT "capverify-backup.v1"

/** The version of capv_backup_info that this header describes. */
#define CAPV_BACKUP_INFO_VERSION 2
/** A backup as the library describes it (always allocated by the library, with the current
 * version; free with capv_backup_info_free). Since 0.1 (version 1); version 2 (Since 0.2)
 * adds signer_kid. */
typedef struct capv_backup_info {
    unsigned int version;     /**< CAPV_BACKUP_INFO_VERSION */
    const char *path;         /**< `<dir>/registry-<yyyymmddTHHMMSSZ>[-n].sqlite` */
    const char *sidecar_path; /**< the same name with ".json" for ".sqlite" */
    const char *created_at;   /**< RFC 3339 with milliseconds */
    const char *sha3_256;     /**< "0x…" of the database file */
    uint64_t size_bytes;      /**< size of the database file */
    int schema_version;       /**< the backed-up registry's schema version */
    uint64_t entries;         /**< registry entries in the backup */
    uint64_t verifications;   /**< recorded verifications in the backup */
    const char *tool_version; /**< what took the backup ("libcapverify 0.2.0") */
    /** version 2: the key id (capv_key_id) of the key that signed the sidecar, NULL when it is
     * unsigned. Verified (and, with a trust store, trusted) in what
     * capv_registry_backup_verify_with / capv_registry_restore_with return; only read from
     * the sidecar in a list. */
    const char *signer_kid;
} capv_backup_info;

/** Initialiser of a capv_backup_info: the current version, all else 0 or NULL. */
#define CAPV_BACKUP_INFO_INIT                                                                      \
    {                                                                                              \
        CAPV_BACKUP_INFO_VERSION, NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL                   \
    }

/** Frees a backup description the library returned. NULL is a no-op. Since 0.1. */
CAPV_API void capv_backup_info_free(capv_backup_info *info);

/** Takes an online backup of `reg` (read-only handles work; the writer keeps writing) into
 * `dir`: the SQLite backup API copies one consistent snapshot (every write committed before
 * the call) to a temporary file, which is switched to rollback-journal mode, counted,
 * fsynced and hashed, then renamed; the sidecar is written the same way last, so a backup
 * killed midway never leaves a file that looks complete. With `retain` > 0 only the newest
 * `retain` complete backups are kept afterwards. `*out` (may be NULL) describes the new
 * backup. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_backup(capv_backup_info **out, capv_registry *reg, const char *dir,
                     unsigned int retain, capv_progress_fn progress, void *user, capv_error *err);

/** The version of capv_backup_options that this header describes. */
#define CAPV_BACKUP_OPTIONS_VERSION 1
/** Options of capv_registry_backup_with. Since 0.2 (version 1). */
typedef struct capv_backup_options {
    unsigned int version;                /**< CAPV_BACKUP_OPTIONS_VERSION */
    unsigned int retain;                 /**< keep the newest `retain` backups; 0 = all */
    const capv_signing_key *signing_key; /**< signs the sidecar (borrowed); NULL = unsigned */
    capv_progress_fn progress;           /**< may be NULL */
    void *progress_user;                 /**< passed to `progress` */
} capv_backup_options;

/** Initialiser of a capv_backup_options: the current version, all else 0 or NULL. */
#define CAPV_BACKUP_OPTIONS_INIT                                                                   \
    {                                                                                              \
        CAPV_BACKUP_OPTIONS_VERSION, 0u, NULL, NULL, NULL                                          \
    }

/** capv_registry_backup with options: with `signing_key`, the sidecar carries an Ed25519
 * signature of its content by that key, named by its key id (docs/registry.md "Signed
 * backups"), which capv_registry_restore_with can require. Every temporary file is created
 * under a random name with O_EXCL | O_NOFOLLOW, so nothing planted in `dir` is written
 * through. A registry whose schema objects are not exactly those this library creates is not
 * backed up (CAPV_E_MISMATCH naming the object: run capv_registry_check). `opts` NULL = the
 * defaults; a version of 0 or newer than the library's is CAPV_E_INVALID_ARG. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_backup_with(capv_backup_info **out, capv_registry *reg, const char *dir,
                          const capv_backup_options *opts, capv_error *err);

/** @{ */
/** The complete backups in `dir` (sidecar readable and naming a file of the stated size),
 * newest first. Incomplete leftovers are ignored, and so is anything that is not a regular
 * file (a symbolic link, a FIFO, a directory; since 0.2). Free with capv_backup_list_free.
 * Since 0.1. */
typedef struct capv_backup_list capv_backup_list;
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_backup_list(capv_backup_list **out,
                                                                       const char *dir,
                                                                       capv_error *err);
/** @} */
/** The number of backups in the list. Since 0.1. */
CAPV_API size_t capv_backup_list_count(const capv_backup_list *list);
/** Borrowed, valid while the list lives; NULL when index >= count. Since 0.1. */
CAPV_API const capv_backup_info *capv_backup_list_get(const capv_backup_list *list, size_t index);
/** NULL is a no-op. Since 0.1. */
CAPV_API void capv_backup_list_free(capv_backup_list *list);

/** Deletes complete backups in `dir` beyond the newest `retain` (>= 1); `removed` may be NULL.
 * Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_backup_prune(size_t *removed,
                                                                        const char *dir,
                                                                        unsigned int retain,
                                                                        capv_error *err);

/** Verifies a backup file against its sidecar (the same name with ".json" for ".sqlite"):
 * size and SHA3-256, then on a private copy PRAGMA integrity_check, schema version (<= ours),
 * exactly the schema objects this library creates for that version (no trigger, view, index
 * or table of anyone else's, no changed column), PRAGMA foreign_key_check, the row counts and
 * every entry signature (capv_registry_entry_verify; unsigned entries pass). A signed sidecar
 * must verify. The backup and its sidecar must be regular files (a symbolic link is refused).
 * CAPV_E_NOT_FOUND (file or sidecar missing), CAPV_E_MISMATCH (size, hash or counts differ:
 * tampered or truncated; a schema object that is not ours, named in the message),
 * CAPV_E_MALFORMED (not a database, integrity_check or a foreign key fails), CAPV_E_SIGNATURE
 * (the sidecar's signature, or an entry's, does not verify), CAPV_E_UNSUPPORTED_FORMAT (newer
 * schema), CAPV_E_IO (a symbolic link or another non-regular file). `*out` (may be NULL) =
 * the sidecar's content. Since 0.1; schema, foreign keys, entry and sidecar signatures since
 * 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_backup_verify(capv_backup_info **out,
                                                                         const char *backup_path,
                                                                         capv_error *err);

#define CAPV_RESTORE_FORCE 0x1u /**< restore even while a writer holds the database (SQLite) */
/** only a backup whose sidecar is signed by a key of the trust store (Since 0.2) */
#define CAPV_RESTORE_REQUIRE_SIGNED 0x2u

/** Restores `backup_path` over the registry at `db_path`.
 *
 * A SQLite file: verifies the backup as capv_registry_backup_verify does on a copy next to
 * the database, migrates the copy if its schema is older, then, holding the writer lock,
 * moves the current database (and its WAL) aside to "<db>.pre-restore-<yyyymmddTHHMMSSZ>"
 * and renames the copy into place. Anything wrong before that leaves the current database
 * untouched; a failure in moving things is undone. CAPV_E_BUSY while a writer (the daemon)
 * holds the database, unless CAPV_RESTORE_FORCE (then the daemon must reopen: SIGHUP).
 * `previous` (may be NULL) receives the path the old database was kept at (NULL when there
 * was none; free with capv_free), on success and also on a failure after the old database
 * was moved aside: a step after the rename failed (the check that the file at `db_path` is
 * still the restored one, the fsync of the directory; the database there is the restored
 * one), or the undo of a failed rename was not whole (the message says so; the database was
 * not replaced, but it, with journal files of it, is also named `*previous`). A failure
 * with `*previous` NULL replaced no database (where there was none, the restored one may be
 * in place when a step after its rename failed). Since 0.2, `*previous` is set on such a
 * failure (before, it stayed NULL).
 *
 * A PostgreSQL URL (postgresql://… or postgres://…; Since 0.2): verifies the backup the same
 * way on a copy beside the backup (migrated if older), opens the registry (creating the
 * schema in an empty database; the password from libpq's sources: PGPASSWORD, PGPASSFILE,
 * ~/.pgpass, the URL), and in ONE transaction empties entries, verifications, reports,
 * policies and registry_meta (but the storage's own bookkeeping keys), loads the backup's
 * rows with their ids and sequence numbers and moves the sequences past them. The old
 * contents are gone, nothing keeps them: take a backup first (capv_registry_backup). Other
 * replicas go on reading the old contents until the commit; their writes wait for it.
 * Anything wrong before the commit leaves the registry as it was. `previous` stays NULL;
 * CAPV_RESTORE_FORCE is ignored (there is no file lock to force).
 * Since 0.1; PostgreSQL since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_restore(char **previous, const char *db_path, const char *backup_path,
                      unsigned int flags, capv_progress_fn progress, void *user, capv_error *err);

/** The version of capv_restore_options that this header describes. */
#define CAPV_RESTORE_OPTIONS_VERSION 1
/** Options of capv_registry_restore_with and capv_registry_backup_verify_with. Since 0.2
 * (version 1). */
typedef struct capv_restore_options {
    unsigned int version;          /**< CAPV_RESTORE_OPTIONS_VERSION */
    unsigned int flags;            /**< CAPV_RESTORE_FORCE, CAPV_RESTORE_REQUIRE_SIGNED */
    const capv_trust_store *trust; /**< keys that may sign backups (borrowed); NULL = none */
    capv_progress_fn progress;     /**< may be NULL */
    void *progress_user;           /**< passed to `progress` */
} capv_restore_options;

/** Initialiser of a capv_restore_options: the current version, all else 0 or NULL. */
#define CAPV_RESTORE_OPTIONS_INIT                                                                  \
    {                                                                                              \
        CAPV_RESTORE_OPTIONS_VERSION, 0u, NULL, NULL, NULL                                         \
    }

/** capv_registry_backup_verify with options. A signed sidecar's signature must always verify
 * (CAPV_E_SIGNATURE); with `trust`, its key must also be in the store and valid at the
 * backup's created_at (CAPV_E_UNTRUSTED, CAPV_E_REVOKED, CAPV_E_EXPIRED,
 * CAPV_E_NOT_YET_VALID); with CAPV_RESTORE_REQUIRE_SIGNED (which needs `trust`, else
 * CAPV_E_INVALID_ARG) an unsigned backup is CAPV_E_UNTRUSTED. `(*out)->signer_kid` names the
 * signer. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_backup_verify_with(capv_backup_info **out, const char *backup_path,
                                 const capv_restore_options *opts, capv_error *err);

/** capv_registry_restore with options: the backup is verified as by
 * capv_registry_backup_verify_with (signature policy included) before anything is changed.
 * The writer lock is the database file's own (docs/registry.md "Connections and the single
 * writer"): a daemon holding the file through another name (a symbolic or hard link) still
 * makes it CAPV_E_BUSY. A `db_path` that is a symbolic link restores the file it names.
 * `previous` as for capv_registry_restore, set also by a failure after the old database was
 * moved aside. Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status
capv_registry_restore_with(char **previous, const char *db_path, const char *backup_path,
                           const capv_restore_options *opts, capv_error *err);

/** The version of capv_registry_copy_result that this header describes. */
#define CAPV_REGISTRY_COPY_RESULT_VERSION 1
/** What capv_registry_copy copied. The caller allocates it and sets `version` (use
 * CAPV_REGISTRY_COPY_RESULT_INIT): the library fills the fields of that version only.
 * Since 0.2 (version 1). */
typedef struct capv_registry_copy_result {
    unsigned int version;         /**< CAPV_REGISTRY_COPY_RESULT_VERSION, set by the caller */
    uint64_t entries;             /**< rows copied */
    uint64_t verifications;       /**< verifications copied */
    uint64_t reports;             /**< stored report bodies */
    uint64_t policies;            /**< stored policies copied */
    uint64_t signatures_verified; /**< entries of `to` whose signature verified afterwards */
} capv_registry_copy_result;

/** Initialiser of a capv_registry_copy_result: the current version, all else 0 or NULL. */
#define CAPV_REGISTRY_COPY_RESULT_INIT                                                             \
    {                                                                                              \
        CAPV_REGISTRY_COPY_RESULT_VERSION, 0, 0, 0, 0, 0                                           \
    }

/** Copies every row of `from` into `to`, between storages or within one kind (SQLite file or
 * PostgreSQL, docs/registry.md "Copy between storages"): registry_meta but the storage's own
 * bookkeeping keys, entries, reports, verifications and policies, with the same ids,
 * sequence numbers and texts, so entry signatures stay valid. `from` is read in one snapshot
 * (read-only handles work; its writers go on); `to` is written in ONE transaction of its
 * writer (a read-write handle), which first requires it to hold no entries, verifications
 * or policies (CAPV_E_STATE otherwise, nothing written) and, before committing, its row
 * counts to equal the rows read (CAPV_E_MISMATCH otherwise, nothing written). A PostgreSQL
 * `to` gets its sequences moved past the copied numbers, so later inserts do not collide;
 * its other writers wait for the commit. Afterwards every entry of `to` that carries a
 * signature is verified (capv_registry_entry_verify): CAPV_E_MISMATCH naming the first that
 * does not (the copy is then committed: discard it). CAPV_E_INVALID_ARG for NULL, for
 * to == from, or a result version of 0 or newer than the library's; CAPV_E_STATE for a
 * read-only `to` (a backup running on a PostgreSQL `from` in another thread is waited for);
 * storage errors of either side as their operations report them. `progress` (may be NULL)
 * is called every 4096 rows with the rows so far and a total of 0 (unknown), on the thread
 * that runs `to`'s writes (its writer thread when it has one). `result` (may be NULL) is
 * filled within its version's size, also on failure (the rows copied so far: 0 when
 * nothing was committed). Since 0.2. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_registry_copy(capv_registry_copy_result *result,
                                                                capv_registry *to,
                                                                capv_registry *from,
                                                                capv_progress_fn progress,
                                                                void *user, capv_error *err);

/* ---- verification hookup --------------------------------------------------------------- */

/** Uses `reg` for the verifier's `registry` check (borrowed: it must outlive the verifier, or
 * be replaced). NULL removes it. Changes the verifier's epoch. Since 0.1. */
CAPV_API void capv_verifier_set_registry(capv_verifier *v, capv_registry *reg);

/** Loads a registry for the `registry` check from `path`: a JSON registry (a file whose first
 * non-blank byte is '{') is read into memory; anything else is opened as a SQLite registry,
 * read-only. The verifier owns it. Since 0.1. */
CAPV_API CAPV_WARN_UNUSED_RESULT capv_status capv_verifier_load_registry(capv_verifier *v,
                                                                         const char *path,
                                                                         capv_error *err);

/** The verifier's registry (borrowed or owned), or NULL. Since 0.1. */
CAPV_API capv_registry *capv_verifier_registry(const capv_verifier *v);

#ifdef __cplusplus
}
#endif

#endif
