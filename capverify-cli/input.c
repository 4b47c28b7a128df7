/* SPDX-License-Identifier: Apache-2.0 */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
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

int cli_write_file(const char *path, const void *data, size_t len, const char *cmd)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len) {
            fprintf(stderr, "capverify %s: cannot write standard output\n", cmd);
            return EXIT_UNAVAILABLE;
        }
        return 0;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "capverify %s: %s: %s\n", cmd, tmp, strerror(errno));
        return EXIT_UNAVAILABLE;
    }
    /* a file written over keeps its permissions (a manifest signed in place) */
    struct stat old;
    if (stat(path, &old) == 0 && S_ISREG(old.st_mode))
        fchmod(fd, old.st_mode & 07777);
    const char *p = data;
    size_t done = 0;
    int err = 0;
    while (done < len && err == 0) {
        ssize_t w = write(fd, p + done, len - done);
        if (w > 0)
            done += (size_t)w;
        else if (w == 0)
            err = EIO;
        else if (errno != EINTR)
            err = errno;
    }
    if (err == 0 && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && err == 0)
        err = errno;
    if (err == 0 && rename(tmp, path) != 0)
        err = errno;
    if (err != 0) {
        fprintf(stderr, "capverify %s: cannot write %s: %s\n", cmd, path, strerror(err));
        unlink(tmp);
        return EXIT_UNAVAILABLE;
    }
    return 0;
}
