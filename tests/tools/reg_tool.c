/* SPDX-License-Identifier: Apache-2.0 */
/* reg_tool: helper for the registry's crash and backup-under-load tests (not installed).
 *
 *   reg_tool write DB LOG [--threads N] [--count N]
 *       adds entries and records verifications in a loop (forever unless --count), through
 *       the batching writer thread; after each write is acknowledged (its batch committed)
 *       appends "E <id>" or "V <request_id>" to LOG with one write(2)
 *   reg_tool verify [--read-only] DB LOG [--lines N]
 *       integrity_check must be ok, and every acknowledged write in LOG (or its first N
 *       complete lines) must be present
 *   reg_tool fill DB N [--unsigned] [--pad BYTES]
 *       adds N entries quickly (JSON import in large transactions), signed unless --unsigned,
 *       with a timestamp_file of BYTES characters to make rows larger
 */
#include <capverify.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
    fprintf(stderr, "usage: reg_tool write DB LOG [--threads N] [--count N]\n"
                    "       reg_tool verify [--read-only] DB LOG [--lines N]\n"
                    "       reg_tool fill DB N [--unsigned] [--pad BYTES]\n");
    return 2;
}

static void hash_text(char out[CAPV_DIGEST_HEX_SIZE], const char *s)
{
    uint8_t d[32];
    if (capv_hash(d, CAPV_HASH_SHA3_256, (const uint8_t *)s, strlen(s), NULL) != CAPV_OK)
        memset(d, 0, sizeof d);
    capv_digest_format(out, d);
}

/* ---- write ----------------------------------------------------------------------------- */

typedef struct job {
    capv_registry *reg;
    int log;
    int thread;
    long count;
    int failed;
} job;

static void ack(int fd, const char *line)
{
    size_t n = strlen(line);
    if (write(fd, line, n) != (ssize_t)n) {
        perror("reg_tool: log");
        _exit(3);
    }
}

static void *write_loop(void *arg)
{
    job *j = arg;
    char id[64], mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE], line[100];
    for (long i = 0; j->count < 0 || i < j->count; i++) {
        snprintf(id, sizeof id, "p%ld-t%d-%ld", (long)getpid(), j->thread, i);
        capv_error err = CAPV_ERROR_INIT;
        if (i % 2 == 0) {
            char m[80], p[80];
            snprintf(m, sizeof m, "m-%s", id);
            snprintf(p, sizeof p, "p-%s", id);
            hash_text(mh, m);
            hash_text(ph, p);
            capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
            e.id = id;
            e.manifest_hash = mh;
            e.proof_hash = ph;
            e.timestamp_file = "timestamp.tsr";
            if (capv_registry_add(NULL, j->reg, &e, &err) != CAPV_OK) {
                fprintf(stderr, "reg_tool: add %s: %s\n", id, err.message);
                j->failed = 1;
                return NULL;
            }
            snprintf(line, sizeof line, "E %s\n", id);
        } else {
            capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
            v.request_id = id;
            v.subject = "reg_tool";
            v.manifest_hash = mh;
            v.proof_hash = ph;
            v.result = "ok";
            v.report_json = "{\"result\":\"ok\",\"checks\":[]}";
            if (capv_registry_record(NULL, j->reg, &v, &err) != CAPV_OK) {
                fprintf(stderr, "reg_tool: record %s: %s\n", id, err.message);
                j->failed = 1;
                return NULL;
            }
            snprintf(line, sizeof line, "V %s\n", id);
        }
        ack(j->log, line); /* only now: the write is durable */
    }
    return NULL;
}

static int cmd_write(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    int threads = 1;
    long count = -1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = atol(argv[++i]);
        else
            return usage();
    }
    if (threads < 1 || threads > 64)
        return usage();
    int log = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
        perror(argv[1]);
        return 1;
    }
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE | CAPV_REGISTRY_WRITER_THREAD;
    o.readers = 1;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_registry_open(&reg, argv[0], &o, &err) != CAPV_OK) {
        fprintf(stderr, "reg_tool: open %s: %s\n", argv[0], err.message);
        return 1;
    }
    pthread_t t[64];
    job j[64];
    for (int i = 0; i < threads; i++) {
        j[i] = (job){ reg, log, i, count, 0 };
        pthread_create(&t[i], NULL, write_loop, &j[i]);
    }
    int rc = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        rc |= j[i].failed;
    }
    capv_registry_close(reg);
    close(log);
    return rc;
}

/* ---- verify ---------------------------------------------------------------------------- */

