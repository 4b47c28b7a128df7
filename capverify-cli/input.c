/* SPDX-License-Identifier: Apache-2.0 */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_read_file(uint8_t **out, size_t *len, const char *path, size_t max, const char *cmd)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "capverify %s: %s: %s\n", cmd, path, strerror(errno));
        return EXIT_UNAVAILABLE;
    }
    size_t cap = 8192, n = 0;
    uint8_t *buf = malloc(cap + 1);
    int rc = buf ? 0 : EXIT_INTERNAL;
    while (rc == 0) {
        if (n == cap) {
            if (cap >= max) {
                /* exactly max bytes is fine: larger only when another byte follows */
                if (fgetc(f) == EOF)
                    break;
                fprintf(stderr, "capverify %s: %s: larger than %zu bytes\n", cmd, path, max);
                rc = EXIT_MALFORMED;
                break;
            }
            cap = cap > max / 2 ? max : cap * 2;
            uint8_t *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                rc = EXIT_INTERNAL;
                break;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (rc == EXIT_INTERNAL)
        fprintf(stderr, "capverify %s: out of memory\n", cmd);
    else if (rc == 0 && ferror(f)) {
        fprintf(stderr, "capverify %s: %s: read error\n", cmd, path);
        rc = EXIT_UNAVAILABLE;
    }
    if (f != stdin)
        fclose(f);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Writes all of `data` to `fd`: 0 or an errno value. */
static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w > 0)
            done += (size_t)w;
        else if (w == 0)
            return EIO;
        else if (errno != EINTR)
            return errno;
    }
    return 0;
}

/* The descriptor number a path of this process's descriptors names ("/proc/self/fd/N",
 * "/dev/fd/N"), or -1. */
static int fd_named(const char *p)
{
    const char *n = strncmp(p, "/proc/self/fd/", 14) == 0 ? p + 14
                    : strncmp(p, "/dev/fd/", 8) == 0      ? p + 8
                                                          : NULL;
    if (n == NULL || *n < '0' || *n > '9' || strlen(n) > 6 || strspn(n, "0123456789") != strlen(n))
        return -1;
    return atoi(n);
}

int cli_output_target(char out[4096], int *fdno, const char *path)
{
    *fdno = -1;
    if (snprintf(out, 4096, "%s", path) >= 4096)
        return ENAMETOOLONG;
    for (int hops = 0;; hops++) {
        if ((*fdno = fd_named(out)) >= 0)
            return 0;
        struct stat sb;
        if (lstat(out, &sb) != 0 || !S_ISLNK(sb.st_mode))
            return 0;
        if (hops == 40)
            return ELOOP;
        char link[4096], next[4096];
        ssize_t n = readlink(out, link, sizeof link);
        if (n < 0)
            return errno;
        if ((size_t)n == sizeof link)
            return ENAMETOOLONG;
        link[n] = '\0';
        /* a relative link is relative to the directory that holds it */
        const char *slash = strrchr(out, '/');
        int m = link[0] == '/' || slash == NULL
                    ? snprintf(next, sizeof next, "%s", link)
                    : snprintf(next, sizeof next, "%.*s/%s", (int)(slash - out), out, link);
        if (m < 0 || (size_t)m >= sizeof next)
            return ENAMETOOLONG;
        memcpy(out, next, (size_t)m + 1);
    }
}

/* `path` is a device, a FIFO or a socket (/dev/stdout, /dev/null, a named pipe): written as
 * it is, never replaced. 0 or an exit code (reported). */
static int write_special(const char *path, const void *data, size_t len, const char *cmd)
{
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    int err = fd < 0 ? errno : write_all(fd, data, len);
    if (fd >= 0 && close(fd) != 0 && err == 0)
        err = errno;
    if (err != 0) {
        fprintf(stderr, "capverify %s: cannot write %s: %s\n", cmd, path, strerror(err));
        return EXIT_UNAVAILABLE;
    }
    return 0;
}

int cli_write_file(const char *path, const void *data, size_t len, const char *cmd)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len) {
            fprintf(stderr, "capverify %s: cannot write standard output\n", cmd);
            return EXIT_UNAVAILABLE;
        }
        return 0;
    }
    char target[4096], tmp[4096 + 32];
    int fdno;
    int err = cli_output_target(target, &fdno, path);
    if (err == 0 && fdno >= 0) {
        /* /dev/stdout and the like: what the descriptor holds gets the bytes, after what
         * this process wrote to it already */
        fflush(NULL);
        err = write_all(fdno, data, len);
    }
    if (err != 0) {
        fprintf(stderr, "capverify %s: cannot write %s: %s\n", cmd, path, strerror(err));
        return EXIT_UNAVAILABLE;
    }
    if (fdno >= 0)
        return 0;
    struct stat old;
    bool exists = stat(path, &old) == 0;
    if (exists && !S_ISREG(old.st_mode))
        return write_special(path, data, len, cmd);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", target, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "capverify %s: %s: %s\n", cmd, tmp, strerror(errno));
        return EXIT_UNAVAILABLE;
    }
    /* a file written over keeps its permissions (a manifest signed in place) */
    if (exists)
        fchmod(fd, old.st_mode & 07777);
    err = write_all(fd, data, len);
    if (err == 0 && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && err == 0)
        err = errno;
    if (err == 0 && rename(tmp, target) != 0)
        err = errno;
    if (err != 0) {
        fprintf(stderr, "capverify %s: cannot write %s: %s\n", cmd, path, strerror(err));
        unlink(tmp);
        return EXIT_UNAVAILABLE;
    }
    return 0;
}
