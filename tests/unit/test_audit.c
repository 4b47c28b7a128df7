/* SPDX-License-Identifier: Apache-2.0 */
/* Audit logs (docs/formats.md, "Audit logs"): the peer's v1 vector, our v2 vector
 * (tests/vectors/audit/audit_chain.jsonl, made by an independent script from the rule as
 * documented), every single-field edit of every line, truncated, reordered, duplicated and
 * inserted lines, the limits, the serde_json form of v1 details, and export. */
#include <capverify.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "json_int.h"
#include "suites.h"
#include "testutil.h"

#define PEER_V1 "peer/audit/agent.audit.jsonl"
#define OUR_V2 "audit/audit_chain.jsonl"
#define PEER_TIP "0x7883584e55e1173ac1f5096214dd35d99ff3bdea1e00837ab6e4ccb05db4f598"
/* the last self_hash of OUR_V2 (tests/vectors/audit) */
#define V2_TIP "0x913c5a23994117e0039e924decc07ca351b2c8baf6ab75e6fd918dd47a69919e"
#define GENESIS "0x0000000000000000000000000000000000000000000000000000000000000000"

static void setup(void)
{
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
}

static void teardown(void)
{
    capv_global_shutdown();
}

/* ---- helpers ------------------------------------------------------------------------------- */

/* A log split into its lines (without line feeds), each a malloc'd string. */
typedef struct lines {
    char *l[16];
    size_t n;
} lines;

static void lines_read(lines *out, const char *dir, const char *rel)
{
    size_t len;
    char *text = (char *)tu_read(dir, rel, &len);
    out->n = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        ck_assert_uint_lt(out->n, 16);
        out->l[out->n++] = strndup(p, (size_t)(nl - p));
        p = nl + 1;
    }
    free(text);
}

static void lines_free(lines *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        free(ls->l[i]);
    ls->n = 0;
}

/* The lines `order` names (indexes, -1 ends), each ended by a line feed. */
static char *join(const lines *ls, const int *order)
{
    size_t cap = 1;
    for (const int *o = order; *o >= 0; o++)
        cap += strlen(ls->l[*o]) + 1;
    char *s = malloc(cap), *p = s;
    for (const int *o = order; *o >= 0; o++)
        p += sprintf(p, "%s\n", ls->l[*o]);
    *p = '\0';
    return s;
}

static char *join_all(const lines *ls)
{
    int order[17];
    for (size_t i = 0; i < ls->n; i++)
        order[i] = (int)i;
    order[ls->n] = -1;
    return join(ls, order);
}

/* Verifies `text`; the status, and the first broken line and why. */
static capv_status verify_text(const char *text, size_t *line, capv_audit_problem *problem,
                               capv_audit_log **keep)
{
    capv_audit_log *log = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st =
        capv_audit_verify(&log, line, problem, (const uint8_t *)text, strlen(text), &err);
    ck_assert_int_eq(err.code, st);
    if (st == CAPV_OK) {
        ck_assert_ptr_nonnull(log);
        ck_assert_uint_eq(*line, 0);
        ck_assert_int_eq(*problem, CAPV_AUDIT_INTACT);
    } else {
        ck_assert_ptr_null(log);
        char field[32];
        snprintf(field, sizeof field, "line %zu", *line);
        ck_assert_str_eq(err.field, field);
        ck_assert_msg(strncmp(err.message, field, strlen(field)) == 0, "%s", err.message);
    }
    if (keep != NULL)
        *keep = log;
    else
        capv_audit_log_free(log);
    return st;
}

#define ASSERT_BREAK(text, want_line, want_problem, want_status)                                   \
    do {                                                                                           \
        size_t line_;                                                                              \
        capv_audit_problem p_;                                                                     \
        capv_status st_ = verify_text(text, &line_, &p_, NULL);                                    \
        ck_assert_msg(                                                                             \
            st_ == (want_status) && line_ == (size_t)(want_line) && p_ == (want_problem),          \
            "got %s at line %zu (%s), want %s at line %zu (%s)", capv_audit_problem_name(p_),      \
            line_, capv_status_name(st_), capv_audit_problem_name(want_problem),                   \
            (size_t)(want_line), capv_status_name(want_status));                                   \
    } while (0)

