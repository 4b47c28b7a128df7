/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: the daemon's configuration files (docs/configuration.md, capverifyd/config.c).
 * The input is written as the only *.yaml file of a private temporary configuration
 * directory, which capvd_config_load reads as capverifyd --config-dir does. The
 * environment's CAPV_* variables are removed first so only the file decides. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static char dir[64];
static char file[128];

static void cleanup(void)
{
    unlink(file);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    extern char **environ;
    for (size_t i = 0; environ[i] != NULL;) {
        if (strncmp(environ[i], "CAPV_", 5) == 0) {
            char name[256];
            size_t n = strcspn(environ[i], "=");
            snprintf(name, sizeof name, "%.*s", (int)n, environ[i]);
            unsetenv(name);
        } else {
            i++;
        }
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/capv-fuzz-config.XXXXXX",
             tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
    FUZZ_SETUP(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(file, sizeof file, "%s/fuzz.yaml", dir);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(file, "wb");
    FUZZ_SETUP(f != NULL, "%s: %s", file, strerror(errno));
    FUZZ_SETUP(fwrite(data, 1, size, f) == size && fclose(f) == 0, "%s: write failed", file);
    capvd_config c;
    capvd_config_defaults(&c);
    char errbuf[512];
    errbuf[0] = '\0';
    bool ok = capvd_config_load(&c, dir, true, NULL, 0, errbuf, sizeof errbuf);
    FUZZ_ASSERT(ok || errbuf[0] != '\0');
    FUZZ_ASSERT(memchr(errbuf, '\0', sizeof errbuf) != NULL);
    capvd_config_free(&c);
    return 0;
}
