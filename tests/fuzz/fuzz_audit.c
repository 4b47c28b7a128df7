/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: audit logs (docs/formats.md, "Audit logs"), v1 and v2 hash chains, as
 * `capverify audit` and the verifier's `audit` check read them (capv_audit_verify). A broken
 * log names a line that exists and a reason; an intact one exports back to its own lines,
 * and reading it again gives the same tip. */
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_global_init();
    return 0;
}

/* Lines as the reader counts them: the last may lack its line feed. */
static size_t count_lines(const uint8_t *data, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n + (size > 0 && data[size - 1] != '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    capv_audit_log *log = NULL;
    size_t line = 0;
    capv_audit_problem problem = CAPV_AUDIT_INTACT;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_audit_verify(&log, &line, &problem, data, size, &err);
    size_t lines = count_lines(data, size);
    if (st != CAPV_OK) {
        FUZZ_ASSERT_INPUT_ERROR(st, err);
        FUZZ_ASSERT(log == NULL);
        FUZZ_ASSERT(line >= 1 && line <= lines);
        FUZZ_ASSERT(problem != CAPV_AUDIT_INTACT);
        FUZZ_ASSERT((st == CAPV_E_MISMATCH) ==
                    (problem == CAPV_AUDIT_SEQ_GAP || problem == CAPV_AUDIT_PREV_MISMATCH ||
                     problem == CAPV_AUDIT_DIGEST_MISMATCH));
        return 0;
    }
    FUZZ_ASSERT(line == 0 && problem == CAPV_AUDIT_INTACT);
    FUZZ_ASSERT(capv_audit_log_events(log) == lines);
    FUZZ_ASSERT((capv_audit_log_format(log) == CAPV_AUDIT_EMPTY) == (lines == 0));
    uint8_t d[32];
    const char *tip = capv_audit_log_tip(log);
    FUZZ_ASSERT(capv_digest_parse(d, tip, strlen(tip), NULL) == CAPV_OK);
    /* every event, exported: the log itself, with its last line feed */
    char *all = NULL;
    size_t all_len = 0;
    FUZZ_ASSERT(capv_audit_log_export(&all, &all_len, log, INT64_MIN, INT64_MAX, NULL, NULL) ==
                CAPV_OK);
    FUZZ_ASSERT(all_len == size + (size > 0 && data[size - 1] != '\n'));
    FUZZ_ASSERT(memcmp(all, data, size) == 0);
    /* and read again: the same chain */
    capv_audit_log *again = NULL;
    FUZZ_ASSERT(capv_audit_verify(&again, NULL, NULL, (const uint8_t *)all, all_len, NULL) ==
                CAPV_OK);
    FUZZ_ASSERT(strcmp(capv_audit_log_tip(again), tip) == 0);
    FUZZ_ASSERT(strcmp(capv_audit_log_line_tip(again), capv_audit_log_line_tip(log)) == 0);
    capv_audit_log_free(again);
    capv_free(all);
    char *some = NULL;
    capv_status xst =
        capv_audit_log_export(&some, NULL, log, INT64_MIN, INT64_MAX, "lksg.v1", NULL);
    FUZZ_ASSERT(xst ==
                (capv_audit_log_format(log) == CAPV_AUDIT_V1 ? CAPV_E_UNSUPPORTED : CAPV_OK));
    capv_free(some);
    capv_audit_log_free(log);
    return 0;
}