static void assert_intact(const char *text, capv_audit_format format, size_t events,
                          const char *tip)
{
    size_t line;
    capv_audit_problem p;
    capv_audit_log *log = NULL;
    capv_status st = verify_text(text, &line, &p, &log);
    ck_assert_msg(st == CAPV_OK, "line %zu: %s", line, capv_audit_problem_name(p));
    ck_assert_int_eq(capv_audit_log_format(log), format);
    ck_assert_uint_eq(capv_audit_log_events(log), events);
    if (tip != NULL)
        ck_assert_str_eq(capv_audit_log_tip(log), tip);
    capv_audit_log_free(log);
}

/* The "0x…" value of field `key` of a line. */
static char *field_of(const char *line, const char *key)
{
    cJSON *o = NULL;
    ck_assert_int_eq(capvi_json_parse(&o, (const uint8_t *)line, strlen(line), NULL), CAPV_OK);
    const cJSON *it = capvi_json_get(o, key);
    ck_assert(cJSON_IsString(it));
    char *s = strdup(it->valuestring);
    cJSON_Delete(o);
    return s;
}

/* ---- the vectors --------------------------------------------------------------------------- */

START_TEST(peer_v1_vector)
{
    size_t len;
    uint8_t *text = tu_read(tu_shared_dir(), PEER_V1, &len);
    capv_audit_log *log = NULL;
    size_t line = 99;
    capv_audit_problem p = CAPV_AUDIT_SEQ_GAP;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_audit_verify(&log, &line, &p, text, len, &err), CAPV_OK);
    ck_assert_uint_eq(line, 0);
    ck_assert_int_eq(p, CAPV_AUDIT_INTACT);
    ck_assert_int_eq(capv_audit_log_format(log), CAPV_AUDIT_V1);
    ck_assert_str_eq(capv_audit_format_name(capv_audit_log_format(log)), "v1");
    ck_assert_uint_eq(capv_audit_log_events(log), 6);
    ck_assert_str_eq(capv_audit_log_tip(log), PEER_TIP);
    /* BLAKE3 of the last line without its line feed (b3sum) */
    ck_assert_str_eq(capv_audit_log_line_tip(log),
                     "0x5f4c9f4309906e7840e3d53967368d3b0489a4257cafb93086408c88e22cfe97");
    capv_audit_log_free(log);
    /* without the final line feed: the same chain */
    ck_assert_int_eq(capv_audit_verify(&log, NULL, NULL, text, len - 1, NULL), CAPV_OK);
    ck_assert_str_eq(capv_audit_log_tip(log), PEER_TIP);
    capv_audit_log_free(log);
    free(text);
}
END_TEST

START_TEST(our_v2_vector)
{
    lines ls;
    lines_read(&ls, tu_vectors_dir(), OUR_V2);
    char *text = join_all(&ls);
    assert_intact(text, CAPV_AUDIT_V2, 5, V2_TIP);
    /* every prefix is a chain of its own, whose tip is its last self_hash */
    for (size_t n = 1; n < ls.n; n++) {
        int order[8];
        for (size_t i = 0; i < n; i++)
            order[i] = (int)i;
        order[n] = -1;
        char *prefix = join(&ls, order);
        char *tip = field_of(ls.l[n - 1], "self_hash");
        assert_intact(prefix, CAPV_AUDIT_V2, n, tip);
        free(tip);
        free(prefix);
    }
    free(text);
    lines_free(&ls);
}
END_TEST

START_TEST(empty_log)
{
    capv_audit_log *log = NULL;
    ck_assert_int_eq(capv_audit_verify(&log, NULL, NULL, NULL, 0, NULL), CAPV_OK);
    ck_assert_int_eq(capv_audit_log_format(log), CAPV_AUDIT_EMPTY);
    ck_assert_uint_eq(capv_audit_log_events(log), 0);
    ck_assert_str_eq(capv_audit_log_tip(log), GENESIS);
    ck_assert_str_eq(capv_audit_log_line_tip(log), "0x0");
    capv_audit_log_free(log);
    ASSERT_BREAK("\n", 1, CAPV_AUDIT_BAD_JSON, CAPV_E_MALFORMED);
}
END_TEST

/* ---- single-field edits ------------------------------------------------------------------- */

static void flip_last(char *s)
{
    size_t n = strlen(s);
    char *c = &s[n - 1];
    *c = *c == 'f' ? 'e' : *c == '9' ? 'a' : (char)(*c + 1);
}

/* `line` with its field `key` changed, kept valid JSON and well-formed: a digit of ts, the last
 * hex digit of a digest, a character appended to other strings, seq + 1, the first member of
 * details changed. NULL when the key has no such edit. */
