/* SPDX-License-Identifier: Apache-2.0 */
#include <capverify.h>
#include <check.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_int.h"
#include "suites.h"

/* Each case: input (with explicit length, since some contain NUL) and the exact status. */
typedef struct {
    const char *text;
    size_t len; /* 0 = strlen(text) */
    capv_status want;
} json_case;

#define J(t, w)                                                                                    \
    {                                                                                              \
        t, 0, w                                                                                    \
    }

static const json_case malformed[] = {
    J("", CAPV_E_JSON_SYNTAX),
    J("   ", CAPV_E_JSON_SYNTAX),
    J("{", CAPV_E_JSON_SYNTAX),
    J("{\"a\":1,}", CAPV_E_JSON_SYNTAX),
    J("[1,]", CAPV_E_JSON_SYNTAX),
    J("[1 2]", CAPV_E_JSON_SYNTAX),
    J("{'a':1}", CAPV_E_JSON_SYNTAX),
    J("{a:1}", CAPV_E_JSON_SYNTAX),
    J("{\"a\" 1}", CAPV_E_JSON_SYNTAX),
    J("[01]", CAPV_E_JSON_SYNTAX),
    J("[1.]", CAPV_E_JSON_SYNTAX),
    J("[.5]", CAPV_E_JSON_SYNTAX),
    J("[1e]", CAPV_E_JSON_SYNTAX),
    J("[+1]", CAPV_E_JSON_SYNTAX),
    J("[-]", CAPV_E_JSON_SYNTAX),
    J("[NaN]", CAPV_E_JSON_SYNTAX),
    J("[Infinity]", CAPV_E_JSON_SYNTAX),
    J("[tru]", CAPV_E_JSON_SYNTAX),
    J("[True]", CAPV_E_JSON_SYNTAX),
    J("[nul]", CAPV_E_JSON_SYNTAX),
    J("\"abc", CAPV_E_JSON_SYNTAX),
    J("\"a\tb\"", CAPV_E_JSON_SYNTAX),   /* raw control character */
    J("\"a\\x41\"", CAPV_E_JSON_SYNTAX), /* bad escape */
    J("\"\\u12G4\"", CAPV_E_JSON_SYNTAX),
    J("\"\\u12\"", CAPV_E_JSON_SYNTAX),
    J("/* c */ 1", CAPV_E_JSON_SYNTAX),
    J("\xef\xbb\xbf{}", CAPV_E_JSON_SYNTAX), /* byte order mark */
    { "\"a\0b\"", 5, CAPV_E_JSON_SYNTAX },   /* raw NUL inside a string */
    J("{\"a\":1,\"a\":2}", CAPV_E_JSON_DUPLICATE_KEY),
    J("{\"a\":{\"b\":1,\"c\":2,\"b\":3}}", CAPV_E_JSON_DUPLICATE_KEY),
    J("[{\"x\":1},{\"y\":1,\"y\":1}]", CAPV_E_JSON_DUPLICATE_KEY),
    J("{\"k\":0,\"\\u006b\":1}", CAPV_E_JSON_DUPLICATE_KEY), /* same key, escaped */
    J("{\"a1\":1,\"a2\":1,\"a3\":1,\"a4\":1,\"a5\":1,\"a6\":1,\"a7\":1,\"a8\":1,\"a9\":1,"
      "\"a5\":2}",
      CAPV_E_JSON_DUPLICATE_KEY), /* the sorted path (> 8 keys) */
    J("\"\xff\"", CAPV_E_JSON_UTF8),
    J("\"\xc0\xaf\"", CAPV_E_JSON_UTF8),         /* overlong '/' */
    J("\"\xe0\x80\xaf\"", CAPV_E_JSON_UTF8),     /* overlong */
    J("\"\xed\xa0\x80\"", CAPV_E_JSON_UTF8),     /* UTF-8 encoded surrogate */
    J("\"\xf4\x90\x80\x80\"", CAPV_E_JSON_UTF8), /* above U+10FFFF */
    J("\"\xc3\"", CAPV_E_JSON_UTF8),             /* truncated sequence */
    J("\"\xe2\x82\"", CAPV_E_JSON_UTF8),
    J("\"\x80\"", CAPV_E_JSON_UTF8),     /* lone continuation */
    J("{\"\xfe\":1}", CAPV_E_JSON_UTF8), /* in a key */
    J("\"\\u0000\"", CAPV_E_JSON_NUL),
    J("{\"a\\u0000b\":1}", CAPV_E_JSON_NUL),
    J("\"\\ud800\"", CAPV_E_JSON_SURROGATE),
    J("\"\\udc00\"", CAPV_E_JSON_SURROGATE),
    J("\"\\ud800\\u0041\"", CAPV_E_JSON_SURROGATE),
    J("\"\\ud800\\ud800\"", CAPV_E_JSON_SURROGATE),
    J("\"\\udc00\\ud800\"", CAPV_E_JSON_SURROGATE),
    J("{} {}", CAPV_E_JSON_TRAILING),
    J("1 2", CAPV_E_JSON_TRAILING),
    J("{}x", CAPV_E_JSON_TRAILING),
    { "{}\0", 3, CAPV_E_JSON_TRAILING },
    J("[1e400]", CAPV_E_RANGE), /* overflows a double */
    J("[1234567890123456789012345678901234567890123456789012345678901234]", CAPV_E_RANGE),
};

