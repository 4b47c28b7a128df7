/* SPDX-License-Identifier: Apache-2.0 */
/* JSON writers: the compat canonical compact form (docs/formats.md, "Compat canonical JSON") and
 * serde_json-style pretty printing. Byte-compatible with what the existing CAP signer produced. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_locale_int.h"
#include "json_write_int.h"

void capvi_json_write_string(capv_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    capvi_buf_putc(b, '"');
    size_t run = 0; /* start of the pending run of bytes that need no escaping */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        capvi_buf_append(b, s + run, i - run);
        run = i + 1;
        char esc[7] = { '\\', 0 };
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            n = 6;
        }
        capvi_buf_append(b, esc, n);
    }
    capvi_buf_append(b, s + run, len - run);
    capvi_buf_putc(b, '"');
}

void capvi_json_write_double(capv_buf *b, double v)
{
    if (!isfinite(v)) {
        capvi_buf_puts(b, "null");
        return;
    }
    if (v == 0) {
        capvi_buf_puts(b, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    /* Shortest digit string that reads back as the same double. */
    char sci[40];
    for (int prec = 0; prec <= 17; prec++) {
        capvi_snprintf(sci, sizeof sci, "%.*e", prec, v);
        if (capvi_strtod(sci, NULL) == v)
            break;
    }
    /* sci = [-]d[.ddd]e[+-]xx : split into digits and decimal exponent. */
    const char *p = sci;
    bool neg = *p == '-';
    if (neg)
        p++;
    char digits[24];
    int k = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[k++] = *p;
    digits[k] = '\0';
    int exp10 = atoi(p + 1);
    while (k > 1 && digits[k - 1] == '0') /* %.*e may pad with zeros for prec 0 */
        digits[--k] = '\0';
    int kk = exp10 + 1; /* position of the decimal point relative to the digits */
    if (neg)
        capvi_buf_putc(b, '-');
    if (k <= kk && kk <= 16) {
        capvi_buf_append(b, digits, (size_t)k);
        for (int i = k; i < kk; i++)
            capvi_buf_putc(b, '0');
        capvi_buf_puts(b, ".0");
    } else if (0 < kk && kk <= 16) {
        capvi_buf_append(b, digits, (size_t)kk);
        capvi_buf_putc(b, '.');
        capvi_buf_append(b, digits + kk, (size_t)(k - kk));
    } else if (-5 < kk && kk <= 0) {
        capvi_buf_puts(b, "0.");
        for (int i = kk; i < 0; i++)
            capvi_buf_putc(b, '0');
        capvi_buf_append(b, digits, (size_t)k);
    } else if (k == 1) {
        capvi_buf_putc(b, digits[0]);
        capvi_buf_printf(b, "e%d", kk - 1);
    } else {
        capvi_buf_putc(b, digits[0]);
        capvi_buf_putc(b, '.');
        capvi_buf_append(b, digits + 1, (size_t)(k - 1));
        capvi_buf_printf(b, "e%d", kk - 1);
    }
}

static void write_number(capv_buf *b, const cJSON *item)
{
    const char *lex = item->valuestring;
    if (lex != NULL && strpbrk(lex, ".eE") == NULL) {
        capvi_buf_puts(b, lex); /* an integer: exactly as written, any size */
        return;
    }
    double d = item->valuedouble;
    if (lex == NULL && isfinite(d) && floor(d) == d && fabs(d) <= (double)CAPV_JSON_INT_MAX) {
        capvi_buf_put_int(b, (int64_t)d);
        return;
    }
    capvi_json_write_double(b, d);
}

bool capvi_json_serde_integer(const char *lex)
{
    bool neg = lex[0] == '-';
    const char *digits = lex + (neg ? 1 : 0);
    const char *max = neg ? "9223372036854775808" : "18446744073709551615";
    size_t n = strlen(digits), maxn = strlen(max);
    if (neg && strcmp(digits, "0") == 0)
        return false;
    return n < maxn || (n == maxn && strcmp(digits, max) <= 0);
}

/* Whether `item` is a number written as an integer that serde_json reads as an f64. */
static bool serde_reads_double(const cJSON *item)
{
    return cJSON_IsNumber(item) && item->valuestring != NULL &&
           strpbrk(item->valuestring, ".eE") == NULL &&
           !capvi_json_serde_integer(item->valuestring);
}

bool capvi_json_serde_numbers(cJSON *root)
{
    for (cJSON *c = root != NULL ? root->child : NULL; c != NULL; c = c->next)
        if (!capvi_json_serde_numbers(c))
            return false;
    if (root == NULL || !serde_reads_double(root))
        return true;
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_double(&b, root->valuedouble);
    char *text = cJSON_malloc(b.len + 1);
    if (text == NULL || b.failed) {
        cJSON_free(text);
        capvi_buf_free(&b);
        return false;
    }
    memcpy(text, b.data, b.len);
    text[b.len] = '\0';
    capvi_buf_free(&b);
    capvi_json_drop_string(root);
    root->type &= ~cJSON_IsReference;
    root->valuestring = text;
    return true;
}

static void write_scalar(capv_buf *b, const cJSON *item)
{
    if (cJSON_IsString(item))
        capvi_json_write_string(b, item->valuestring, strlen(item->valuestring));
    else if (cJSON_IsNumber(item))
        write_number(b, item);
    else if (cJSON_IsTrue(item))
        capvi_buf_puts(b, "true");
    else if (cJSON_IsFalse(item))
        capvi_buf_puts(b, "false");
    else
        capvi_buf_puts(b, "null");
}

static int key_order(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static void write_compact(capv_buf *b, const cJSON *item, unsigned int flags, int depth);

/* An object's members in the byte order of their keys (CAPVI_JSON_SERDE_VALUE). */
static void write_sorted_object(capv_buf *b, const cJSON *item, unsigned int flags, int depth)
{
    size_t n = 0;
    for (const cJSON *c = item->child; c; c = c->next)
        n++;
    const cJSON **members = n ? malloc(n * sizeof *members) : NULL;
    if (n > 0 && members == NULL) {
        b->failed = true;
        return;
    }
    n = 0;
    for (const cJSON *c = item->child; c; c = c->next)
        members[n++] = c;
    if (n > 1)
        qsort(members, n, sizeof *members, key_order);
    capvi_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            capvi_buf_putc(b, ',');
        capvi_json_write_string(b, members[i]->string, strlen(members[i]->string));
        capvi_buf_putc(b, ':');
        write_compact(b, members[i], flags, depth + 1);
    }
    capvi_buf_putc(b, '}');
    free(members);
}

static void write_compact(capv_buf *b, const cJSON *item, unsigned int flags, int depth)
{
    if ((flags & CAPVI_JSON_SERDE_VALUE) && cJSON_IsObject(item)) {
        write_sorted_object(b, item, flags, depth);
        return;
    }
    if ((flags & CAPVI_JSON_SERDE_VALUE) && serde_reads_double(item)) {
        capvi_json_write_double(b, item->valuedouble);
        return;
    }
    if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
        bool object = cJSON_IsObject(item);
        capvi_buf_putc(b, object ? '{' : '[');
        for (const cJSON *c = item->child; c; c = c->next) {
            if (c != item->child)
                capvi_buf_putc(b, ',');
            if (object) {
                capvi_json_write_string(b, c->string, strlen(c->string));
                capvi_buf_putc(b, ':');
                if (depth == 0 && (flags & CAPV_JSON_CANON_EMPTY_SIGNATURES) &&
                    strcmp(c->string, "signatures") == 0) {
                    capvi_buf_puts(b, "[]");
                    continue;
                }
            }
            write_compact(b, c, flags, depth + 1);
        }
        capvi_buf_putc(b, object ? '}' : ']');
        return;
    }
    write_scalar(b, item);
}

void capvi_json_write_compact(capv_buf *b, const cJSON *item, unsigned int flags)
{
    write_compact(b, item, flags, 0);
}

static void indent(capv_buf *b, int level)
{
    for (int i = 0; i < level; i++)
        capvi_buf_puts(b, "  ");
}

static void write_pretty(capv_buf *b, const cJSON *item, int level)
{
    if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
        bool object = cJSON_IsObject(item);
        if (item->child == NULL) {
            capvi_buf_puts(b, object ? "{}" : "[]");
            return;
        }
        capvi_buf_putc(b, object ? '{' : '[');
        for (const cJSON *c = item->child; c; c = c->next) {
            capvi_buf_puts(b, c == item->child ? "\n" : ",\n");
            indent(b, level + 1);
            if (object) {
                capvi_json_write_string(b, c->string, strlen(c->string));
                capvi_buf_puts(b, ": ");
            }
            write_pretty(b, c, level + 1);
        }
        capvi_buf_putc(b, '\n');
        indent(b, level);
        capvi_buf_putc(b, object ? '}' : ']');
        return;
    }
    write_scalar(b, item);
}

