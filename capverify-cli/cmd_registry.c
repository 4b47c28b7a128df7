/* SPDX-License-Identifier: Apache-2.0 */
/* capverify registry init|add|list|show|verification|check|import|export|backup|restore|copy|
 * migrate|prune — the registry (docs/registry.md): a SQLite file or a PostgreSQL database. Commands that
 * only read (list, show, check, export, backup) open the database read-only, so they are safe
 * on a live database that capverifyd holds; commands that write take the writer lock and
 * refuse while a daemon holds it. */
#include "cmd_registry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_registry_remote.h"
#include "input.h"

#define IMPORT_MAX (1024u * 1024u * 1024u)

static void registry_usage(FILE *f)
{
    fprintf(f,
            "usage: capverify registry COMMAND --db PATH [options]\n\n"
            "The registry database of registered proofs, recorded verifications and policies:\n"
            "a SQLite file, or a PostgreSQL database given as a postgresql:// URL. --db (or\n"
            "--registry) defaults to $CAPV_REGISTRY_PATH. Add --json for machine output. The\n"
            "password of a PostgreSQL URL comes from --password-file FILE (its first line;\n"
            "for every URL of the command), else from libpq's PGPASSWORD, PGPASSFILE or\n"
            "~/.pgpass.\n\n"
            "commands:\n"
            "  init                         create the database (or migrate an existing one)\n"
            "  add --manifest-hash H --proof-hash H [--id ID] [--timestamp-file NAME]\n"
            "      [--policy-hash H] [--registered-at RFC3339]\n"
            "      [--signature B64 --public-key B64 [--kid KID] | --sign-key KEY.pem]\n"
            "                               register an entry (idempotent: a retry says exists,\n"
            "                               other content for the same hashes is a conflict),\n"
            "                               signed by the caller (--kid: the key id it\n"
            "                               declares) or with the key; an ID of the form of\n"
            "                               a derived id (lower-case UUID version 8) must be\n"
            "                               the one the hashes derive\n"
            "  add --package PATH [...]     the same, with the hashes of a package\n"
            "  list [--manifest-hash H] [--after SEQ] [--limit N]\n"
            "                               entries in registration order, one page\n"
            "  show ID | show --manifest-hash H --proof-hash H\n"
            "  verification REQUEST_ID      the report recorded for a request (the daemon's\n"
            "                               request_id), exactly as stored: what\n"
            "                               GET /registry/verifications/{request_id} answers\n"
            "  check [--trust DIR]          integrity_check, foreign keys, the schema objects\n"
            "                               and every entry signature\n"
            "  import FILE [--no-verify]    import a JSON registry (registry_version 1.0)\n"
            "  export [--output FILE [--force]] [--compact]\n"
            "                               write the JSON registry (default: standard output)\n"
            "  backup --dir DIR [--retain N] [--sign-key KEY.pem]\n"
            "                               online backup with a SHA3-256 sidecar (signed with\n"
            "                               the Ed25519 key: docs/registry.md)\n"
            "  backup --list --dir DIR      list complete backups, newest first\n"
            "  backup --upload [--dir DIR] [--s3-retain N]\n"
            "                               with --db: back up, then copy the backup off-site;\n"
            "                               without: copy the newest backup of DIR off-site\n"
            "  backup --list --remote       list the complete off-site backups, newest first\n"
            "  restore --from BACKUP [--force] [--check-only] [--require-signed --trust DIR]\n"
            "                               verify a backup and swap it in (the old database is\n"
            "                               kept as DB.pre-restore-<time>); into a PostgreSQL\n"
            "                               --db its rows replace the contents in one\n"
            "                               transaction and nothing keeps the old ones: take a\n"
            "                               backup first (password: PGPASSWORD or PGPASSFILE);\n"
            "                               BACKUP may be s3://BUCKET/KEY: downloaded (into\n"
            "                               --dir DIR if given) and verified first;\n"
            "                               --require-signed: only a backup whose sidecar a key\n"
            "                               of the trust directory signed\n");
    fprintf(f,
            "  copy --from A --to B         copy every row of registry A into the empty registry\n"
            "                               B (files or postgresql:// URLs; a missing B file is\n"
            "                               created), in one transaction, then check the counts\n"
            "                               and every entry signature\n"
            "  migrate                      migrate to the current schema version\n"
            "  prune --before DATE          remove verifications recorded before DATE (RFC 3339\n"
            "                               or YYYY-MM-DD, midnight UTC) and the stored reports\n"
            "                               only they used; entries and policies stay\n\n"
            "Off-site copies go to an S3-compatible store (docs/registry.md): --s3-url\n"
            "s3://BUCKET[/PREFIX], --s3-endpoint https://HOST[:PORT], --s3-region R,\n"
            "--s3-path-style, --s3-credentials-file FILE (an AWS credentials file; else\n"
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), --s3-ca-file PEM,\n"
            "--s3-part-size BYTES, --s3-attempts N; each also as CAPV_BACKUP_S3_<NAME>\n"
            "(URL, ENDPOINT, REGION, PATH_STYLE=true, CREDENTIALS_FILE, CA_FILE, RETAIN).\n\n"
            "Exit codes: 0 ok, 1 uploaded but the --s3-retain pruning failed, 2 conflict /\n"
            "check problems / tampered backup, 3 usage, 4 malformed input, 5 unavailable\n"
            "(missing file, I/O, a corrupt, read-only or full database, database held by a\n"
            "writer).\n");
}

/* The options of the subcommands (the values of their struct option), above any character
 * and below the S3 settings' (cmd_registry_remote.h). */
enum {
    OPT_JSON = 256,
    OPT_DB,
    OPT_PASSWORD_FILE,
    OPT_MANIFEST_HASH,
    OPT_PROOF_HASH,
    OPT_ID,
    OPT_TIMESTAMP_FILE,
    OPT_POLICY_HASH,
    OPT_REGISTERED_AT,
    OPT_SIGNATURE,
    OPT_PUBLIC_KEY,
    OPT_KID,
    OPT_SIGN_KEY,
    OPT_PACKAGE,
    OPT_AFTER,
    OPT_LIMIT,
    OPT_TRUST,
    OPT_NO_VERIFY,
    OPT_OUTPUT,
    OPT_COMPACT,
    OPT_DIR,
    OPT_RETAIN,
    OPT_LIST,
    OPT_FROM,
    OPT_TO,
    OPT_FORCE,
    OPT_CHECK_ONLY,
    OPT_REQUIRE_SIGNED,
    OPT_BEFORE
};

#define REQ(name, val)                                                                             \
    {                                                                                              \
        name, required_argument, NULL, val                                                         \
    }
#define FLAG(name, val)                                                                            \
    {                                                                                              \
        name, no_argument, NULL, val                                                               \
    }

/* Every subcommand's: --db (alias --registry), --password-file, --json, --help. */
static const struct option common_options[] = { REQ("db", OPT_DB),
                                                REQ("registry", OPT_DB),
                                                REQ("password-file", OPT_PASSWORD_FILE),
                                                FLAG("json", OPT_JSON),
                                                CLI_OPT_HELP,
                                                { 0 } };
