/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: multipart/form-data bodies of POST /verify (capverifyd/multipart.c, daemon
 * code compiled in as fuzz_config does with config.c). The input's first line, up to a LF
 * (at most 200 bytes), is the Content-Type header value; the rest is the body. Properties:
 * a form is parsed only under a boundary multipart_boundary accepted; every part lies inside
 * the body, in order and without overlap, its name is 1..64 bytes without NUL or control
 * bytes; multipart_field finds what the parts hold; parsing twice gives the same answer. */
#include "fuzz.h"
#include "multipart.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *lf = memchr(data, '\n', size < 200 ? size : 200);
    size_t hlen = lf ? (size_t)(lf - data) : 0;
    char ct[201];
    memcpy(ct, data, hlen);
    ct[hlen] = '\0';
    const uint8_t *body = lf ? lf + 1 : data;
    size_t len = size - (size_t)(body - data);
    char boundary[MULTIPART_BOUNDARY_MAX + 1], why[200];
    if (!multipart_boundary(boundary, ct, why, sizeof why)) {
        FUZZ_ASSERT(why[0] != '\0');
        /* the body with a fixed boundary still exercises the parser */
        snprintf(boundary, sizeof boundary, "XB");
    } else {
        size_t bl = strlen(boundary);
        FUZZ_ASSERT(bl >= 1 && bl <= MULTIPART_BOUNDARY_MAX && boundary[bl - 1] != ' ');
    }
    /* a copy of exactly `len` bytes: reading past it is an ASan finding */
    uint8_t *copy = malloc(len ? len : 1);
    FUZZ_ASSERT(copy != NULL);
    if (len)
        memcpy(copy, body, len);
    multipart_form *form = malloc(sizeof *form), *again = malloc(sizeof *again);
    FUZZ_ASSERT(form != NULL && again != NULL);
    bool ok = multipart_parse(form, copy, len, boundary, why, sizeof why);
    bool ok2 = multipart_parse(again, copy, len, boundary, why, sizeof why);
    FUZZ_ASSERT(ok == ok2);
    if (ok) {
        FUZZ_ASSERT(form->n >= 1 && form->n <= MULTIPART_MAX_PARTS && form->n == again->n);
        const uint8_t *prev_end = copy;
        for (size_t i = 0; i < form->n; i++) {
            const multipart_part *p = &form->parts[i];
            FUZZ_ASSERT(p->data >= prev_end && p->data + p->len <= copy + len);
            prev_end = p->data + p->len;
            size_t nl = strlen(p->name);
            FUZZ_ASSERT(nl >= 1 && nl <= MULTIPART_NAME_MAX);
            for (size_t k = 0; k < nl; k++)
                FUZZ_ASSERT((unsigned char)p->name[k] >= 0x20 && p->name[k] != 0x7f);
            FUZZ_ASSERT(p->has_filename || p->filename[0] == '\0');
            FUZZ_ASSERT(p->data == again->parts[i].data && p->len == again->parts[i].len);
            size_t count = 0;
            const multipart_part *f = multipart_field(form, p->name, &count);
            FUZZ_ASSERT(f != NULL && f <= p && count >= 1);
        }
    } else {
        FUZZ_ASSERT(why[0] != '\0');
    }
    free(form);
    free(again);
    free(copy);
    return 0;
}