void capvi_json_write_pretty(capv_buf *b, const cJSON *item)
{
    write_pretty(b, item, 0);
}

capv_status capv_json_canonical(uint8_t **out, size_t *out_len, const uint8_t *data, size_t len,
                                unsigned int flags, capv_error *err)
{
    if (out == NULL || out_len == NULL)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    *out_len = 0;
    if (flags & ~CAPV_JSON_CANON_EMPTY_SIGNATURES)
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "unknown flags 0x%x", flags);
    cJSON *root = NULL;
    capv_status st = capvi_json_parse(&root, data, len, err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_compact(&b, root, flags);
    cJSON_Delete(root);
    *out = capvi_buf_take(&b, out_len);
    if (*out == NULL)
        return capvi_err_nomem(err);
    return capvi_err_done(err, CAPV_OK);
}

capv_status capv_json_quote(char **out, size_t *out_len, const char *s, size_t len, capv_error *err)
{
    if (out == NULL || (s == NULL && len > 0))
        return capvi_err_set(err, CAPV_E_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    capv_status st = capvi_utf8_check((const uint8_t *)s, len, err);
    if (st != CAPV_OK)
        return capvi_err_done(err, st);
    capv_buf b = CAPV_BUF_INIT;
    capvi_json_write_string(&b, s, len);
    size_t n = 0;
    *out = (char *)capvi_buf_take(&b, &n);
    if (*out == NULL)
        return capvi_err_nomem(err);
    if (out_len != NULL)
        *out_len = n;
    return capvi_err_done(err, CAPV_OK);
}
