/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: the bounded XML reader of S3 answers (libcapverify/xml_read.c; docs/registry.md,
 * "Off-site copies"). Whatever the store sends: a MALFORMED or LIMIT status with readable
 * detail, or events whose paths and texts stay within the reader's bounds; the same input
 * always gives the same events. */
#include <string.h>

#include "fuzz.h"
#include "xml_read_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_global_init();
    return 0;
}

typedef struct events {
    size_t n;
    uint64_t sum; /* of path and text lengths, to compare two runs */
} events;

static capv_status on_event(void *user, const char *path, const char *text, size_t len)
{
    events *e = user;
    size_t plen = strlen(path);
    FUZZ_ASSERT(plen > 0 && plen <= CAPVI_XML_MAX_DEPTH * (CAPVI_XML_MAX_NAME + 1));
    if (text != NULL) {
        FUZZ_ASSERT(len <= CAPVI_XML_MAX_TEXT && strlen(text) == len);
        e->sum += len;
    }
    e->n++;
    e->sum += plen;
    return CAPV_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    events a = { 0, 0 }, b = { 0, 0 };
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capvi_xml_read(data, size, on_event, &a, &err);
    if (st != CAPV_OK) {
        FUZZ_ASSERT(st == CAPV_E_MALFORMED || st == CAPV_E_LIMIT);
        FUZZ_ASSERT_INPUT_ERROR(st, err);
        return 0;
    }
    FUZZ_ASSERT(a.n >= 1); /* at least the root's end */
    FUZZ_ASSERT(capvi_xml_read(data, size, on_event, &b, NULL) == CAPV_OK);
    FUZZ_ASSERT(a.n == b.n && a.sum == b.sum);
    return 0;
}