static void on_problem(void *user, const char *id, capv_status code, const char *message)
{
    (void)user;
    fprintf(stderr, "reg_tool: problem %s: %s (%s)\n", id, message, capv_status_name(code));
}

static int cmd_verify(int argc, char **argv)
{
    bool ro = false;
    long max_lines = -1;
    const char *db = NULL, *logp = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--read-only") == 0)
            ro = true;
        else if (strcmp(argv[i], "--lines") == 0 && i + 1 < argc)
            max_lines = atol(argv[++i]);
        else if (db == NULL)
            db = argv[i];
        else if (logp == NULL)
            logp = argv[i];
        else
            return usage();
    }
    if (db == NULL || logp == NULL)
        return usage();
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = ro ? CAPV_REGISTRY_READ_ONLY : 0;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_registry_open(&reg, db, &o, &err) != CAPV_OK) {
        fprintf(stderr, "reg_tool: open %s: %s\n", db, err.message);
        return 1;
    }
    int rc = 0;
    bool integrity = false;
    capv_registry_check_result r = CAPV_REGISTRY_CHECK_RESULT_INIT;
    if (capv_registry_check(&r, reg, NULL, on_problem, NULL, NULL, NULL, &err) != CAPV_OK) {
        fprintf(stderr, "reg_tool: check: %s\n", err.message);
        rc = 1;
    } else if (!(integrity = r.integrity_ok) || r.problems) {
        fprintf(stderr, "reg_tool: %s: integrity %s, %llu problem(s)\n", db,
                r.integrity_ok ? "ok" : "FAILED", (unsigned long long)r.problems);
        rc = 1;
    }
    FILE *f = fopen(logp, "r");
    if (f == NULL) {
        perror(logp);
        capv_registry_close(reg);
        return 1;
    }
    char line[256];
    long n = 0, missing = 0;
    while ((max_lines < 0 || n < max_lines) && fgets(line, sizeof line, f) != NULL) {
        size_t len = strlen(line);
        if (len < 3 || line[len - 1] != '\n')
            break; /* a line cut short by the kill was never a complete acknowledgement */
        line[len - 1] = '\0';
        n++;
        capv_status st;
        if (line[0] == 'E') {
            capv_registry_entry *e = NULL;
            st = capv_registry_get(&e, reg, line + 2, NULL);
            capv_registry_entry_free(e);
        } else {
            capv_registry_verification *v = NULL;
            st = capv_registry_get_verification(&v, reg, line + 2, NULL);
            capv_registry_verification_free(v);
        }
        if (st != CAPV_OK) {
            if (missing++ < 10)
                fprintf(stderr, "reg_tool: acknowledged write %s is missing (%s)\n", line,
                        capv_status_name(st));
            rc = 1;
        }
    }
    fclose(f);
    uint64_t entries = 0, verifications = 0;
    if (capv_registry_count(&entries, reg, CAPV_REGISTRY_ENTRIES, &err) != CAPV_OK ||
        capv_registry_count(&verifications, reg, CAPV_REGISTRY_VERIFICATIONS, &err) != CAPV_OK) {
        fprintf(stderr, "reg_tool: count: %s\n", err.message);
        rc = 1;
    }
    printf("%s: integrity %s, %ld acknowledged writes checked, %ld missing, %llu entries, "
           "%llu verifications\n",
           db, integrity ? "ok" : "FAILED", n, missing, (unsigned long long)entries,
           (unsigned long long)verifications);
    capv_registry_close(reg);
    return rc;
}

/* ---- fill ------------------------------------------------------------------------------ */