START_TEST(rejects_malformed)
{
    const json_case *c = &malformed[_i];
    size_t len = c->len ? c->len : strlen(c->text);
    capv_error err = CAPV_ERROR_INIT;
    cJSON *root = (cJSON *)1;
    capv_status st = capvi_json_parse(&root, (const uint8_t *)c->text, len, &err);
    ck_assert_msg(st == c->want, "case %d: got %s (%s), want %s", _i, capv_status_name(st),
                  err.message, capv_status_name(c->want));
    ck_assert_int_eq(err.code, c->want);
    ck_assert_ptr_null(root);
    st = capv_json_validate((const uint8_t *)c->text, len, NULL);
    ck_assert_msg(st == c->want, "validate case %d: got %s", _i, capv_status_name(st));
    /* the same in an arena (small enough to need heap blocks too) */
    max_align_t mem[4];
    capv_json_arena arena = CAPV_JSON_ARENA(mem);
    root = (cJSON *)1;
    st = capvi_json_parse_in(&root, &arena, (const uint8_t *)c->text, len, NULL);
    ck_assert_msg(st == c->want, "arena case %d: got %s", _i, capv_status_name(st));
    ck_assert_ptr_null(root);
    capvi_json_arena_release(&arena);
}
END_TEST

static const char *const wellformed[] = {
    "{}",
    "[]",
    "0",
    "-0",
    "1.5e-3",
    "\"\"",
    "true",
    "false",
    "null",
    " \t\r\n{ } \n",
    "{\"a\":[1,{\"b\":null}],\"c\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
    "\"\\ud83d\\ude00\"",                         /* surrogate pair */
    "\"\xf0\x9f\x98\x80 \xc2\xa7 \xe2\x82\xac\"", /* raw UTF-8 */
    "{\"A\":1,\"a\":2}",                          /* keys are case-sensitive: not duplicates */
    "[123456789012345678901234567890]",           /* long but within 63 characters */
};

START_TEST(accepts_wellformed)
{
    cJSON *root = NULL;
    capv_error err = CAPV_ERROR_INIT;
    const char *t = wellformed[_i];
    ck_assert_msg(capvi_json_parse(&root, (const uint8_t *)t, strlen(t), &err) == CAPV_OK,
                  "case %d: %s", _i, err.message);
    ck_assert_ptr_nonnull(root);
    ck_assert_int_eq(capv_json_validate((const uint8_t *)t, strlen(t), NULL), CAPV_OK);
    /* the same tree in an arena */
    max_align_t mem[4];
    capv_json_arena arena = CAPV_JSON_ARENA(mem);
    cJSON *in = NULL;
    ck_assert_int_eq(capvi_json_parse_in(&in, &arena, (const uint8_t *)t, strlen(t), NULL),
                     CAPV_OK);
    char *want = cJSON_PrintUnformatted(root), *got = cJSON_PrintUnformatted(in);
    ck_assert_str_eq(got, want);
    cJSON_free(want);
    cJSON_free(got);
    capvi_json_arena_release(&arena);
    cJSON_Delete(root);
}
END_TEST

static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 2 + 1);
    for (int i = 0; i < depth; i++) {
        s[i] = '[';
        s[depth * 2 - 1 - i] = ']';
    }
    s[depth * 2] = '\0';
    return s;
}

