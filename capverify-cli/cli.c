/* SPDX-License-Identifier: Apache-2.0 */
/* Exit codes and error reporting shared by every command (cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_exit_for_status(capv_status st)
{
    switch (capv_status_class_of(st)) {
    case CAPV_CLASS_OK: return EXIT_VERDICT_OK;
    case CAPV_CLASS_REJECTED: return EXIT_VERDICT_FAIL;
    case CAPV_CLASS_MALFORMED: return EXIT_MALFORMED;
    case CAPV_CLASS_UNAVAILABLE: return EXIT_UNAVAILABLE;
    case CAPV_CLASS_USAGE:
    case CAPV_CLASS_INTERNAL: break;
    }
    return EXIT_INTERNAL;
}

int cli_report(const char *what, capv_status st, const capv_error *err)
{
    const char *detail = err && err->message[0] ? err->message : capv_strerror(st);
    fprintf(stderr, "capverify: %s: %s\n", what, detail);
    return cli_exit_for_status(st);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "capverify%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'capverify %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

void cli_print_json_string(FILE *f, const char *s)
{
    char *q = NULL;
    if (capv_json_quote(&q, NULL, s, strlen(s), NULL) == CAPV_OK) {
        fputs(q, f);
        capv_free(q);
        return;
    }
    /* Not UTF-8 (file names may be anything): keep the output valid JSON. */
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            fputc(*p, f);
        else
            fprintf(f, "\\\\x%02x", *p);
    fputc('"', f);
}