static const struct option add_options[] = { REQ("manifest-hash", OPT_MANIFEST_HASH),
                                             REQ("proof-hash", OPT_PROOF_HASH),
                                             REQ("id", OPT_ID),
                                             REQ("timestamp-file", OPT_TIMESTAMP_FILE),
                                             REQ("policy-hash", OPT_POLICY_HASH),
                                             REQ("registered-at", OPT_REGISTERED_AT),
                                             REQ("signature", OPT_SIGNATURE),
                                             REQ("public-key", OPT_PUBLIC_KEY),
                                             REQ("kid", OPT_KID),
                                             REQ("sign-key", OPT_SIGN_KEY),
                                             REQ("package", OPT_PACKAGE),
                                             { 0 } };
static const struct option list_options[] = {
    REQ("manifest-hash", OPT_MANIFEST_HASH), REQ("after", OPT_AFTER), REQ("limit", OPT_LIMIT), { 0 }
};
static const struct option show_options[] = { REQ("manifest-hash", OPT_MANIFEST_HASH),
                                              REQ("proof-hash", OPT_PROOF_HASH),
                                              { 0 } };
static const struct option check_options[] = { REQ("trust", OPT_TRUST), { 0 } };
static const struct option import_options[] = { FLAG("no-verify", OPT_NO_VERIFY), { 0 } };
static const struct option export_options[] = {
    REQ("output", OPT_OUTPUT), FLAG("compact", OPT_COMPACT), FLAG("force", OPT_FORCE), { 0 }
};
static const struct option backup_options[] = { REQ("dir", OPT_DIR),
                                                REQ("retain", OPT_RETAIN),
                                                REQ("sign-key", OPT_SIGN_KEY),
                                                FLAG("list", OPT_LIST),
                                                { 0 } };
static const struct option restore_options[] = { REQ("from", OPT_FROM),
                                                 REQ("dir", OPT_DIR),
                                                 FLAG("force", OPT_FORCE),
                                                 FLAG("check-only", OPT_CHECK_ONLY),
                                                 FLAG("require-signed", OPT_REQUIRE_SIGNED),
                                                 REQ("trust", OPT_TRUST),
                                                 { 0 } };
static const struct option copy_options[] = { REQ("from", OPT_FROM), REQ("to", OPT_TO), { 0 } };
static const struct option prune_options[] = { REQ("before", OPT_BEFORE), { 0 } };
static const struct option no_options[] = { { 0 } };

#define MAX_OPTIONS 64

/* Returned by the steps below when the command goes on; anything else is its exit code. */
#define GO_ON (-1)

/* A subcommand's options, parsed: the common ones, and its own in the order given. */
typedef struct opts {
    const char *db;
    bool db_given; /* --db on the command line (not CAPV_REGISTRY_PATH) */
    bool json;
    const char *cmd;
    const char *password_file; /* for PostgreSQL URLs; NULL: libpq's sources */
    size_t n;
    struct {
        int opt;
        const char *arg;
    } given[MAX_OPTIONS];
} opts;

/* Exit code for a failed library call; a schema that needs migrating is not an internal
 * error but something the operator fixes (exit 5). */
static int fail(const char *what, capv_status st, const capv_error *err)
{
    int rc = cli_report(what, st, err);
    return st == CAPV_E_STATE ? EXIT_UNAVAILABLE : rc;
}

/* ---- progress on a terminal ------------------------------------------------------------ */

typedef struct progress {
    const char *label;
    int last;
    bool shown;
} progress;

static void on_progress(void *user, uint64_t done, uint64_t total)
{
    progress *p = user;
    int pct = total ? (int)(done * 100 / total) : -1;
    if (pct == p->last)
        return;
    p->last = pct;
    p->shown = true;
    if (pct >= 0)
        fprintf(stderr, "\r%s %3d%%", p->label, pct);
    else
        fprintf(stderr, "\r%s %llu", p->label, (unsigned long long)done);
}

static capv_progress_fn progress_fn(progress *p, const char *label)
{
    p->label = label;
    p->last = -2;
    p->shown = false;
    return isatty(STDERR_FILENO) ? on_progress : NULL;
}

static void progress_end(progress *p)
{
    if (p->shown)
        fputc('\n', stderr);
}

/* ---- output helpers -------------------------------------------------------------------- */

/* An entry as the library writes it (as the daemon answers it). 0 or an exit code. */
static int print_entry_json(const capv_registry_entry *e)
{
    char *json = NULL;
    size_t len = 0;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_entry_to_json(&json, &len, e, &err);
    if (st != CAPV_OK)
        return fail("registry", st, &err);
    fwrite(json, 1, len, stdout);
    capv_free(json);
    return 0;
}

static const char *signature_state(const capv_registry_entry *e)
{
    switch (capv_registry_entry_verify(e, NULL)) {
    case CAPV_OK: return "valid";
    case CAPV_E_MISSING: return "unsigned";
    case CAPV_E_SIGNATURE: return "INVALID";
    default: return "MALFORMED";
    }
}

static void print_entry_human(const capv_registry_entry *e)
{
    printf("id               %s\n", e->id);
    printf("seq              %lld\n", (long long)e->seq);
    printf("manifest_hash    %s\n", e->manifest_hash);
    printf("proof_hash       %s\n", e->proof_hash);
    printf("timestamp_file   %s\n", e->timestamp_file ? e->timestamp_file : "-");
    printf("registered_at    %s\n", e->registered_at);
    printf("policy_hash      %s\n", e->policy_hash ? e->policy_hash : "-");
    printf("signature        %s\n", signature_state(e));
    if (e->public_key)
        printf("public_key       %s\n", e->public_key);
    if (e->kid)
        printf("kid              %s\n", e->kid);
}

/* ---- opening --------------------------------------------------------------------------- */

static int open_at(capv_registry **reg, const opts *o, const char *where, unsigned int flags)
{
    capv_registry_options ro = CAPV_REGISTRY_OPTIONS_INIT;
    ro.flags = flags;
    ro.password_file = o->password_file;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_open(reg, where, &ro, &err);
    if (st == CAPV_OK)
        return 0;
    return fail(capv_registry_location_is_postgres(where) ? "registry" : where, st, &err);
}

static int open_db(capv_registry **reg, const opts *o, unsigned int flags)
{
    return open_at(reg, o, o->db, flags);
}

/* ---- commands -------------------------------------------------------------------------- */

/* A registry is named by its location: a PostgreSQL URL without its password. */
static int do_init(const opts *o, char **operands)
{
    (void)operands;
    bool pg = capv_registry_location_is_postgres(o->db);
    bool existed = !pg && access(o->db, F_OK) == 0;
    capv_registry *reg = NULL;
    int rc = open_db(&reg, o, CAPV_REGISTRY_CREATE);
    if (rc != 0)
        return rc;
    int from = capv_registry_found_version(reg);
    if (pg)
        existed = from > 0; /* a schema holding no registry yet was created */
    const char *where = capv_registry_path(reg);
    if (o->json) {
        fputs("{\"path\":", stdout);
        cli_print_json_string(stdout, where);
        printf(",\"created\":%s,\"found_version\":%d,\"legacy\":%s,\"schema_version\":%d}\n",
               existed ? "false" : "true", from, capv_registry_found_legacy(reg) ? "true" : "false",
               CAPV_REGISTRY_SCHEMA_VERSION);
    } else if (!existed)
        printf("created %s (schema version %d)\n", where, CAPV_REGISTRY_SCHEMA_VERSION);
    else if (from < CAPV_REGISTRY_SCHEMA_VERSION)
        printf("migrated %s from schema version %d%s to %d\n", where, from,
               capv_registry_found_legacy(reg) ? " (legacy)" : "", CAPV_REGISTRY_SCHEMA_VERSION);
    else
        printf("%s is already at schema version %d\n", where, CAPV_REGISTRY_SCHEMA_VERSION);
    capv_registry_close(reg);
    return 0;
}