START_TEST(depth_limit)
{
    char *ok = nested(CAPV_JSON_MAX_DEPTH);
    char *deep = nested(CAPV_JSON_MAX_DEPTH + 1);
    char *huge = nested(100000);
    cJSON *root = NULL;
    ck_assert_int_eq(capvi_json_parse(&root, (uint8_t *)ok, strlen(ok), NULL), CAPV_OK);
    cJSON_Delete(root);
    ck_assert_int_eq(capvi_json_parse(&root, (uint8_t *)deep, strlen(deep), NULL),
                     CAPV_E_JSON_DEPTH);
    ck_assert_int_eq(capvi_json_parse(&root, (uint8_t *)huge, strlen(huge), NULL),
                     CAPV_E_JSON_DEPTH);
    free(ok);
    free(deep);
    free(huge);
}
END_TEST

static cJSON *parse(const char *t)
{
    cJSON *root = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capvi_json_parse(&root, (const uint8_t *)t, strlen(t), &err) == CAPV_OK, "%s",
                  err.message);
    return root;
}

START_TEST(case_sensitive_lookup)
{
    cJSON *r = parse("{\"Name\":\"upper\",\"name\":\"lower\"}");
    const char *v = NULL;
    ck_assert_int_eq(capvi_json_get_string(&v, r, "", "name", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "lower");
    ck_assert_int_eq(capvi_json_get_string(&v, r, "", "Name", true, NULL), CAPV_OK);
    ck_assert_str_eq(v, "upper");
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_json_get_string(&v, r, "m", "NAME", true, &err), CAPV_E_MISSING);
    ck_assert_str_eq(err.field, "m.NAME");
    v = "unchanged";
    ck_assert_int_eq(capvi_json_get_string(&v, r, "", "NAME", false, NULL), CAPV_OK);
    ck_assert_str_eq(v, "unchanged");
    cJSON_Delete(r);
}
END_TEST

START_TEST(typed_reads)
{
    cJSON *r = parse("{\"s\":\"x\",\"b\":true,\"o\":{},\"a\":[],\"n\":5}");
    const char *s;
    bool b = false;
    const cJSON *o, *a;
    int64_t n;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_int_eq(capvi_json_get_bool(&b, r, "", "b", true, NULL), CAPV_OK);
    ck_assert(b);
    ck_assert_int_eq(capvi_json_get_object(&o, r, "", "o", true, NULL), CAPV_OK);
    ck_assert_int_eq(capvi_json_get_array(&a, r, "", "a", true, NULL), CAPV_OK);
    ck_assert_int_eq(capvi_json_get_int(&n, r, "", "n", 0, 10, true, NULL), CAPV_OK);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(capvi_json_get_string(&s, r, "", "n", true, &err), CAPV_E_TYPE);
    ck_assert_str_eq(err.field, "n");
    ck_assert_int_eq(capvi_json_get_bool(&b, r, "", "s", true, NULL), CAPV_E_TYPE);
    ck_assert_int_eq(capvi_json_get_object(&o, r, "", "a", true, NULL), CAPV_E_TYPE);
    ck_assert_int_eq(capvi_json_get_array(&a, r, "", "o", true, NULL), CAPV_E_TYPE);
    ck_assert_int_eq(capvi_json_get_int(&n, r, "", "s", 0, 10, true, NULL), CAPV_E_TYPE);
    ck_assert_int_eq(capvi_json_get_int(&n, r, "", "n", 6, 10, true, NULL), CAPV_E_RANGE);
    ck_assert_ptr_null(capvi_json_get(r->child, "x")); /* not an object */
    cJSON_Delete(r);
}
END_TEST