static char *edited(const char *line, const char *key)
{
    cJSON *o = NULL;
    ck_assert_int_eq(capvi_json_parse(&o, (const uint8_t *)line, strlen(line), NULL), CAPV_OK);
    cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_ptr_nonnull(it);
    if (strcmp(key, "seq") == 0) {
        char lex[32];
        snprintf(lex, sizeof lex, "%d", (int)it->valuedouble + 1);
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, capvi_json_number_lexeme(lex));
    } else if (strcmp(key, "details") == 0) {
        cJSON *first = it->child;
        ck_assert_ptr_nonnull(first);
        char *name = strdup(first->string);
        if (cJSON_IsString(first)) {
            char *v = malloc(strlen(first->valuestring) + 2);
            sprintf(v, "%sx", first->valuestring);
            cJSON_ReplaceItemInObjectCaseSensitive(it, name, cJSON_CreateString(v));
            free(v);
        } else {
            cJSON_ReplaceItemInObjectCaseSensitive(it, name, capvi_json_number_lexeme("424242"));
        }
        free(name);
    } else {
        ck_assert(cJSON_IsString(it));
        char *v = malloc(strlen(it->valuestring) + 2);
        strcpy(v, it->valuestring);
        if (strcmp(key, "ts") == 0) {
            char *z = v + strcspn(v, "Z+") - 1; /* the last digit before the zone */
            *z = *z == '9' ? '0' : (char)(*z + 1);
        } else if (strncmp(v, "0x", 2) == 0 && strlen(v) == 66) {
            flip_last(v);
        } else {
            strcat(v, "x");
        }
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, cJSON_CreateString(v));
        free(v);
    }
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_compact(&b, o, 0);
    cJSON_Delete(o);
    return (char *)capvi_buf_take(&b, NULL);
}

static capv_audit_problem edit_problem(const char *key)
{
    if (strcmp(key, "seq") == 0)
        return CAPV_AUDIT_SEQ_GAP;
    if (strcmp(key, "prev_digest") == 0 || strcmp(key, "prev_hash") == 0)
        return CAPV_AUDIT_PREV_MISMATCH;
    return CAPV_AUDIT_DIGEST_MISMATCH;
}

/* Every field of every line, edited alone, breaks the chain at that line. */
static void every_single_field_edit(const char *dir, const char *rel, size_t want_edits)
{
    lines ls;
    lines_read(&ls, dir, rel);
    size_t edits = 0;
    for (size_t i = 0; i < ls.n; i++) {
        cJSON *o = NULL;
        ck_assert_int_eq(capvi_json_parse(&o, (const uint8_t *)ls.l[i], strlen(ls.l[i]), NULL),
                         CAPV_OK);
        /* the writer gives the line back byte for byte: an edit changes only its field */
        capv_buf same = CAPV_BUF_INIT;
        capvi_json_write_compact(&same, o, 0);
        char *rewritten = (char *)capvi_buf_take(&same, NULL);
        ck_assert_str_eq(rewritten, ls.l[i]);
        free(rewritten);
        for (const cJSON *f = o->child; f; f = f->next) {
            char *orig = ls.l[i];
            ls.l[i] = edited(orig, f->string);
            ck_assert_str_ne(ls.l[i], orig);
            char *text = join_all(&ls);
            ASSERT_BREAK(text, i + 1, edit_problem(f->string), CAPV_E_MISMATCH);
            free(text);
            free(ls.l[i]);
            ls.l[i] = orig;
            edits++;
        }
        /* a field removed or added breaks it too */
        for (const cJSON *f = o->child; f; f = f->next) {
            cJSON *copy = capvi_json_duplicate(o);
            cJSON_DeleteItemFromObjectCaseSensitive(copy, f->string);
            capv_buf b = CAPV_BUF_INIT;
            capvi_json_write_compact(&b, copy, 0);
            cJSON_Delete(copy);
            char *orig = ls.l[i];
            ls.l[i] = (char *)capvi_buf_take(&b, NULL);
            char *text = join_all(&ls);
            size_t line;
            capv_audit_problem p;
            ck_assert_int_ne(verify_text(text, &line, &p, NULL), CAPV_OK);
            ck_assert_uint_eq(line, i + 1);
            free(text);
            free(ls.l[i]);
            ls.l[i] = orig;
        }
        cJSON_Delete(o);
    }
    ck_assert_uint_eq(edits, want_edits);
    lines_free(&ls);
}