static int do_migrate(const opts *o, char **operands)
{
    (void)operands;
    capv_registry *reg = NULL;
    int rc = open_db(&reg, o, 0);
    if (rc != 0)
        return rc;
    int from = capv_registry_found_version(reg);
    bool legacy = capv_registry_found_legacy(reg);
    unsigned long long rows = (unsigned long long)capv_registry_migrated_rows(reg);
    const char *where = capv_registry_path(reg);
    if (o->json) {
        fputs("{\"path\":", stdout);
        cli_print_json_string(stdout, where);
        printf(",\"from_version\":%d,\"legacy\":%s,\"to_version\":%d,\"migrated_rows\":%llu}\n",
               from, legacy ? "true" : "false", CAPV_REGISTRY_SCHEMA_VERSION, rows);
    } else if (from == CAPV_REGISTRY_SCHEMA_VERSION)
        printf("%s is already at schema version %d\n", where, from);
    else
        printf("migrated %s from schema version %d%s to %d (%llu legacy entries copied)\n", where,
               from, legacy ? " (legacy)" : "", CAPV_REGISTRY_SCHEMA_VERSION, rows);
    capv_registry_close(reg);
    return 0;
}

/* The hashes a registry entry names a package by (capv_package_hashes), read under the
 * limits `capverify verify` applies. 0 or an exit code (reported). */
static int package_hashes(const char *path, char mh[CAPV_DIGEST_HEX_SIZE],
                          char ph[CAPV_DIGEST_HEX_SIZE], char pol[CAPV_DIGEST_HEX_SIZE])
{
    capv_package_limits *limits = NULL;
    capv_package *pkg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_package_limits_new(&limits, &err);
    if (st == CAPV_OK)
        st =
            capv_package_limits_set(limits, CAPV_LIMIT_TOTAL_BYTES, CAPV_CLI_MAX_TOTAL_BYTES, &err);
    if (st == CAPV_OK)
        st =
            capv_package_limits_set(limits, CAPV_LIMIT_ENTRY_BYTES, CAPV_CLI_MAX_TOTAL_BYTES, &err);
    if (st == CAPV_OK)
        st = capv_package_open(&pkg, path, limits, &err);
    if (st == CAPV_OK)
        st = capv_package_hashes(mh, ph, pol, pkg, &err);
    capv_package_free(pkg);
    capv_package_limits_free(limits);
    return st == CAPV_OK ? 0 : cli_report(path, st, &err);
}

static int do_add(const opts *o, char **operands)
{
    (void)operands;
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    const char *key_path = NULL, *package = NULL;
    for (size_t k = 0; k < o->n; k++) {
        const char **slot[] = { &e.manifest_hash, &e.proof_hash,    &e.id,        &e.timestamp_file,
                                &e.policy_hash,   &e.registered_at, &e.signature, &e.public_key,
                                &e.kid,           &key_path,        &package };
        *slot[o->given[k].opt - OPT_MANIFEST_HASH] = o->given[k].arg;
    }
    char mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], pol[CAPV_DIGEST_HEX_SIZE];
    if (package != NULL) {
        if (e.manifest_hash || e.proof_hash)
            return cli_usage_error("registry add",
                                   "--package and --manifest-hash/--proof-hash exclude each other");
        int rc = package_hashes(package, mh, ph, pol);
        if (rc != 0)
            return rc;
        e.manifest_hash = mh;
        e.proof_hash = ph;
        if (e.policy_hash == NULL && pol[0])
            e.policy_hash = pol;
    }
    if (e.manifest_hash == NULL || e.proof_hash == NULL)
        return cli_usage_error("registry add",
                               "--manifest-hash and --proof-hash (or --package) are required");
    if (e.signature != NULL && key_path != NULL)
        return cli_usage_error("registry add", "--signature and --sign-key exclude each other");
    /* the signing key's own public key and kid go with the signature it makes; a given
     * public key or kid belongs to a given --signature */
    if (key_path != NULL && (e.public_key != NULL || e.kid != NULL))
        return cli_usage_error("registry add",
                               "--public-key and --kid go with --signature, not --sign-key "
                               "(which sets both from the key)");
    if (e.signature == NULL && key_path == NULL && (e.public_key != NULL || e.kid != NULL))
        return cli_usage_error("registry add",
                               "--public-key and --kid describe a --signature: an unsigned entry "
                               "has neither");
    e.signature_scheme = e.signature ? "ed25519" : NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_signing_key *key = NULL;
    capv_status st;
    if (key_path != NULL && (st = capv_signing_key_load(&key, key_path, &err)) != CAPV_OK)
        return cli_report(key_path, st, &err);
    capv_registry *reg = NULL;
    int rc = open_db(&reg, o, 0);
    if (rc != 0) {
        capv_signing_key_free(key);
        return rc;
    }
    capv_registry_set_signing_key(reg, key);
    capv_registry_entry *stored = NULL;
    st = capv_registry_add(&stored, reg, &e, &err);
    const char *status = st == CAPV_OK           ? "added"
                         : st == CAPV_E_EXISTS   ? "exists"
                         : st == CAPV_E_CONFLICT ? "conflict"
                                                 : NULL;
    if (status == NULL) {
        rc = fail("registry add", st, &err);
    } else {
        if (o->json) {
            printf("{\"status\":\"%s\",\"entry\":", status);
            int jrc = print_entry_json(stored);
            puts("}");
            if (jrc != 0)
                rc = jrc;
        } else {
            printf("%s %s\n", status, stored->id);
        }
        if (st == CAPV_E_CONFLICT) {
            fprintf(stderr, "capverify registry add: %s\n", err.message);
            rc = EXIT_VERDICT_FAIL;
        }
    }
    capv_registry_entry_free(stored);
    capv_registry_close(reg);
    capv_signing_key_free(key);
    return rc;
}