/* Exact integers: beyond 2^31 (cJSON's valueint saturates), at 2^53, beyond, fractions. */
START_TEST(exact_integers)
{
    cJSON *r = parse("{\"exp\":4102444800,\"max\":9007199254740992,\"over\":9007199254740993,"
                     "\"i64\":9223372036854775807,\"big\":9223372036854775808,"
                     "\"neg\":-9223372036854775808,\"e\":1e3,\"f\":1.5,\"z\":-0,\"ef\":1.0}");
    int64_t v;
    ck_assert_int_eq(capvi_json_get_int(&v, r, "", "exp", 0, CAPV_JSON_INT_MAX, true, NULL),
                     CAPV_OK);
    ck_assert_int_eq(v, INT64_C(4102444800));
    ck_assert_int_eq(capvi_json_get_int(&v, r, "", "max", 0, CAPV_JSON_INT_MAX, true, NULL),
                     CAPV_OK);
    ck_assert_int_eq(v, CAPV_JSON_INT_MAX);
    ck_assert_int_eq(capvi_json_get_int(&v, r, "", "over", 0, CAPV_JSON_INT_MAX, true, NULL),
                     CAPV_E_RANGE);
    ck_assert_int_eq(capvi_json_get_int(&v, r, "", "over", 0, INT64_MAX, true, NULL), CAPV_OK);
    ck_assert_int_eq(v, INT64_C(9007199254740993)); /* exact, not rounded through a double */
    ck_assert_int_eq(capvi_json_get_int(&v, r, "", "i64", 0, INT64_MAX, true, NULL), CAPV_OK);
    ck_assert_int_eq(v, INT64_MAX);
    ck_assert_int_eq(capvi_json_get_int(&v, r, "", "big", 0, INT64_MAX, true, NULL), CAPV_E_RANGE);
    ck_assert_int_eq(capvi_json_get_int(&v, r, "", "neg", INT64_MIN, 0, true, NULL), CAPV_OK);
    ck_assert_int_eq(v, INT64_MIN);
    ck_assert_int_eq(capvi_json_get_int(&v, r, "", "e", 0, 5000, true, NULL), CAPV_OK);
    ck_assert_int_eq(v, 1000);
    ck_assert_int_eq(capvi_json_get_int(&v, r, "", "f", 0, 5000, true, NULL), CAPV_E_RANGE);
    ck_assert_int_eq(capvi_json_get_int(&v, r, "", "z", -1, 1, true, NULL), CAPV_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(capvi_json_get_int(&v, r, "", "ef", 0, 5, true, NULL), CAPV_OK);
    ck_assert_int_eq(v, 1);
    cJSON_Delete(r);
}
END_TEST

/* A number's double is strtod's, bit for bit, on both sides of the 15-digit integers the
 * parser converts itself: every length from 1 to 20 digits, both signs, zeros, the largest
 * and smallest of a length, and the same digits with a fraction or an exponent. */
START_TEST(number_doubles)
{
    static const char *const digits[] = { "0",
                                          "7",
                                          "9",
                                          "10",
                                          "1234567",
                                          "999999999999999",
                                          "100000000000000",
                                          "123456789012345",
                                          "1000000000000000",
                                          "9007199254740993",
                                          "99999999999999999999",
                                          "00" };
    static const char *const forms[][2] = { { "", "" },     { "-", "" },  { "", ".0" },
                                            { "-", ".25" }, { "", "e0" }, { "", "E-2" } };
    for (size_t i = 0; i < sizeof digits / sizeof digits[0]; i++)
        for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
            char num[64], doc[80];
            snprintf(num, sizeof num, "%s%s%s", forms[f][0], digits[i], forms[f][1]);
            snprintf(doc, sizeof doc, "[%s]", num);
            cJSON *r = NULL;
            capv_status st = capvi_json_parse(&r, (const uint8_t *)doc, strlen(doc), NULL);
            if (strcmp(digits[i], "00") == 0) { /* a leading zero is not JSON */
                ck_assert_int_eq(st, CAPV_E_JSON_SYNTAX);
                continue;
            }
            ck_assert_msg(st == CAPV_OK, "%s", doc);
            double want = strtod(num, NULL), got = r->child->valuedouble;
            ck_assert_msg(memcmp(&want, &got, sizeof want) == 0, "%s: %.17g, strtod %.17g", num,
                          got, want);
            int wi = want >= INT_MAX ? INT_MAX : want <= (double)INT_MIN ? INT_MIN : (int)want;
            ck_assert_int_eq(r->child->valueint, wi);
            ck_assert_str_eq(r->child->valuestring, num);
            cJSON_Delete(r);
        }
}
END_TEST

/* A parsed tree keeps member names and short texts inside its nodes: a copy made with
 * capvi_json_duplicate outlives the original, a long string can be dropped early, and cJSON's
 * own editing (detach, replace, delete) frees exactly what it should (ASan checks the rest). */