START_TEST(v1_single_field_edits)
{
    every_single_field_edit(tu_shared_dir(), PEER_V1, 6 * 6);
}
END_TEST

START_TEST(v2_single_field_edits)
{
    /* 7 + 8 + 4 + 8 + 6 fields in the five lines */
    every_single_field_edit(tu_vectors_dir(), OUR_V2, 7 + 8 + 4 + 8 + 6);
}
END_TEST

/* Changes inside v1 details that keep them valid JSON. */
START_TEST(v1_details_edits)
{
    lines ls;
    lines_read(&ls, tu_shared_dir(), PEER_V1);
    static const char *const swaps[][2] = {
        { "\"record_count\":10", "\"record_count\":11" },
        { "\"record_count\":10", "\"record_count\":10.5" },
        { "\"record_count\":10", "\"record_count\":\"10\"" },
        { "\"record_count\":10", "\"record_count\":10,\"extra\":null" },
        { ",\"record_count\":10", "" },
    };
    for (size_t k = 0; k < sizeof swaps / sizeof *swaps; k++) {
        char *orig = ls.l[1];
        char *at = strstr(orig, swaps[k][0]);
        ck_assert_ptr_nonnull(at);
        size_t pre = (size_t)(at - orig);
        char *line = malloc(strlen(orig) + strlen(swaps[k][1]) + 1);
        sprintf(line, "%.*s%s%s", (int)pre, orig, swaps[k][1], at + strlen(swaps[k][0]));
        ls.l[1] = line;
        char *text = join_all(&ls);
        ASSERT_BREAK(text, 2, CAPV_AUDIT_DIGEST_MISMATCH, CAPV_E_MISMATCH);
        free(text);
        free(line);
        ls.l[1] = orig;
    }
    lines_free(&ls);
}
END_TEST

/* ---- whole lines: truncated, reordered, duplicated, inserted ------------------------------ */

START_TEST(v1_line_changes)
{
    lines ls;
    lines_read(&ls, tu_shared_dir(), PEER_V1);
    char *text;
    /* truncated at a line end: a chain of its own, with line 5's digest as tip */
    text = join(&ls, (const int[]){ 0, 1, 2, 3, 4, -1 });
    char *tip5 = field_of(ls.l[4], "digest");
    assert_intact(text, CAPV_AUDIT_V1, 5, tip5);
    free(tip5);
    free(text);
    /* truncated inside the last line */
    text = join_all(&ls);
    text[strlen(text) - 20] = '\0';
    ASSERT_BREAK(text, 6, CAPV_AUDIT_BAD_JSON, CAPV_E_JSON_SYNTAX);
    free(text);
    /* the first line missing: line 1 has seq 2 */
    text = join(&ls, (const int[]){ 1, 2, 3, 4, 5, -1 });
    ASSERT_BREAK(text, 1, CAPV_AUDIT_SEQ_GAP, CAPV_E_MISMATCH);
    free(text);
    /* reordered */
    text = join(&ls, (const int[]){ 0, 1, 3, 2, 4, 5, -1 });
    ASSERT_BREAK(text, 3, CAPV_AUDIT_SEQ_GAP, CAPV_E_MISMATCH);
    free(text);
    /* duplicated */
    text = join(&ls, (const int[]){ 0, 1, 2, 2, 3, 4, 5, -1 });
    ASSERT_BREAK(text, 4, CAPV_AUDIT_SEQ_GAP, CAPV_E_MISMATCH);
    free(text);
    /* a line removed from the middle */
    text = join(&ls, (const int[]){ 0, 1, 3, 4, 5, -1 });
    ASSERT_BREAK(text, 3, CAPV_AUDIT_SEQ_GAP, CAPV_E_MISMATCH);
    free(text);
    /* inserted: a v2 event, an empty line, a line of something else */
    lines v2;
    lines_read(&v2, tu_vectors_dir(), OUR_V2);
    char *orig = ls.l[2];
    ls.l[2] = v2.l[0];
    text = join_all(&ls);
    ASSERT_BREAK(text, 3, CAPV_AUDIT_BAD_EVENT, CAPV_E_MALFORMED);
    free(text);
    ls.l[2] = (char *)"";
    text = join_all(&ls);
    ASSERT_BREAK(text, 3, CAPV_AUDIT_BAD_JSON, CAPV_E_MALFORMED);
    free(text);
    ls.l[2] = (char *)"[1,2]";
    text = join_all(&ls);
    ASSERT_BREAK(text, 3, CAPV_AUDIT_BAD_JSON, CAPV_E_TYPE);
    free(text);
    ls.l[2] = (char *)"{\"seq\":3,\"seq\":3}";
    text = join_all(&ls);
    ASSERT_BREAK(text, 3, CAPV_AUDIT_BAD_JSON, CAPV_E_JSON_DUPLICATE_KEY);
    free(text);
    ls.l[2] = orig;
    lines_free(&v2);
    lines_free(&ls);
}
END_TEST

