/* SPDX-License-Identifier: Apache-2.0 */
/* An old caller against this library (docs/abi.md, "Growing structs"): a program built with
 * the headers of an earlier release lays out the versioned structs of that release, which end
 * where the next version's fields begin. It must keep working: its version-1 structs are
 * accepted, fields it does not have are never read (the bytes after its struct belong to
 * something else), and nothing is written past its struct. Each struct below is the version 1
 * layout, followed by a canary that the library must neither read as a field nor overwrite.
 * Links the shared library like any program; exit 0 when every promise holds. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <capverify.h>

#define CANARY 0xA5
#define CANARY_LEN 64

static int failures;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "old_caller: FAIL %s:%d: ", __FILE__, __LINE__);                       \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* capv_registry_options as version 1 had it (0.1). */
typedef struct options_v1 {
    unsigned int version;
    unsigned int flags;
    int busy_timeout_ms;
    unsigned int readers;
    unsigned int max_batch;
    capv_clock_fn clock;
    void *clock_user;
} options_v1;

/* capv_registry_check_result as version 1 had it (0.1, with integrity_ok a bool as of 0.2,
 * whose SONAME bump starts the promise). */
typedef struct check_result_v1 {
    unsigned int version;
    bool integrity_ok;
    int schema_version;
    uint64_t entries;
    uint64_t signed_entries;
    uint64_t unsigned_entries;
    uint64_t bad_signatures;
    uint64_t untrusted;
    uint64_t kid_mismatches;
    uint64_t malformed;
    uint64_t problems;
} check_result_v1;

/* capv_jwt_peek as version 1 has it (0.2). */
typedef struct peek_v1 {
    unsigned int version;
    char alg[129];
    char kid[129];
    char iss[129];
    char sub[129];
    char client_id[129];
} peek_v1;

/* capv_error, which never grows (status.h): version 1 is its only layout. */
typedef struct error_v1 {
    unsigned int version;
    capv_status code;
    char field[128];
    char message[256];
} error_v1;

/* The version 1 layouts are prefixes of the current ones: the library tells them apart only
 * by `version`. */
_Static_assert(sizeof(options_v1) == offsetof(capv_registry_options, max_report_bytes),
               "version 1 of capv_registry_options ends where version 2's fields begin");
_Static_assert(sizeof(check_result_v1) == offsetof(capv_registry_check_result, verifications),
               "version 1 of capv_registry_check_result ends where version 2's fields begin");
_Static_assert(offsetof(peek_v1, client_id) == offsetof(capv_jwt_peek, client_id),
               "version 1 of capv_jwt_peek is a prefix of the current one");
_Static_assert(sizeof(error_v1) == sizeof(capv_error), "capv_error never grows (status.h)");

/* A struct of an old caller with what happens to follow it in memory. */
struct options_box {
    options_v1 o;
    unsigned char canary[CANARY_LEN];
};
struct result_box {
    check_result_v1 r;
    unsigned char canary[CANARY_LEN];
};
struct peek_box {
    peek_v1 p;
    unsigned char canary[CANARY_LEN];
};
struct error_box {
    error_v1 e;
    unsigned char canary[CANARY_LEN];
};

static bool canary_intact(const unsigned char *c)
{
    for (size_t i = 0; i < CANARY_LEN; i++)
        if (c[i] != CANARY)
            return false;
    return true;
}

static void fill_canary(unsigned char *c)
{
    memset(c, CANARY, CANARY_LEN);
}