static int cmd_fill(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    long n = atol(argv[1]);
    bool sign = true;
    size_t pad = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--unsigned") == 0)
            sign = false;
        else if (strcmp(argv[i], "--pad") == 0 && i + 1 < argc)
            pad = (size_t)atol(argv[++i]);
        else
            return usage();
    }
    if (pad > 4000)
        return usage();
    char padding[4001];
    memset(padding, 'f', pad);
    padding[pad] = '\0';
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = CAPV_REGISTRY_CREATE;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_registry_open(&reg, argv[0], &o, &err) != CAPV_OK) {
        fprintf(stderr, "reg_tool: open %s: %s\n", argv[0], err.message);
        return 1;
    }
    capv_signing_key *key = NULL;
    uint64_t have = 0;
    int rc = 0;
    if (capv_signing_key_generate(&key, &err) != CAPV_OK ||
        capv_registry_count(&have, reg, CAPV_REGISTRY_ENTRIES, &err) != CAPV_OK) {
        fprintf(stderr, "reg_tool: fill: %s\n", err.message);
        rc = 1;
    }
    const long chunk = 50000;
    for (long base = (long)have; base < (long)have + n && rc == 0; base += chunk) {
        long end = base + chunk < (long)have + n ? base + chunk : (long)have + n;
        size_t cap = (size_t)(end - base) * (512 + pad) + 64, len = 0;
        char *doc = malloc(cap);
        len += (size_t)snprintf(doc, cap, "{\"registry_version\":\"1.0\",\"entries\":[");
        for (long i = base; i < end; i++) {
            char id[32], m[40], p[40], mh[CAPV_DIGEST_HEX_SIZE], ph[CAPV_DIGEST_HEX_SIZE];
            snprintf(id, sizeof id, "fill-%ld", i);
            snprintf(m, sizeof m, "fm-%ld", i);
            snprintf(p, sizeof p, "fp-%ld", i);
            hash_text(mh, m);
            hash_text(ph, p);
            if (!sign) {
                len += (size_t)snprintf(doc + len, cap - len,
                                        "%s{\"id\":\"%s\",\"manifest_hash\":\"%s\",\"proof_hash\":"
                                        "\"%s\",\"timestamp_file\":\"%s\",\"registered_at\":"
                                        "\"2026-01-01T00:00:00Z\"}",
                                        i > base ? "," : "", id, mh, ph, padding);
                continue;
            }
            /* sign it as the registry would */
            capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
            e.id = id;
            e.manifest_hash = mh;
            e.proof_hash = ph;
            e.timestamp_file = pad ? padding : NULL;
            e.registered_at = "2026-01-01T00:00:00Z";
            uint8_t *msg = NULL, d[32], sig[64], pub[32];
            size_t mlen = 0;
            char s64[CAPV_BASE64_ENCODED_SIZE(64)], p64[CAPV_BASE64_ENCODED_SIZE(32)];
            capv_status st = capv_registry_entry_signed_bytes(&msg, &mlen, &e, &err);
            if (st == CAPV_OK)
                st = capv_hash(d, CAPV_HASH_BLAKE3, msg, mlen, &err);
            capv_free(msg);
            if (st == CAPV_OK)
                st = capv_signing_key_sign(sig, key, d, 32, &err);
            capv_signing_key_public(pub, key);
            if (st == CAPV_OK)
                st = capv_base64_encode(s64, sizeof s64, NULL, sig, 64, CAPV_BASE64_STD, &err);
            if (st == CAPV_OK)
                st = capv_base64_encode(p64, sizeof p64, NULL, pub, 32, CAPV_BASE64_STD, &err);
            if (st != CAPV_OK) {
                fprintf(stderr, "reg_tool: fill: cannot sign: %s\n", err.message);
                rc = 1;
                break;
            }
            len += (size_t)snprintf(doc + len, cap - len,
                                    "%s{\"id\":\"%s\",\"manifest_hash\":\"%s\",\"proof_hash\":"
                                    "\"%s\",\"timestamp_file\":%s%s%s,\"registered_at\":\"%s\","
                                    "\"signature\":\"%s\",\"public_key\":\"%s\","
                                    "\"signature_scheme\":\"ed25519\"}",
                                    i > base ? "," : "", id, mh, ph, pad ? "\"" : "",
                                    pad ? padding : "null", pad ? "\"" : "", e.registered_at, s64,
                                    p64);
        }
        len += (size_t)snprintf(doc + len, cap - len, "]}");
        if (rc == 0 && capv_registry_import_json(NULL, NULL, reg, (uint8_t *)doc, len, 0, NULL,
                                                 NULL, &err) != CAPV_OK) {
            fprintf(stderr, "reg_tool: fill: %s\n", err.message);
            rc = 1;
        }
        free(doc);
    }
    capv_signing_key_free(key);
    capv_registry_close(reg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    capv_error err = CAPV_ERROR_INIT;
    if (capv_global_init(&err) != CAPV_OK) {
        fprintf(stderr, "reg_tool: %s\n", err.message);
        return 1;
    }
    int rc;
    if (strcmp(argv[1], "write") == 0)
        rc = cmd_write(argc - 2, argv + 2);
    else if (strcmp(argv[1], "verify") == 0)
        rc = cmd_verify(argc - 2, argv + 2);
    else if (strcmp(argv[1], "fill") == 0)
        rc = cmd_fill(argc - 2, argv + 2);
    else
        rc = usage();
    capv_global_shutdown();
    return rc;
}