START_TEST(v2_line_changes)
{
    lines ls;
    lines_read(&ls, tu_vectors_dir(), OUR_V2);
    char *text;
    text = join(&ls, (const int[]){ 1, 2, 3, 4, -1 });
    ASSERT_BREAK(text, 1, CAPV_AUDIT_PREV_MISMATCH, CAPV_E_MISMATCH);
    /* no previous event to name: the first line must link to the genesis */
    capv_error err = CAPV_ERROR_INIT;
    capv_audit_log *none = NULL;
    ck_assert_int_eq(
        capv_audit_verify(&none, NULL, NULL, (const uint8_t *)text, strlen(text), &err),
        CAPV_E_MISMATCH);
    ck_assert_msg(strstr(err.message, "must be the genesis") != NULL, "%s", err.message);
    free(text);
    text = join(&ls, (const int[]){ 0, 2, 1, 3, 4, -1 });
    ASSERT_BREAK(text, 2, CAPV_AUDIT_PREV_MISMATCH, CAPV_E_MISMATCH);
    free(text);
    text = join(&ls, (const int[]){ 0, 1, 2, 3, 3, 4, -1 });
    ASSERT_BREAK(text, 5, CAPV_AUDIT_PREV_MISMATCH, CAPV_E_MISMATCH);
    free(text);
    text = join(&ls, (const int[]){ 0, 1, 2, 4, -1 });
    ASSERT_BREAK(text, 4, CAPV_AUDIT_PREV_MISMATCH, CAPV_E_MISMATCH);
    free(text);
    text = join(&ls, (const int[]){ 0, 1, 2, -1 });
    char *tip3 = field_of(ls.l[2], "self_hash");
    assert_intact(text, CAPV_AUDIT_V2, 3, tip3);
    free(tip3);
    free(text);
    /* a v1 event in a v2 log */
    lines v1;
    lines_read(&v1, tu_shared_dir(), PEER_V1);
    char *orig = ls.l[1];
    ls.l[1] = v1.l[1];
    text = join_all(&ls);
    ASSERT_BREAK(text, 2, CAPV_AUDIT_BAD_EVENT, CAPV_E_MALFORMED);
    free(text);
    ls.l[1] = orig;
    lines_free(&v1);
    lines_free(&ls);
}
END_TEST

