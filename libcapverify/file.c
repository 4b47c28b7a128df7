/* SPDX-License-Identifier: Apache-2.0 */
#include "file_int.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

capv_status capvi_file_read(uint8_t **out, size_t *len, const char *path, size_t max,
                            const char *what, capv_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, path,
                             "cannot open %s '%s': %s", what, path, strerror(errno));
    capv_buf b = CAPV_BUF_INIT;
    b.max = max + 1; /* one byte more than allowed tells "too large" from "exactly max" */
    uint8_t chunk[8192];
    size_t n;
    while (!b.failed && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        capvi_buf_append(&b, chunk, n);
    bool io = ferror(f) != 0;
    fclose(f);
    if (io) {
        capvi_buf_free(&b);
        return capvi_err_set(err, CAPV_E_IO, path, "cannot read %s '%s'", what, path);
    }
    if (b.failed) {
        /* the buffer refuses appends past its cap, and allocation failures alike */
        bool big = b.len + sizeof chunk > max;
        capvi_buf_free(&b);
        return big ? capvi_err_set(err, CAPV_E_LIMIT, path, "%s '%s' is larger than %zu bytes",
                                   what, path, max)
                   : capvi_err_nomem(err);
    }
    if (b.len > max) {
        capvi_buf_free(&b);
        return capvi_err_set(err, CAPV_E_LIMIT, path, "%s '%s' is larger than %zu bytes", what,
                             path, max);
    }
    *out = capvi_buf_take(&b, len);
    return *out ? CAPV_OK : capvi_err_nomem(err);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

capv_status capvi_dir_list(char ***names, size_t *count, const char *dir,
                           bool (*keep)(const char *name), capv_error *err)
{
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, dir,
                             "cannot open directory '%s': %s", dir, strerror(errno));
    capv_status st = CAPV_OK;
    char **list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            (keep != NULL && !keep(de->d_name)))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nl = realloc(list, cap * sizeof *nl);
            if (nl == NULL)
                CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
            list = nl;
        }
        if ((list[n] = strdup(de->d_name)) == NULL)
            CAPV_FAIL(err, CAPV_E_NOMEM, NULL, NULL);
        n++;
        errno = 0;
    }
    if (errno != 0)
        CAPV_FAIL(err, CAPV_E_IO, dir, "cannot read directory '%s': %s", dir, strerror(errno));
    if (n > 1)
        qsort(list, n, sizeof *list, name_cmp);
out:
    closedir(d);
    if (st != CAPV_OK) {
        capvi_dir_list_free(list, n);
        return st;
    }
    *names = list;
    *count = n;
    return CAPV_OK;
}

void capvi_dir_list_free(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int capvi_write_all_done(int fd, const void *p, size_t n, size_t *done)
{
    const uint8_t *b = p;
    size_t d = 0;
    int e = 0;
    while (d < n) {
        ssize_t w = write(fd, b + d, n - d);
        if (w > 0) {
            d += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            (void)poll(&pfd, 1, -1);
        } else if (!(w < 0 && errno == EINTR)) {
            e = w < 0 ? errno : EIO;
            break;
        }
    }
    if (done != NULL)
        *done = d;
    return e;
}

int capvi_write_all(int fd, const void *p, size_t n)
{
    return capvi_write_all_done(fd, p, n, NULL);
}

capv_status capvi_file_write_all(int fd, const void *p, size_t n, const char *path, capv_error *err)
{
    int e = capvi_write_all(fd, p, n);
    return e == 0 ? CAPV_OK
                  : capvi_err_set(err, CAPV_E_IO, path, "cannot write '%s': %s", path, strerror(e));
}