START_TEST(tree_memory)
{
    char long_text[1200];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    char doc[1600];
    snprintf(
        doc, sizeof doc,
        "{\"na\\u006de\":\"caf\\u00e9\",\"n\":-12.5e1,\"deep\":{\"a\":[1,\"two\",{\"k\":null}]},"
        "\"long\":\"%s\",\"t\":true}",
        long_text);
    cJSON *r = parse(doc);
    cJSON *copy = capvi_json_duplicate(capvi_json_get(r, "deep"));
    ck_assert_ptr_nonnull(copy);
    ck_assert_str_eq(capvi_json_get(r, "name")->valuestring, "caf\xc3\xa9");
    ck_assert_str_eq(capvi_json_get(r, "n")->valuestring, "-12.5e1");
    ck_assert(capvi_json_get(r, "n")->valuedouble == -125.0);
    cJSON *l = (cJSON *)capvi_json_get(r, "long");
    ck_assert_uint_eq(strlen(l->valuestring), sizeof long_text - 1);
    capvi_json_drop_string(l);
    ck_assert_ptr_null(l->valuestring);
    capvi_json_drop_string((cJSON *)capvi_json_get(r, "name")); /* inline: only cleared */
    cJSON *t = cJSON_DetachItemFromObjectCaseSensitive(r, "t");
    ck_assert(cJSON_IsTrue(t));
    ck_assert(cJSON_ReplaceItemInObjectCaseSensitive(r, "n", cJSON_CreateString("replaced")));
    cJSON_DeleteItemFromObjectCaseSensitive(r, "deep");
    cJSON_Delete(r);
    cJSON_Delete(t);
    /* the copy owns its names and texts */
    const cJSON *a = capvi_json_get(copy, "a");
    ck_assert_str_eq(copy->string, "deep");
    ck_assert_int_eq(cJSON_GetArraySize(a), 3);
    ck_assert_str_eq(cJSON_GetArrayItem(a, 1)->valuestring, "two");
    ck_assert(cJSON_IsNull(capvi_json_get(cJSON_GetArrayItem(a, 2), "k")));
    cJSON_AddItemToObject(copy, "more", cJSON_CreateNumber(1));
    cJSON_Delete(copy);
}
END_TEST

/* A tree in an arena: the caller's memory first, then heap blocks, one of them larger than a
 * block for a text longer than one; the same tree as a parse makes, and the arena reused
 * after its release (ASan and valgrind check that nothing leaks or is freed twice). */