/* Malformed fields, each reported at its line with its own status. */
START_TEST(bad_events)
{
    static const struct {
        const char *line;
        capv_audit_problem problem;
        capv_status st;
    } cases[] = {
        { "{\"event\":\"x\"}", CAPV_AUDIT_BAD_EVENT, CAPV_E_MALFORMED },
        { "{\"seq\":\"1\",\"ts\":\"2025-01-01T00:00:00Z\"}", CAPV_AUDIT_BAD_EVENT, CAPV_E_TYPE },
        { "{\"seq\":1.0,\"ts\":\"2025-01-01T00:00:00Z\"}", CAPV_AUDIT_BAD_EVENT, CAPV_E_TYPE },
        { "{\"seq\":1,\"ts\":\"yesterday\",\"event\":\"e\",\"details\":{},\"prev_digest\":"
          "\"" GENESIS "\",\"digest\":\"" GENESIS "\"}",
          CAPV_AUDIT_BAD_EVENT, CAPV_E_MALFORMED },
        { "{\"seq\":1,\"ts\":\"2025-01-01T00:00:00Z\",\"event\":\"e\",\"prev_digest\":\"" GENESIS
          "\",\"digest\":\"" GENESIS "\"}",
          CAPV_AUDIT_BAD_EVENT, CAPV_E_MISSING },
        { "{\"seq\":1,\"ts\":\"2025-01-01T00:00:00Z\",\"event\":\"e\",\"details\":{},"
          "\"prev_digest\":\"0X00\",\"digest\":\"" GENESIS "\"}",
          CAPV_AUDIT_BAD_EVENT, CAPV_E_HEX },
        { "{\"seq\":1,\"ts\":\"2025-01-01T00:00:00Z\",\"event\":1,\"details\":{},"
          "\"prev_digest\":\"" GENESIS "\",\"digest\":\"" GENESIS "\"}",
          CAPV_AUDIT_BAD_EVENT, CAPV_E_TYPE },
        { "{\"ts\":\"2025-01-01T00:00:00Z\",\"event\":\"e\",\"policy_id\":null,\"prev_hash\":"
          "\"" GENESIS "\",\"self_hash\":\"" GENESIS "\"}",
          CAPV_AUDIT_BAD_EVENT, CAPV_E_TYPE },
        { "{\"ts\":\"2025-01-01T00:00:00Z\",\"event\":\"e\",\"note\":\"n\",\"prev_hash\":\"" GENESIS
          "\",\"self_hash\":\"" GENESIS "\"}",
          CAPV_AUDIT_BAD_EVENT, CAPV_E_MALFORMED },
        { "{\"ts\":\"2025-01-01T00:00:00Z\",\"event\":\"e\",\"prev_hash\":\"" GENESIS
          "\",\"self_hash\":\"" GENESIS "\"}",
          CAPV_AUDIT_DIGEST_MISMATCH, CAPV_E_MISMATCH },
        { "{\"a\":1", CAPV_AUDIT_BAD_JSON, CAPV_E_JSON_SYNTAX },
        { "{\"a\":\"\\u0000\"}", CAPV_AUDIT_BAD_JSON, CAPV_E_JSON_NUL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        ASSERT_BREAK(cases[i].line, 1, cases[i].problem, cases[i].st);
}
END_TEST

/* ---- limits -------------------------------------------------------------------------------- */

START_TEST(limits)
{
    lines ls;
    lines_read(&ls, tu_shared_dir(), PEER_V1);
    /* a line over the limit is refused before it is parsed: not "bad JSON" */
    size_t big = CAPV_AUDIT_MAX_LINE_BYTES + 1;
    char *text = malloc(strlen(ls.l[0]) + big + 3);
    sprintf(text, "%s\n", ls.l[0]);
    size_t n = strlen(text);
    memset(text + n, 'x', big);
    strcpy(text + n + big, "\n");
    ASSERT_BREAK(text, 2, CAPV_AUDIT_TOO_LARGE, CAPV_E_LIMIT);
    /* at the limit it is parsed (and is not JSON) */
    text[n + big - 1] = '\n';
    text[n + big] = '\0';
    ASSERT_BREAK(text, 2, CAPV_AUDIT_BAD_JSON, CAPV_E_JSON_SYNTAX);
    free(text);
    /* the line count, with smaller limits */
    char *all = join_all(&ls);
    capvi_audit_summary sum;
    capvi_audit_limits lim = { 4, CAPV_AUDIT_MAX_LINE_BYTES };
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(
        capvi_audit_scan(&sum, (const uint8_t *)all, strlen(all), &lim, NULL, NULL, &err),
        CAPV_E_LIMIT);
    ck_assert_uint_eq(sum.bad_line, 5);
    ck_assert_int_eq(sum.problem, CAPV_AUDIT_TOO_LARGE);
    lim.max_lines = 6;
    ck_assert_int_eq(
        capvi_audit_scan(&sum, (const uint8_t *)all, strlen(all), &lim, NULL, NULL, &err), CAPV_OK);
    ck_assert_uint_eq(sum.events, 6);
    lim.max_line_bytes = strlen(ls.l[1]) - 1; /* line 2 is the longest of the first two */
    ck_assert_uint_ge(lim.max_line_bytes, strlen(ls.l[0]));
    ck_assert_int_eq(
        capvi_audit_scan(&sum, (const uint8_t *)all, strlen(all), &lim, NULL, NULL, &err),
        CAPV_E_LIMIT);
    ck_assert_uint_eq(sum.bad_line, 2);
    free(all);
    lines_free(&ls);
}
END_TEST

/* ---- the serde_json form of v1 details ---------------------------------------------------- */

/* A one-event v1 log whose details are `details`, with the digest taken over `canonical`
 * (written here by hand, as serde_json's Value prints the same value). */
static char *v1_event(const char *details, const char *canonical)
{
    const char *ts = "2025-01-02T03:04:05.678901Z", *event = "e\"v\u00e9nt";
    char input[1024];
    snprintf(input, sizeof input, "1%s%s%s%s", ts, event, canonical, GENESIS);
    uint8_t d[32];
    ck_assert_int_eq(capv_hash(d, CAPV_HASH_SHA3_256, (const uint8_t *)input, strlen(input), NULL),
                     CAPV_OK);
    char *line = malloc(2048);
    snprintf(line, 2048,
             "{\"seq\":1,\"ts\":\"%s\",\"event\":\"e\\\"v\\u00e9nt\",\"details\":%s,"
             "\"prev_digest\":\"%s\",\"digest\":\"%s\"}\n",
             ts, details, GENESIS, tu_hex(d));
    return line;
}

START_TEST(v1_details_serde_form)
{
    static const char *const cases[][2] = {
        /* keys sorted at every depth, by their bytes */
        { "{\"z\":1,\"a\":{\"y\":true,\"b\":null},\"\xc3\xa9\":0,\"B\":[]}",
          "{\"B\":[],\"a\":{\"b\":null,\"y\":true},\"z\":1,\"\xc3\xa9\":0}" },
        /* escapes: only what serde_json escapes, lower-case \u00xx; the rest raw */
        { "{\"s\":\"\\u00e9\\/\\u001F\\b\\t\\\"\\\\\x7f\"}",
          "{\"s\":\"\xc3\xa9/\\u001f\\b\\t\\\"\\\\\x7f\"}" },
        /* numbers: integers within i64 / u64 as written, the rest as f64 */
        { "[1.5,1E5,1e15,1e16,0.00001,1e-7,-0,-0.0,18446744073709551615,18446744073709551616,"
          "-9223372036854775808,-9223372036854775809,2.50]",
          "[1.5,100000.0,1000000000000000.0,1e16,0.00001,1e-7,-0.0,-0.0,18446744073709551615,"
          "1.8446744073709552e19,-9223372036854775808,-9.223372036854776e18,2.5]" },
        { "\"text\"", "\"text\"" },
        { "null", "null" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *line = v1_event(cases[i][0], cases[i][1]);
        assert_intact(line, CAPV_AUDIT_V1, 1, NULL);
        free(line);
        /* the details as written (unsorted, other number forms) hash to something else */
        if (strcmp(cases[i][0], cases[i][1]) != 0) {
            line = v1_event(cases[i][0], cases[i][0]);
            ASSERT_BREAK(line, 1, CAPV_AUDIT_DIGEST_MISMATCH, CAPV_E_MISMATCH);
            free(line);
        }
    }
}
END_TEST

/* ---- export --------------------------------------------------------------------------------- */

static char *export_of(const capv_audit_log *log, const char *from, const char *to,
                       const char *policy, capv_status want)
{
    int64_t f = INT64_MIN, t = INT64_MAX;
    if (from != NULL)
        ck_assert_int_eq(capv_rfc3339_parse(&f, from, strlen(from), NULL), CAPV_OK);
    if (to != NULL)
        ck_assert_int_eq(capv_rfc3339_parse(&t, to, strlen(to), NULL), CAPV_OK);
    char *out = NULL;
    size_t len = 0;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_audit_log_export(&out, &len, log, f, t, policy, &err), want);
    if (want == CAPV_OK)
        ck_assert_uint_eq(len, strlen(out));
    else
        ck_assert_ptr_null(out);
    return out;
}

START_TEST(export_ranges)
{
    lines ls;
    lines_read(&ls, tu_vectors_dir(), OUR_V2);
    char *text = join_all(&ls);
    capv_audit_log *log = NULL;
    ck_assert_int_eq(capv_audit_verify(&log, NULL, NULL, (const uint8_t *)text, strlen(text), NULL),
                     CAPV_OK);
    char *out, *want;
    /* everything: the log itself */
    out = export_of(log, NULL, NULL, NULL, CAPV_OK);
    ck_assert_str_eq(out, text);
    free(out);
    /* both bounds included, compared as times (line 4 is 07:30:00.250Z on the 2nd) */
    out = export_of(log, "2025-12-01T09:05:00Z", "2025-12-02T07:30:00.250Z", NULL, CAPV_OK);
    want = join(&ls, (const int[]){ 1, 2, 3, -1 });
    ck_assert_str_eq(out, want);
    free(want);
    free(out);
    out = export_of(log, "2025-12-01T09:05:00.001Z", "2025-12-02T07:30:00.249Z", NULL, CAPV_OK);
    want = join(&ls, (const int[]){ 2, -1 });
    ck_assert_str_eq(out, want);
    free(want);
    free(out);
    /* sub-millisecond digits are ignored: line 1 is 09:00:00.000001 */
    out = export_of(log, NULL, "2025-12-01T09:00:00Z", NULL, CAPV_OK);
    want = join(&ls, (const int[]){ 0, -1 });
    ck_assert_str_eq(out, want);
    free(want);
    free(out);
    /* by policy */
    out = export_of(log, NULL, NULL, "lksg.v1", CAPV_OK);
    want = join(&ls, (const int[]){ 0, 1, 4, -1 });
    ck_assert_str_eq(out, want);
    free(want);
    free(out);
    out = export_of(log, "2025-12-01T09:01:00Z", NULL, "lksg.v1", CAPV_OK);
    want = join(&ls, (const int[]){ 1, 4, -1 });
    ck_assert_str_eq(out, want);
    free(want);
    free(out);
    out = export_of(log, NULL, NULL, "LKSG.v1", CAPV_OK);
    ck_assert_str_eq(out, "");
    free(out);
    export_of(log, "2025-12-02T00:00:00Z", "2025-12-01T00:00:00Z", NULL, CAPV_E_INVALID_ARG);
    capv_audit_log_free(log);
    free(text);
    lines_free(&ls);
    /* v1 events carry no policy_id */
    size_t len;
    uint8_t *v1 = tu_read(tu_shared_dir(), PEER_V1, &len);
    ck_assert_int_eq(capv_audit_verify(&log, NULL, NULL, v1, len, NULL), CAPV_OK);
    export_of(log, NULL, NULL, "lksg.v1", CAPV_E_UNSUPPORTED);
    out = export_of(log, "2025-11-27T11:34:40Z", "2025-11-27T11:34:46Z", NULL, CAPV_OK);
    lines_read(&ls, tu_shared_dir(), PEER_V1);
    want = join(&ls, (const int[]){ 2, 3, -1 });
    ck_assert_str_eq(out, want);
    free(want);
    free(out);
    lines_free(&ls);
    capv_audit_log_free(log);
    free(v1);
}
END_TEST

START_TEST(api_contract)
{
    capv_audit_log *log = (capv_audit_log *)1;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capv_audit_verify(NULL, NULL, NULL, NULL, 0, &err), CAPV_E_INVALID_ARG);
    ck_assert_int_eq(capv_audit_verify(&log, NULL, NULL, NULL, 3, &err), CAPV_E_INVALID_ARG);
    ck_assert_uint_eq(capv_audit_log_events(NULL), 0);
    ck_assert_ptr_null(capv_audit_log_tip(NULL));
    capv_audit_log_free(NULL);
    ck_assert_str_eq(capv_audit_problem_name(CAPV_AUDIT_PREV_MISMATCH), "prev_mismatch");
    ck_assert_str_eq(capv_audit_problem_name((capv_audit_problem)99), "unknown");
    ck_assert_str_eq(capv_audit_format_name(CAPV_AUDIT_V2), "v2");
    /* a failure, then a success with the same err: it is empty again */
    ck_assert_int_eq(capv_audit_verify(&log, NULL, NULL, (const uint8_t *)"x", 1, &err),
                     CAPV_E_JSON_SYNTAX);
    ck_assert_int_eq(capv_audit_verify(&log, NULL, NULL, (const uint8_t *)"", 0, &err), CAPV_OK);
    ck_assert_int_eq(err.code, CAPV_OK);
    ck_assert_str_eq(err.message, "");
    capv_audit_log_free(log);
    capv_global_shutdown();
    ck_assert_int_eq(capv_audit_verify(&log, NULL, NULL, (const uint8_t *)"", 0, &err),
                     CAPV_E_NOT_INITIALIZED);
    ck_assert_int_eq(capv_global_init(NULL), CAPV_OK);
}
END_TEST

Suite *audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("audit");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, peer_v1_vector);
    tcase_add_test(tc, our_v2_vector);
    tcase_add_test(tc, empty_log);
    tcase_add_test(tc, v1_single_field_edits);
    tcase_add_test(tc, v2_single_field_edits);
    tcase_add_test(tc, v1_details_edits);
    tcase_add_test(tc, v1_line_changes);
    tcase_add_test(tc, v2_line_changes);
    tcase_add_test(tc, bad_events);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, v1_details_serde_form);
    tcase_add_test(tc, export_ranges);
    tcase_add_test(tc, api_contract);
    suite_add_tcase(s, tc);
    return s;
}
