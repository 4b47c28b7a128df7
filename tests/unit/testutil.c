/* SPDX-License-Identifier: Apache-2.0 */
#include "testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <dlfcn.h>
#include <ftw.h>
#include <locale.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <capverify.h>

const char *tu_vectors_dir(void)
{
    const char *e = getenv("CAPV_TEST_VECTORS");
    return e ? e : CAPV_TEST_VECTORS_DIR;
}

const char *tu_shared_dir(void)
{
    const char *e = getenv("CAPV_SHARED_VECTORS");
    return e ? e : CAPV_SHARED_VECTORS_DIR;
}

const char *tu_fixtures_dir(void)
{
    const char *e = getenv("CAPV_TEST_FIXTURES");
    ck_assert_msg(e != NULL, "CAPV_TEST_FIXTURES is not set (run through ctest)");
    return e;
}

uint8_t *tu_read(const char *dir, const char *rel, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open test vector %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    ck_assert(n >= 0);
    uint8_t *buf = malloc((size_t)n + 1);
    ck_assert(buf != NULL);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

const char *tu_hex(const uint8_t d[32])
{
    static char hex[CAPV_DIGEST_HEX_SIZE];
    capv_digest_format(hex, d);
    return hex;
}

int64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static atomic_llong wall_step_ms;

void tu_wall_step(int64_t ms)
{
    atomic_store(&wall_step_ms, (long long)ms);
}

/* libc's clock_gettime (the next definition), found before main; until then the system
 * call answers. */
static int (*libc_clock_gettime)(clockid_t, struct timespec *);

__attribute__((constructor)) static void find_libc_clock_gettime(void)
{
    *(void **)&libc_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
}

/* clock_gettime with tu_wall_step's step on CLOCK_REALTIME: the test program's definition
 * takes the place of libc's for the whole process, the library included. */
__attribute__((visibility("default"))) int clock_gettime(clockid_t id, struct timespec *ts)
{
    int rc = libc_clock_gettime != NULL ? libc_clock_gettime(id, ts)
                                        : (int)syscall(SYS_clock_gettime, id, ts);
    long long step = atomic_load(&wall_step_ms);
    if (rc == 0 && step != 0 && id == CLOCK_REALTIME) {
        long long ns = (long long)ts->tv_nsec + (step % 1000) * 1000000LL;
        ts->tv_sec += (time_t)(step / 1000 + (ns < 0 ? -1 : ns >= 1000000000LL ? 1 : 0));
        ts->tv_nsec = (long)(ns < 0 ? ns + 1000000000LL : ns % 1000000000LL);
    }
    return rc;
}

void tu_temp_dir(char *out, size_t cap, const char *prefix)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || *base == '\0' || strlen(base) > 64)
        base = "/tmp";
    ck_assert_msg((size_t)snprintf(out, cap, "%s/%s.XXXXXX", base, prefix) < cap,
                  "temporary directory path too long");
    ck_assert_msg(mkdtemp(out) != NULL, "mkdtemp %s failed", out);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int tu_remove_tree(const char *dir)
{
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_comma_locale(void)
{
    char dir[128], cmd[512];
    tu_temp_dir(dir, sizeof dir, "capv-locale");
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", dir);
    int rc = system(cmd); /* warnings make its status 1: setlocale below is the judge */
    (void)rc;
    setenv("LOCPATH", dir, 1);
    bool ok = setlocale(LC_NUMERIC, "de_DE.UTF-8") != NULL;
    /* the locale's data is in memory now */
    tu_remove_tree(dir);
    unsetenv("LOCPATH");
    ck_assert_msg(ok, "cannot compile or load de_DE.UTF-8 (localedef; the locales package)");
    ck_assert_msg(strcmp(localeconv()->decimal_point, ",") == 0, "de_DE's decimal point is '%s'",
                  localeconv()->decimal_point);
}

capv_registry *tu_registry_open(const char *path, unsigned int flags)
{
    capv_registry_options o = CAPV_REGISTRY_OPTIONS_INIT;
    o.flags = flags;
    capv_registry *reg = NULL;
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(capv_registry_open(&reg, path, &o, &err) == CAPV_OK, "open %s: %s", path,
                  err.message);
    return reg;
}

void tu_record_report(capv_registry *reg, const char *json, const char *prefix, int i)
{
    char rid[64];
    snprintf(rid, sizeof rid, "%s-%d", prefix, i);
    capv_error err = CAPV_ERROR_INIT;
    ck_assert_msg(
        capv_registry_record_report_json(NULL, reg, json, strlen(json), rid, NULL, &err) == CAPV_OK,
        "record %s: %s", rid, err.message);
}

void tu_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

int tu_listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    ck_assert_int_eq(listen(fd, 8), 0);
    return fd;
}