int main(void)
{
    capv_error err = CAPV_ERROR_INIT;
    if (capv_global_init(&err) != CAPV_OK) {
        fprintf(stderr, "old_caller: capv_global_init: %s\n", err.message);
        return 1;
    }

    /* options of version 1: accepted. The canary bytes are where version 2 keeps
     * max_report_bytes and retention_ms; read as those, retention_ms (0xA5A5…, negative)
     * would make the open fail. */
    struct options_box ob;
    memset(&ob, 0, sizeof ob);
    ob.o.version = 1;
    fill_canary(ob.canary);
    capv_registry *reg = NULL;
    capv_status st = capv_registry_open(&reg, NULL, (const capv_registry_options *)&ob.o, &err);
    EXPECT(st == CAPV_OK, "open with version 1 options: %s (%s)", capv_status_name(st),
           err.message);
    EXPECT(canary_intact(ob.canary), "open wrote past version 1 options");
    if (reg == NULL) {
        capv_global_shutdown();
        return 1;
    }

    /* the other input structs at version 1 */
    capv_registry_entry e = CAPV_REGISTRY_ENTRY_INIT;
    e.version = 1;
    e.manifest_hash = "0x1111111111111111111111111111111111111111111111111111111111111111";
    e.proof_hash = "0x2222222222222222222222222222222222222222222222222222222222222222";
    st = capv_registry_add(NULL, reg, &e, &err);
    EXPECT(st == CAPV_OK, "add a version 1 entry: %s (%s)", capv_status_name(st), err.message);
    capv_registry_verification v = CAPV_REGISTRY_VERIFICATION_INIT;
    v.version = 1;
    v.result = "ok";
    v.report_json = "{\"result\":\"ok\"}";
    st = capv_registry_record(NULL, reg, &v, &err);
    EXPECT(st == CAPV_OK, "record a version 1 verification: %s (%s)", capv_status_name(st),
           err.message);
    capv_registry_policy p = CAPV_REGISTRY_POLICY_INIT;
    p.version = 1;
    p.policy_id = "old.caller";
    p.policy_version = "1";
    p.policy_hash = e.manifest_hash;
    p.ir_hash = e.proof_hash;
    p.ir_json = "{}";
    st = capv_registry_put_policy(reg, &p, &err);
    EXPECT(st == CAPV_OK, "put a version 1 policy: %s (%s)", capv_status_name(st), err.message);

    /* a check result of version 1: filled, and not one byte written after it */
    struct result_box rb;
    memset(&rb, 0, sizeof rb);
    rb.r.version = 1;
    fill_canary(rb.canary);
    st = capv_registry_check((capv_registry_check_result *)&rb.r, reg, NULL, NULL, NULL, NULL, NULL,
                             &err);
    EXPECT(st == CAPV_OK, "check into a version 1 result: %s (%s)", capv_status_name(st),
           err.message);
    EXPECT(canary_intact(rb.canary), "check wrote past a version 1 result");
    EXPECT(rb.r.version == 1, "check changed the caller's version to %u", rb.r.version);
    EXPECT(rb.r.integrity_ok, "integrity_ok not set");
    EXPECT(rb.r.entries == 1 && rb.r.unsigned_entries == 1 && rb.r.problems == 0,
           "unexpected counts: %llu entries, %llu unsigned, %llu problems",
           (unsigned long long)rb.r.entries, (unsigned long long)rb.r.unsigned_entries,
           (unsigned long long)rb.r.problems);
    EXPECT(rb.r.schema_version == CAPV_REGISTRY_SCHEMA_VERSION, "schema_version %d",
           rb.r.schema_version);
    /* a failing check (a version the library does not know) writes nothing at all */
    fill_canary(rb.canary);
    rb.r.version = 0;
    rb.r.entries = 77;
    st = capv_registry_check((capv_registry_check_result *)&rb.r, reg, NULL, NULL, NULL, NULL, NULL,
                             &err);
    EXPECT(st == CAPV_E_INVALID_ARG, "version 0 accepted: %s", capv_status_name(st));
    EXPECT(err.code == st, "err.code %d differs from the status %d", (int)err.code, (int)st);
    EXPECT(rb.r.entries == 77 && canary_intact(rb.canary), "a refused check wrote the result");

    /* structs the library allocates carry its current version; an old caller reads its
     * version's fields at their unchanged offsets */
    capv_registry_entry *got = NULL;
    st = capv_registry_find(&got, reg, e.manifest_hash, e.proof_hash, &err);
    EXPECT(st == CAPV_OK && got != NULL && got->version == CAPV_REGISTRY_ENTRY_VERSION, "find: %s",
           capv_status_name(st));
    EXPECT(err.code == CAPV_OK && err.message[0] == '\0', "a success left err set: %s",
           err.message);
    capv_registry_entry_free(got);

    /* a capv_jwt_peek of version 1: filled, its version kept, nothing written after it. The
     * token is {"alg":"ES256","kid":"k1"}.{"iss":"https://idp","sub":"alice",
     * "client_id":"app","aud":"https://api"}.sig: a claim that a later version may report
     * must not land after a version 1 struct. */
    static const char token[] =
        "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0."
        "eyJpc3MiOiJodHRwczovL2lkcCIsInN1YiI6ImFsaWNlIiwiY2xpZW50X2lkIjoiYXBwIiwi"
        "YXVkIjoiaHR0cHM6Ly9hcGkifQ."
        "c2ln";
    struct peek_box pb;
    memset(&pb, 0, sizeof pb);
    pb.p.version = 1;
    fill_canary(pb.canary);
    st = capv_jwt_peek_unverified((capv_jwt_peek *)&pb.p, (const uint8_t *)token, sizeof token - 1,
                                  &err);
    EXPECT(st == CAPV_OK, "peek into a version 1 struct: %s (%s)", capv_status_name(st),
           err.message);
    EXPECT(canary_intact(pb.canary), "peek wrote past a version 1 struct");
    EXPECT(pb.p.version == 1, "peek changed the caller's version to %u", pb.p.version);
    EXPECT(strcmp(pb.p.alg, "ES256") == 0 && strcmp(pb.p.client_id, "app") == 0,
           "peek: alg \"%s\", client_id \"%s\"", pb.p.alg, pb.p.client_id);
    /* a refused peek (a version the library does not know) writes nothing */
    pb.p.version = 0;
    memcpy(pb.p.iss, "stale", 6);
    st = capv_jwt_peek_unverified((capv_jwt_peek *)&pb.p, (const uint8_t *)token, sizeof token - 1,
                                  &err);
    EXPECT(st == CAPV_E_INVALID_ARG, "peek version 0 accepted: %s", capv_status_name(st));
    EXPECT(strcmp(pb.p.iss, "stale") == 0 && canary_intact(pb.canary), "a refused peek wrote");

    /* a capv_error of version 1, failed and then cleared: nothing written after it; one
     * never initialised (all zero) is filled as version 1 */
    struct error_box eb;
    memset(&eb, 0, sizeof eb);
    fill_canary(eb.canary);
    pb.p.version = 0;
    st = capv_jwt_peek_unverified((capv_jwt_peek *)&pb.p, (const uint8_t *)token, sizeof token - 1,
                                  (capv_error *)&eb.e);
    EXPECT(st == CAPV_E_INVALID_ARG && eb.e.code == st && eb.e.version == 1 &&
               strcmp(eb.e.field, "version") == 0,
           "error of a refused peek: code %d, version %u, field \"%s\"", (int)eb.e.code,
           eb.e.version, eb.e.field);
    EXPECT(canary_intact(eb.canary), "a failure wrote past a version 1 capv_error");
    pb.p.version = 1;
    st = capv_jwt_peek_unverified((capv_jwt_peek *)&pb.p, (const uint8_t *)token, sizeof token - 1,
                                  (capv_error *)&eb.e);
    EXPECT(st == CAPV_OK && eb.e.code == CAPV_OK && eb.e.message[0] == '\0',
           "a success left the error set: %s", eb.e.message);
    EXPECT(canary_intact(eb.canary), "a success wrote past a version 1 capv_error");

    capv_registry_close(reg);
    capv_global_shutdown();
    if (failures == 0)
        printf("old_caller: version 1 structs accepted, none written past its end\n");
    return failures == 0 ? 0 : 1;
}