static bool parse_count(long long *out, const char *s, long long min, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || end == s || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int do_list(const opts *o, char **operands)
{
    (void)operands;
    const char *mh = NULL;
    long long after = 0, limit = 100;
    for (size_t k = 0; k < o->n; k++) {
        const char *val = o->given[k].arg;
        int opt = o->given[k].opt;
        bool ok = opt == OPT_MANIFEST_HASH ? (mh = val) != NULL
                  : opt == OPT_AFTER       ? parse_count(&after, val, 0, INT64_MAX)
                                           : parse_count(&limit, val, 1, 10000);
        if (!ok)
            return cli_usage_error("registry list", "bad value '%s' of --%s", val,
                                   opt == OPT_AFTER ? "after" : "limit");
    }
    capv_registry *reg = NULL;
    int rc = open_db(&reg, o, CAPV_REGISTRY_READ_ONLY);
    if (rc != 0)
        return rc;
    capv_registry_page *p = NULL;
    capv_error err = CAPV_ERROR_INIT;
    char *json = NULL;
    capv_status st = capv_registry_list(&p, reg, mh, after, (size_t)limit, &err);
    if (st == CAPV_OK && o->json)
        st = capv_registry_page_to_json(&json, NULL, p, &err);
    if (st != CAPV_OK) {
        rc = fail("registry list", st, &err);
    } else if (o->json) {
        puts(json);
    } else {
        for (size_t i = 0; i < capv_registry_page_count(p); i++) {
            const capv_registry_entry *e = capv_registry_page_entry(p, i);
            printf("%-6lld %-36s %s %s %s %s\n", (long long)e->seq, e->id, e->manifest_hash,
                   e->proof_hash, e->registered_at, e->signature ? "signed" : "unsigned");
        }
        if (capv_registry_page_next(p))
            printf("(more: --after %lld)\n", (long long)capv_registry_page_next(p));
    }
    capv_free(json);
    capv_registry_page_free(p);
    capv_registry_close(reg);
    return rc;
}

/* The report recorded for a request, as the registry stores it (capv_registry_get_report):
 * the daemon's GET /registry/verifications/{request_id}, read from the database. */
static int do_verification(const opts *o, char **operands)
{
    if (operands[0] == NULL)
        return cli_usage_error("registry verification", "give the REQUEST_ID");
    capv_registry *reg = NULL;
    int rc = open_db(&reg, o, CAPV_REGISTRY_READ_ONLY);
    if (rc != 0)
        return rc;
    char *json = NULL;
    size_t len = 0;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_get_report(&json, &len, reg, operands[0], &err);
    if (st != CAPV_OK) {
        rc = fail("registry verification", st, &err);
    } else {
        fwrite(json, 1, len, stdout);
        putchar('\n');
    }
    capv_free(json);
    capv_registry_close(reg);
    return rc;
}

static int do_show(const opts *o, char **operands)
{
    const char *id = operands[0], *mh = NULL, *ph = NULL;
    for (size_t k = 0; k < o->n; k++)
        *(o->given[k].opt == OPT_MANIFEST_HASH ? &mh : &ph) = o->given[k].arg;
    if ((id == NULL) == (mh == NULL || ph == NULL) || (id && (mh || ph)))
        return cli_usage_error("registry show", "give an ID, or --manifest-hash and --proof-hash");
    capv_registry *reg = NULL;
    int rc = open_db(&reg, o, CAPV_REGISTRY_READ_ONLY);
    if (rc != 0)
        return rc;
    capv_registry_entry *e = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st =
        id ? capv_registry_get(&e, reg, id, &err) : capv_registry_find(&e, reg, mh, ph, &err);
    if (st != CAPV_OK) {
        rc = fail("registry show", st, &err);
    } else if (o->json) {
        rc = print_entry_json(e);
        putchar('\n');
    } else {
        print_entry_human(e);
    }
    capv_registry_entry_free(e);
    capv_registry_close(reg);
    return rc;
}

typedef struct problems {
    bool json;
    size_t n;
} problems;

static void on_problem(void *user, const char *id, capv_status code, const char *message)
{
    problems *p = user;
    if (p->json) {
        printf("%s{\"id\":", p->n ? "," : "");
        cli_print_json_string(stdout, id);
        printf(",\"code\":\"%s\",\"message\":", capv_status_name(code));
        cli_print_json_string(stdout, message);
        putchar('}');
    } else {
        printf("problem: %s%s%s (%s)\n", id[0] ? id : "", id[0] ? ": " : "", message,
               capv_status_name(code));
    }
    p->n++;
}

static int do_check(const opts *o, char **operands)
{
    (void)operands;
    const char *trust_path = NULL;
    for (size_t k = 0; k < o->n; k++)
        trust_path = o->given[k].arg;
    capv_error err = CAPV_ERROR_INIT;
    capv_trust_store *trust = NULL;
    capv_status st;
    if (trust_path && (st = capv_trust_store_load(&trust, trust_path, &err)) != CAPV_OK)
        return cli_report(trust_path, st, &err);
    capv_registry *reg = NULL;
    int rc = open_db(&reg, o, CAPV_REGISTRY_READ_ONLY);
    if (rc != 0) {
        capv_trust_store_free(trust);
        return rc;
    }
    problems pr = { o->json, 0 };
    progress pg;
    capv_progress_fn pf = progress_fn(&pg, "checking entries");
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    if (o->json)
        fputs("{\"problems\":[", stdout);
    st = capv_registry_check(&r, reg, trust, on_problem, &pr, pf, &pg, &err);
    progress_end(&pg);
    if (st != CAPV_OK) {
        if (o->json)
            puts("]}");
        rc = fail("registry check", st, &err);
    } else {
        if (o->json)
            printf("],\"ok\":%s,\"integrity_ok\":%s,\"schema_version\":%d,\"entries\":%llu,"
                   "\"signed\":%llu,\"unsigned\":%llu,\"bad_signatures\":%llu,"
                   "\"untrusted\":%llu,\"kid_mismatches\":%llu,\"malformed\":%llu,"
                   "\"schema_differences\":%llu,\"foreign_key_violations\":%llu}\n",
                   r.problems ? "false" : "true", r.integrity_ok ? "true" : "false",
                   r.schema_version, (unsigned long long)r.entries,
                   (unsigned long long)r.signed_entries, (unsigned long long)r.unsigned_entries,
                   (unsigned long long)r.bad_signatures, (unsigned long long)r.untrusted,
                   (unsigned long long)r.kid_mismatches, (unsigned long long)r.malformed,
                   (unsigned long long)r.schema_differences,
                   (unsigned long long)r.foreign_key_violations);
        else
            printf("%s: integrity %s, schema version %d, %llu entries (%llu signed, %llu "
                   "unsigned), %llu bad signature(s), %llu untrusted, %llu malformed, %llu "
                   "schema difference(s), %llu foreign key violation(s)%s\n%s\n",
                   o->db, r.integrity_ok ? "ok" : "FAILED", r.schema_version,
                   (unsigned long long)r.entries, (unsigned long long)r.signed_entries,
                   (unsigned long long)r.unsigned_entries, (unsigned long long)r.bad_signatures,
                   (unsigned long long)r.untrusted, (unsigned long long)r.malformed,
                   (unsigned long long)r.schema_differences,
                   (unsigned long long)r.foreign_key_violations,
                   r.kid_mismatches ? " (some declared kids differ from ours)" : "",
                   r.problems ? "CHECK FAILED" : "check ok");
        rc = r.problems ? EXIT_VERDICT_FAIL : EXIT_VERDICT_OK;
    }
    capv_registry_close(reg);
    capv_trust_store_free(trust);
    return rc;
}

static int do_import(const opts *o, char **operands)
{
    const char *file = operands[0];
    unsigned int flags = o->n > 0 ? 0 : CAPV_REGISTRY_IMPORT_VERIFY; /* --no-verify */
    if (file == NULL)
        return cli_usage_error("registry import", "no FILE given");
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cli_read_file(&data, &len, file, IMPORT_MAX, "registry import");
    if (rc != 0)
        return rc;
    capv_registry *reg = NULL;
    if ((rc = open_db(&reg, o, 0)) != 0) {
        free(data);
        return rc;
    }
    size_t added = 0, existing = 0;
    capv_error err = CAPV_ERROR_INIT;
    progress pg;
    capv_progress_fn pf = progress_fn(&pg, "importing");
    capv_status st =
        capv_registry_import_json(&added, &existing, reg, data, len, flags, pf, &pg, &err);
    progress_end(&pg);
    if (st != CAPV_OK)
        rc = fail(file, st, &err);
    else if (o->json)
        printf("{\"added\":%zu,\"existing\":%zu}\n", added, existing);
    else
        printf("imported %s: %zu added, %zu already present\n", file, added, existing);
    capv_registry_close(reg);
    free(data);
    return rc;
}

typedef struct sink {
    int fd;
    int err; /* errno of a failed write, EINTR after a Ctrl-C */
} sink;

static int sink_write(void *user, const uint8_t *data, size_t len)
{
    sink *s = user;
    while (len > 0) {
        if (cli_interrupted()) {
            s->err = EINTR;
            return -1;
        }
        ssize_t w = write(s->fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->err = w < 0 ? errno : EIO;
            return -1;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Whether the file `out` (stat'ed) is the database file `db` itself. */
static bool is_database(const struct stat *out, const char *db)
{
    struct stat b;
    return db != NULL && !capv_registry_location_is_postgres(db) && stat(db, &b) == 0 &&
           out->st_dev == b.st_dev && out->st_ino == b.st_ino;
}

static int do_export(const opts *o, char **operands)
{
    (void)operands;
    const char *output = NULL;
    unsigned int flags = CAPV_REGISTRY_EXPORT_PRETTY;
    bool force = false;
    for (size_t k = 0; k < o->n; k++) {
        if (o->given[k].opt == OPT_OUTPUT)
            output = o->given[k].arg;
        else if (o->given[k].opt == OPT_FORCE)
            force = true;
        else
            flags &= ~CAPV_REGISTRY_EXPORT_PRETTY; /* --compact */
    }
    bool to_file = output != NULL && strcmp(output, "-") != 0;
    /* a link is kept (its file is replaced); /dev/stdout, /dev/fd/N: that descriptor */
    char target[4096] = "";
    int fdno = -1, terr = to_file ? cli_output_target(target, &fdno, output) : 0;
    if (terr != 0) {
        fprintf(stderr, "capverify registry export: %s: %s\n", output, strerror(terr));
        return EXIT_UNAVAILABLE;
    }
    struct stat st_out;
    bool exists = to_file && (fdno >= 0 ? fstat(fdno, &st_out) : stat(output, &st_out)) == 0;
    if (fdno >= 0 && !exists) {
        fprintf(stderr, "capverify registry export: %s: %s\n", output, strerror(errno));
        return EXIT_UNAVAILABLE;
    }
    if (exists && is_database(&st_out, o->db))
        return cli_usage_error("registry export", "--output names the registry database itself");
    if (exists && fdno < 0 && S_ISREG(st_out.st_mode) && !force)
        return cli_usage_error("registry export", "--output exists; --force replaces it");
    /* a device or a FIFO (/dev/null, a pipe) is written into, never replaced */
    bool direct = exists && fdno < 0 && !S_ISREG(st_out.st_mode);
    capv_registry *reg = NULL;
    int rc = open_db(&reg, o, CAPV_REGISTRY_READ_ONLY);
    if (rc != 0)
        return rc;
    char tmp[4096 + 32] = "";
    sink s = { STDOUT_FILENO, 0 };
    if (fdno >= 0) {
        s.fd = fdno; /* after what this process wrote to it already */
    } else if (direct) {
        s.fd = open(output, O_WRONLY | O_CLOEXEC);
        if (s.fd < 0) {
            fprintf(stderr, "capverify registry export: %s: %s\n", output, strerror(errno));
            capv_registry_close(reg);
            return EXIT_UNAVAILABLE;
        }
    } else if (to_file) {
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", target, (long)getpid());
        s.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (s.fd < 0) {
            fprintf(stderr, "capverify registry export: %s: %s\n", tmp, strerror(errno));
            capv_registry_close(reg);
            return EXIT_UNAVAILABLE;
        }
        cli_interrupt_catch(true); /* a Ctrl-C stops the export and removes the file */
    }
    fflush(stdout);
    capv_error err = CAPV_ERROR_INIT;
    progress pg;
    capv_progress_fn pf = progress_fn(&pg, "exporting");
    capv_status st = capv_registry_export_json(reg, flags, sink_write, &s, pf, &pg, &err);
    progress_end(&pg);
    if (st == CAPV_E_IO && s.err == EINTR) {
        fprintf(stderr, "capverify registry export: interrupted: nothing written\n");
        rc = EXIT_UNAVAILABLE;
    } else if (st == CAPV_E_IO && s.err != 0) {
        fprintf(stderr, "capverify registry export: writing %s: %s\n",
                tmp[0]                ? tmp
                : direct || fdno >= 0 ? output
                                      : "stdout",
                strerror(s.err));
        rc = EXIT_UNAVAILABLE;
    } else if (st != CAPV_OK) {
        rc = fail("registry export", st, &err);
    }
    if (direct && close(s.fd) != 0 && rc == 0) {
        fprintf(stderr, "capverify registry export: %s: %s\n", output, strerror(errno));
        rc = EXIT_UNAVAILABLE;
    }
    if (tmp[0]) {
        bool ok = st == CAPV_OK && fsync(s.fd) == 0;
        ok = close(s.fd) == 0 && ok;
        /* without --force, a file made meanwhile is not replaced either */
        if (ok && renameat2(AT_FDCWD, tmp, AT_FDCWD, target, force ? 0 : RENAME_NOREPLACE) != 0)
            ok = false;
        if (!ok) {
            int e = errno;
            unlink(tmp);
            if (rc == 0) {
                fprintf(stderr, "capverify registry export: cannot write %s: %s\n", output,
                        strerror(e));
                rc = EXIT_UNAVAILABLE;
            }
        }
        cli_interrupt_catch(false);
    }
    capv_registry_close(reg);
    return rc;
}

static void print_backup(const capv_backup_info *b, bool json)
{
    if (json) {
        fputs("{\"path\":", stdout);
        cli_print_json_string(stdout, b->path);
        /* "sidecar_path" as the daemon's answers name it; "sidecar", 0.1's name, stays */
        fputs(",\"sidecar_path\":", stdout);
        cli_print_json_string(stdout, b->sidecar_path);
        fputs(",\"sidecar\":", stdout);
        cli_print_json_string(stdout, b->sidecar_path);
        cli_print_backup_fields(b->created_at, b->sha3_256, b->size_bytes, b->schema_version,
                                b->entries, b->verifications, b->tool_version);
        if (b->signer_kid != NULL) {
            fputs(",\"signer_kid\":", stdout);
            cli_print_json_string(stdout, b->signer_kid);
        }
        putchar('}');
    } else {
        printf("%s  %s  %llu bytes  %llu entries  %llu verifications  %s%s%s\n", b->path,
               b->created_at, (unsigned long long)b->size_bytes, (unsigned long long)b->entries,
               (unsigned long long)b->verifications, b->sha3_256,
               b->signer_kid ? "  signed by " : "", b->signer_kid ? b->signer_kid : "");
    }
}

static int do_backup(const opts *o, char **operands)
{
    (void)operands;
    const char *dir = NULL, *key_path = NULL;
    long long retain = 0;
    bool list = false;
    remote_flags rf;
    if (remote_flags_init(&rf, "registry backup") != 0)
        return EXIT_USAGE;
    for (size_t k = 0; k < o->n; k++) {
        const char *val = o->given[k].arg;
        int opt = o->given[k].opt;
        int used = remote_flag(&rf, opt, val, "registry backup");
        if (used < 0)
            return EXIT_USAGE;
        if (used > 0)
            continue;
        if (opt == OPT_DIR)
            dir = val;
        else if (opt == OPT_SIGN_KEY)
            key_path = val;
        else if (opt == OPT_LIST)
            list = true;
        else if (!parse_count(&retain, val, 1, 100000))
            return cli_usage_error("registry backup", "--retain needs a number from 1 to 100000");
    }
    if (list && rf.remote)
        return remote_list(&rf, o->json);
    if (rf.remote)
        return cli_usage_error("registry backup", "--remote goes with --list");
    if (list && rf.upload)
        return cli_usage_error("registry backup", "--list and --upload do not go together");
    if (rf.upload && o->db == NULL && dir != NULL)
        return remote_upload_newest(&rf, dir, o->json);
    if (dir == NULL)
        return cli_usage_error("registry backup", "--dir DIR is required");
    capv_error err = CAPV_ERROR_INIT;
    capv_status st;
    if (list) {
        capv_backup_list *l = NULL;
        if ((st = capv_registry_backup_list(&l, dir, &err)) != CAPV_OK)
            return fail(dir, st, &err);
        if (o->json)
            putchar('[');
        for (size_t i = 0; i < capv_backup_list_count(l); i++) {
            if (o->json && i)
                putchar(',');
            print_backup(capv_backup_list_get(l, i), o->json);
        }
        if (o->json)
            puts("]");
        capv_backup_list_free(l);
        return 0;
    }
    if (o->db == NULL)
        return cli_usage_error("registry backup", "--db PATH is required");
    int rc;
    if (rf.upload && (rc = remote_check(&rf, "registry backup --upload")) != 0)
        return rc; /* before a backup is taken that could not go off-site */
    capv_signing_key *key = NULL;
    if (key_path != NULL && (st = capv_signing_key_load(&key, key_path, &err)) != CAPV_OK)
        return cli_report(key_path, st, &err);
    capv_registry *reg = NULL;
    rc = open_db(&reg, o, CAPV_REGISTRY_READ_ONLY);
    if (rc != 0) {
        capv_signing_key_free(key);
        return rc;
    }
    capv_backup_info *b = NULL;
    progress pg;
    capv_backup_options bo = CAPV_BACKUP_OPTIONS_INIT;
    bo.retain = (unsigned int)retain;
    bo.signing_key = key;
    bo.progress = progress_fn(&pg, "backing up");
    bo.progress_user = &pg;
    st = capv_registry_backup_with(&b, reg, dir, &bo, &err);
    progress_end(&pg);
    capv_signing_key_free(key);
    if (st != CAPV_OK) {
        rc = fail("registry backup", st, &err);
    } else {
        if (!o->json)
            fputs("backup ", stdout);
        print_backup(b, o->json);
        if (o->json)
            putchar('\n');
        fflush(stdout);
        /* the off-site copy (with --json a second line); a failure keeps the local backup */
        if (rf.upload)
            rc = remote_upload(&rf, b, o->json);
    }
    capv_backup_info_free(b);
    capv_registry_close(reg);
    return rc;
}

/* After a restore into PostgreSQL: what the registry holds now, named by its location (the
 * URL without password). */
static int restored_pg(const opts *o, const char *from)
{
    capv_registry *reg = NULL;
    int rc = open_db(&reg, o, CAPV_REGISTRY_READ_ONLY);
    if (rc != 0)
        return rc;
    uint64_t n[3] = { 0, 0, 0 };
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = CAPV_OK;
    for (int i = 0; st == CAPV_OK && i < 3; i++)
        st = capv_registry_count(&n[i], reg, (capv_registry_table)i, &err);
    if (st != CAPV_OK) {
        rc = fail("registry restore", st, &err);
    } else if (o->json) {
        fputs("{\"restored\":", stdout);
        cli_print_json_string(stdout, capv_registry_path(reg));
        fputs(",\"from\":", stdout);
        cli_print_json_string(stdout, from);
        printf(",\"previous\":null,\"entries\":%llu,\"verifications\":%llu,\"policies\":%llu}\n",
               (unsigned long long)n[0], (unsigned long long)n[1], (unsigned long long)n[2]);
    } else {
        printf("restored %s from %s: %llu entries, %llu verifications, %llu policies\n",
               capv_registry_path(reg), from, (unsigned long long)n[0], (unsigned long long)n[1],
               (unsigned long long)n[2]);
        printf("its previous contents were replaced and are not kept: take a backup before a "
               "restore (capverify registry backup)\n");
    }
    capv_registry_close(reg);
    return rc;
}

/* After a restore into the file `db` that failed once its old database was moved aside to
 * `previous`: whether the restored file took its name (else an undo was not whole, and the
 * database also has the name `previous`, as the error said). */
static void restore_failed_moved(const char *db, const char *previous)
{
    struct stat a, b;
    if (stat(db, &a) == 0 && stat(previous, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        fprintf(stderr,
                "capverify registry restore: the database was not replaced, but not wholly "
                "put back either: it is also named %s\n",
                previous);
    else
        fprintf(stderr,
                "capverify registry restore: the database was replaced; the previous one is "
                "kept as %s\n",
                previous);
}

/* Restores the local backup `from` into --db, or with `check_only` verifies it; `trust`
 * (may be NULL) is --trust's store. */
static int restore_local(const opts *o, const char *from, unsigned int flags, bool check_only,
                         const capv_trust_store *trust)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_status st;
    capv_restore_options ro = CAPV_RESTORE_OPTIONS_INIT;
    ro.flags = flags;
    ro.trust = trust;
    if (check_only) {
        capv_backup_info *b = NULL;
        st = capv_registry_backup_verify_with(&b, from, &ro, &err);
        if (st != CAPV_OK)
            return fail("registry restore", st, &err);
        if (!o->json)
            fputs("backup ok: ", stdout);
        print_backup(b, o->json);
        if (o->json)
            putchar('\n');
        capv_backup_info_free(b);
        return 0;
    }
    bool pg_db = capv_registry_location_is_postgres(o->db);
    bool existed = !pg_db && access(o->db, F_OK) == 0;
    char *previous = NULL;
    progress pg;
    ro.progress = progress_fn(&pg, "verifying backup");
    ro.progress_user = &pg;
    st = capv_registry_restore_with(&previous, o->db, from, &ro, &err);
    progress_end(&pg);
    if (st != CAPV_OK) {
        int rc = fail("registry restore", st, &err);
        /* `previous` after a failure: the old database was moved aside (registry.h) */
        if (previous != NULL)
            restore_failed_moved(o->db, previous);
        else if (!pg_db && !existed && access(o->db, F_OK) == 0)
            fprintf(stderr,
                    "capverify registry restore: there was no database at %s, and now there "
                    "is one: check it (capverify registry check) before using it\n",
                    o->db);
        else
            fprintf(stderr, "capverify registry restore: refused; %s was not changed\n",
                    pg_db ? "the registry" : o->db);
        capv_free(previous);
        return rc;
    }
    if (pg_db)
        return restored_pg(o, from);
    if (o->json) {
        fputs("{\"restored\":", stdout);
        cli_print_json_string(stdout, o->db);
        fputs(",\"from\":", stdout);
        cli_print_json_string(stdout, from);
        fputs(",\"previous\":", stdout);
        if (previous)
            cli_print_json_string(stdout, previous);
        else
            fputs("null", stdout);
        puts("}");
    } else {
        printf("restored %s from %s\n", o->db, from);
        if (previous)
            printf("the previous database is kept as %s\n", previous);
        if (flags & CAPV_RESTORE_FORCE)
            printf("a running capverifyd must reopen it: send it SIGHUP\n");
    }
    capv_free(previous);
    return 0;
}

static int do_restore(const opts *o, char **operands)
{
    (void)operands;
    const char *from = NULL, *dir = NULL, *trust_path = NULL;
    unsigned int flags = 0;
    bool check_only = false;
    remote_flags rf;
    if (remote_flags_init(&rf, "registry restore") != 0)
        return EXIT_USAGE;
    for (size_t k = 0; k < o->n; k++) {
        const char *val = o->given[k].arg;
        int opt = o->given[k].opt;
        if (remote_is_retain(opt))
            return cli_usage_error("registry restore",
                                   "--s3-retain goes with backup --upload: a restore deletes "
                                   "nothing in the store");
        int used = remote_flag(&rf, opt, val, "registry restore");
        if (used < 0)
            return EXIT_USAGE;
        if (used > 0)
            continue;
        switch (opt) {
        case OPT_FROM: from = val; break;
        case OPT_DIR: dir = val; break;
        case OPT_FORCE: flags |= CAPV_RESTORE_FORCE; break;
        case OPT_CHECK_ONLY: check_only = true; break;
        case OPT_REQUIRE_SIGNED: flags |= CAPV_RESTORE_REQUIRE_SIGNED; break;
        default: trust_path = val; break; /* --trust */
        }
    }
    if (from == NULL)
        return cli_usage_error("registry restore", "--from BACKUP is required");
    if ((flags & CAPV_RESTORE_REQUIRE_SIGNED) && trust_path == NULL)
        return cli_usage_error("registry restore",
                               "--require-signed needs --trust DIR, the keys that sign backups");
    /* before anything is downloaded */
    if (!check_only && o->db == NULL)
        return cli_usage_error("registry restore", "--db PATH is required");
    if (!check_only && capv_registry_location_is_postgres(o->db) && o->password_file != NULL)
        return cli_usage_error("registry restore",
                               "--password-file does not apply to a restore: give the password "
                               "in PGPASSWORD or PGPASSFILE");
    if (dir != NULL && !remote_is_location(from))
        return cli_usage_error("registry restore", "--dir goes with --from s3://…");
    /* before anything is downloaded too: the download applies it (remote_fetch) */
    capv_trust_store *trust = NULL;
    if (trust_path != NULL) {
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = capv_trust_store_load(&trust, trust_path, &err);
        if (st != CAPV_OK)
            return cli_report(trust_path, st, &err);
    }
    int rc;
    if (remote_is_location(from)) {
        /* download and verify, then restore from the verified local copy (docs/registry.md,
         * "Off-site copies"); without --dir that copy is private and removed afterwards */
        char *path = NULL, *tmpdir = NULL;
        bool pg_target = o->db != NULL && capv_registry_location_is_postgres(o->db);
        /* a Ctrl-C ends the download, or lets a verification or restore under way finish;
         * either way the private copy goes */
        cli_interrupt_catch(true);
        rc = remote_fetch(&path, &tmpdir, &rf, from, dir, check_only || pg_target ? NULL : o->db,
                          flags, trust);
        if (rc == 0 && cli_interrupted()) {
            fprintf(stderr,
                    "capverify registry restore: interrupted after the download of %s: "
                    "nothing restored\n",
                    from);
            rc = EXIT_UNAVAILABLE;
        } else if (rc == 0) {
            fprintf(stderr, "capverify registry restore: downloaded %s and verified it as %s%s\n",
                    from, path, tmpdir ? " (a private copy, removed afterwards)" : "");
            rc = restore_local(o, path, flags, check_only, trust);
        }
        remote_fetch_done(path, tmpdir);
        cli_interrupt_catch(false);
    } else {
        rc = restore_local(o, from, flags, check_only, trust);
    }
    capv_trust_store_free(trust);
    return rc;
}

static int do_copy(const opts *o, char **operands)
{
    (void)operands;
    const char *from = NULL, *to = NULL;
    for (size_t k = 0; k < o->n; k++)
        *(o->given[k].opt == OPT_FROM ? &from : &to) = o->given[k].arg;
    if (from == NULL || to == NULL)
        return cli_usage_error("registry copy", "--from A and --to B are required");
    /* which of the two --db would name is anyone's guess (CAPV_REGISTRY_PATH names none) */
    if (o->db_given)
        return cli_usage_error("registry copy",
                               "--db is not taken: name the registries with --from and --to");
    capv_registry *src = NULL, *dst = NULL;
    int rc = open_at(&src, o, from, CAPV_REGISTRY_READ_ONLY);
    if (rc != 0)
        return rc;
    bool created = !capv_registry_location_is_postgres(to) && access(to, F_OK) != 0;
    /* a copy cannot stop halfway once begun: from the creation of a new target file on, a
     * Ctrl-C ends the CLI and removes that file (a PostgreSQL target's transaction ends
     * with the connection); off again once the copy is complete, or its file removed */
    if (created)
        cli_interrupt_remove(to);
    if ((rc = open_at(&dst, o, to, CAPV_REGISTRY_CREATE)) != 0) {
        capv_registry_close(src);
        if (created) {
            cli_remove_sqlite_file(to);
            cli_interrupt_remove(NULL);
        }
        return rc;
    }
    capv_registry_copy_result r = CAPV_REGISTRY_COPY_RESULT_INIT;
    capv_error err = CAPV_ERROR_INIT;
    progress pg;
    capv_progress_fn pf = progress_fn(&pg, "copying rows");
    capv_status st = capv_registry_copy(&r, dst, src, pf, &pg, &err);
    if (created && st == CAPV_OK)
        cli_interrupt_remove(NULL);
    progress_end(&pg);
    if (st != CAPV_OK) {
        rc = fail("registry copy", st, &err);
    } else if (o->json) {
        fputs("{\"from\":", stdout);
        cli_print_json_string(stdout, capv_registry_path(src));
        fputs(",\"to\":", stdout);
        cli_print_json_string(stdout, capv_registry_path(dst));
        printf(",\"entries\":%llu,\"verifications\":%llu,\"reports\":%llu,\"policies\":%llu,"
               "\"signatures_verified\":%llu}\n",
               (unsigned long long)r.entries, (unsigned long long)r.verifications,
               (unsigned long long)r.reports, (unsigned long long)r.policies,
               (unsigned long long)r.signatures_verified);
    } else {
        printf("copied %s to %s: %llu entries, %llu verifications, %llu reports, %llu "
               "policies\n%llu entry signatures verified\n",
               capv_registry_path(src), capv_registry_path(dst), (unsigned long long)r.entries,
               (unsigned long long)r.verifications, (unsigned long long)r.reports,
               (unsigned long long)r.policies, (unsigned long long)r.signatures_verified);
    }
    capv_registry_close(dst);
    capv_registry_close(src);
    if (st != CAPV_OK && created) {
        cli_remove_sqlite_file(to);
        cli_interrupt_remove(NULL);
    }
    return rc;
}

/* DATE as RFC 3339, or YYYY-MM-DD meaning its midnight UTC. */
static bool parse_date(int64_t *ms, const char *s)
{
    size_t n = strlen(s);
    if (n == 10 && s[4] == '-' && s[7] == '-') {
        char full[32];
        snprintf(full, sizeof full, "%sT00:00:00Z", s);
        return capv_rfc3339_parse(ms, full, strlen(full), NULL) == CAPV_OK;
    }
    return capv_rfc3339_parse(ms, s, n, NULL) == CAPV_OK;
}

static int do_prune(const opts *o, char **operands)
{
    (void)operands;
    const char *before = NULL;
    for (size_t k = 0; k < o->n; k++)
        before = o->given[k].arg;
    if (before == NULL)
        return cli_usage_error("registry prune", "--before DATE is required");
    int64_t ms = 0;
    if (!parse_date(&ms, before))
        return cli_usage_error(
            "registry prune", "--before '%s' is not an RFC 3339 time or a YYYY-MM-DD date", before);
    char cutoff[CAPV_RFC3339_SIZE];
    capv_rfc3339_format(cutoff, ms);
    capv_registry *reg = NULL;
    int rc = open_db(&reg, o, 0);
    if (rc != 0)
        return rc;
    uint64_t removed = 0;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_prune(&removed, reg, ms, &err);
    if (st != CAPV_OK) {
        rc = fail("registry prune", st, &err);
        if (removed > 0)
            fprintf(stderr,
                    "capverify registry prune: %llu verification(s) were removed "
                    "before the failure\n",
                    (unsigned long long)removed);
    } else if (o->json) {
        printf("{\"removed\":%llu,\"before\":\"%s\"}\n", (unsigned long long)removed, cutoff);
    } else {
        printf("removed %llu verification(s) recorded before %s\n", (unsigned long long)removed,
               cutoff);
    }
    capv_registry_close(reg);
    return rc;
}

/* One subcommand: its function, its own options, whether it takes the S3 settings
 * (remote_options) and how many operands. */
typedef struct subcommand {
    const char *name;
    int (*run)(const opts *o, char **operands);
    const struct option *options;
    int remote; /* 0 none, 1 the S3 settings, 2 also --upload and --remote */
    int operands;
    bool needs_db;
} subcommand;

static const subcommand subs[] = {
    { "init", do_init, no_options, 0, 0, true },
    { "add", do_add, add_options, 0, 0, true },
    { "list", do_list, list_options, 0, 0, true },
    { "show", do_show, show_options, 0, 1, true },
    { "check", do_check, check_options, 0, 0, true },
    { "import", do_import, import_options, 0, 1, true },
    { "export", do_export, export_options, 0, 0, true },
    { "backup", do_backup, backup_options, 2, 0, false },
    { "restore", do_restore, restore_options, 1, 0, false },
    { "migrate", do_migrate, no_options, 0, 0, true },
    { "prune", do_prune, prune_options, 0, 0, true },
    { "copy", do_copy, copy_options, 0, 0, false },
    { "verification", do_verification, no_options, 0, 1, true },
};

/* Appends the options of `from` (up to its { 0 } end, or `n` of them) to `all`. */
static size_t append_options(struct option *all, size_t used, const struct option *from, size_t n)
{
    for (size_t i = 0; i < n && from[i].name != NULL; i++)
        all[used++] = from[i];
    return used;
}

/* Parses the options of `sub` into `o` (argv[0] is the subcommand); its operands are then
 * argv[optind..argc). GO_ON or an exit code (--help printed, or a usage error). */
static int parse_options(opts *o, const subcommand *sub, int argc, char **argv, const char *cmd)
{
    struct option all[MAX_OPTIONS];
    size_t n = append_options(all, 0, common_options, SIZE_MAX);
    n = append_options(all, n, sub->options, SIZE_MAX);
    if (sub->remote)
        n = append_options(all, n, remote_options, sub->remote == 2 ? SIZE_MAX : remote_settings);
    all[n] = (struct option){ 0 };
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt(cmd, argc, argv, "h", all)) != -1) {
        switch (c) {
        case CLI_OPT_ERROR: return EXIT_USAGE;
        case 'h': registry_usage(stdout); return EXIT_VERDICT_OK;
        case OPT_JSON: o->json = true; break;
        case OPT_DB:
            o->db = optarg;
            o->db_given = true;
            break;
        case OPT_PASSWORD_FILE: o->password_file = optarg; break;
        default:
            if (o->n == MAX_OPTIONS)
                return cli_usage_error(cmd, "too many options");
            o->given[o->n].opt = c;
            o->given[o->n++].arg = optarg;
        }
    }
    if (argc - optind > sub->operands)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + sub->operands]);
    return GO_ON;
}

int cmd_registry(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        registry_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_VERDICT_OK;
    }
    const subcommand *sub = NULL;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0] && sub == NULL; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            sub = &subs[i];
    if (sub == NULL)
        return cli_usage_error("registry", "unknown command '%s'", argv[1]);
    char cmd[32];
    snprintf(cmd, sizeof cmd, "registry %s", sub->name);
    opts o = { .db = getenv("CAPV_REGISTRY_PATH"), .cmd = argv[1] };
    if (o.db != NULL && o.db[0] == '\0')
        o.db = NULL;
    int rc = parse_options(&o, sub, argc - 1, argv + 1, cmd);
    if (rc != GO_ON)
        return rc;
    if (sub->needs_db && o.db == NULL)
        return cli_usage_error("registry", "--db PATH (or CAPV_REGISTRY_PATH) is required");
    /* the operands, NULL-terminated (argv[argc] is NULL), so a missing one reads as NULL */
    return sub->run(&o, argv + 1 + optind);
}