START_TEST(tree_in_arena)
{
    static char doc[9000];
    char long_text[6000];
    memset(long_text, 'y', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    snprintf(doc, sizeof doc,
             "{\"a\":[1,2,3,{\"b\":\"caf\\u00e9\"}],\"long\":\"%s\",\"n\":-1.5e3,"
             "\"o\":{\"p\":{\"q\":[true,false,null]}}}",
             long_text);
    cJSON *heap = parse(doc);
    char *want = cJSON_PrintUnformatted(heap);
    max_align_t mem[64 / sizeof(max_align_t)];
    capv_json_arena arena = CAPV_JSON_ARENA(mem);
    for (int round = 0; round < 2; round++) {
        cJSON *in = NULL;
        ck_assert_int_eq(capvi_json_parse_in(&in, &arena, (const uint8_t *)doc, strlen(doc), NULL),
                         CAPV_OK);
        ck_assert_ptr_nonnull(arena.blocks);
        ck_assert_str_eq(capvi_json_get(in, "n")->valuestring, "-1.5e3");
        char *got = cJSON_PrintUnformatted(in);
        ck_assert_str_eq(got, want);
        cJSON_free(got);
        capvi_json_arena_release(&arena);
        ck_assert_ptr_null(arena.blocks);
        ck_assert_uint_eq(arena.used, 0);
    }
    /* a tree of thousands of nodes: blocks grow to their largest size, and many of those */
    capv_buf many = CAPV_BUF_INIT;
    capvi_buf_putc(&many, '[');
    for (int i = 0; i < 6000; i++)
        capvi_buf_printf(&many, "%s{\"k%d\":[%d,\"v\"]}", i ? "," : "", i, i);
    /* and a text longer than the largest block, after the blocks have grown */
    capvi_buf_puts(&many, ",\"");
    for (int i = 0; i < 100000; i++)
        capvi_buf_putc(&many, (char)('a' + i % 26));
    capvi_buf_puts(&many, "\"]");
    cJSON *many_heap = NULL, *many_in = NULL;
    ck_assert_int_eq(capvi_json_parse(&many_heap, many.data, many.len, NULL), CAPV_OK);
    ck_assert_int_eq(capvi_json_parse_in(&many_in, &arena, many.data, many.len, NULL), CAPV_OK);
    char *many_want = cJSON_PrintUnformatted(many_heap),
         *many_got = cJSON_PrintUnformatted(many_in);
    ck_assert_str_eq(many_got, many_want);
    cJSON_free(many_want);
    cJSON_free(many_got);
    cJSON_Delete(many_heap);
    capvi_json_arena_release(&arena);
    capvi_buf_free(&many);
    /* a duplicate key found after the tree is built: rejected, the arena still released */
    cJSON *dup = (cJSON *)1;
    ck_assert_int_eq(
        capvi_json_parse_in(&dup, &arena, (const uint8_t *)"{\"k\":1,\"k\":2}", 13, NULL),
        CAPV_E_JSON_DUPLICATE_KEY);
    ck_assert_ptr_null(dup);
    capvi_json_arena_release(&arena);
    ck_assert_int_eq(capvi_json_parse_in(&dup, NULL, (const uint8_t *)"{}", 2, NULL),
                     CAPV_E_INVALID_ARG);
    cJSON_free(want);
    cJSON_Delete(heap);
}
END_TEST

/* Trees built with the one-allocation helpers write as the same tree built with cJSON's
 * own calls, copy with capvi_json_duplicate and free with cJSON_Delete (ASan and valgrind
 * check both); a NULL parent or string value makes nothing. */
START_TEST(built_nodes)
{
    char key[16] = "transient";
    cJSON *mine = cJSON_CreateObject(), *theirs = cJSON_CreateObject();
    ck_assert_ptr_nonnull(capvi_json_add_string(mine, key, "caf\xc3\xa9 \"q\""));
    memset(key, 'x', sizeof key - 1); /* the name was copied */
    ck_assert_ptr_nonnull(capvi_json_add_number(mine, "n", -1.5e3));
    ck_assert_ptr_nonnull(capvi_json_add_number(mine, "big", 1e12));
    ck_assert_ptr_nonnull(capvi_json_add_bool(mine, "t", true));
    ck_assert_ptr_nonnull(capvi_json_add_bool(mine, "f", false));
    cJSON *arr = capvi_json_add_container(mine, "a", false);
    ck_assert_ptr_nonnull(capvi_json_add_string(arr, NULL, "e"));
    ck_assert_ptr_nonnull(capvi_json_add_number(capvi_json_add_container(arr, NULL, true), "k", 7));
    ck_assert_ptr_null(capvi_json_add_string(mine, "none", NULL));
    ck_assert_ptr_null(capvi_json_add_string(NULL, "k", "v"));
    ck_assert_ptr_null(capvi_json_add_bool(NULL, "k", true));
    cJSON_AddStringToObject(theirs, "transient", "caf\xc3\xa9 \"q\"");
    cJSON_AddNumberToObject(theirs, "n", -1.5e3);
    cJSON_AddNumberToObject(theirs, "big", 1e12);
    cJSON_AddBoolToObject(theirs, "t", true);
    cJSON_AddBoolToObject(theirs, "f", false);
    cJSON *tarr = cJSON_AddArrayToObject(theirs, "a");
    cJSON_AddItemToArray(tarr, cJSON_CreateString("e"));
    cJSON *tobj = cJSON_CreateObject();
    cJSON_AddNumberToObject(tobj, "k", 7);
    cJSON_AddItemToArray(tarr, tobj);
    ck_assert_int_eq(capvi_json_get(mine, "big")->valueint, INT_MAX);
    capv_buf a = CAPV_BUF_INIT, b = CAPV_BUF_INIT, c = CAPV_BUF_INIT;
    capvi_json_write_compact(&a, mine, 0);
    capvi_json_write_compact(&b, theirs, 0);
    cJSON *copy = capvi_json_duplicate(mine);
    ck_assert_ptr_nonnull(copy);
    cJSON_Delete(mine);
    capvi_json_write_compact(&c, copy, 0);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_mem_eq(a.data, b.data, a.len);
    ck_assert_uint_eq(c.len, b.len);
    ck_assert_mem_eq(c.data, b.data, b.len);
    cJSON_Delete(copy);
    cJSON_Delete(theirs);
    capvi_buf_free(&a);
    capvi_buf_free(&b);
    capvi_buf_free(&c);
}
END_TEST

Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("strict");
    tcase_add_loop_test(tc, rejects_malformed, 0, (int)(sizeof malformed / sizeof malformed[0]));
    tcase_add_loop_test(tc, accepts_wellformed, 0, (int)(sizeof wellformed / sizeof wellformed[0]));
    tcase_add_test(tc, depth_limit);
    suite_add_tcase(s, tc);
    tc = tcase_create("access");
    tcase_add_test(tc, case_sensitive_lookup);
    tcase_add_test(tc, typed_reads);
    tcase_add_test(tc, exact_integers);
    tcase_add_test(tc, number_doubles);
    tcase_add_test(tc, tree_memory);
    tcase_add_test(tc, tree_in_arena);
    tcase_add_test(tc, built_nodes);
    suite_add_tcase(s, tc);
    return s;
}
