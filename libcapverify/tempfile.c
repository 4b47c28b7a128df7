/* SPDX-License-Identifier: Apache-2.0 */
/* Temporary files beside user data (docs/registry.md "Backup", "Restore"). A predictable name
 * ("<name>.tmp.<pid>") lets anyone who can write the directory plant a symbolic link there
 * first, and a plain open(O_CREAT) would then write through it into the link's target. So
 * every temporary name carries 96 random bits and is created with O_EXCL | O_NOFOLLOW:
 * whatever is at the name already makes the open fail (and another name is drawn), nothing
 * is ever followed. */
#include "tempfile_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TEMP_TRIES 16

capv_status capvi_temp_open(int *fd, const char *path, mode_t mode, capv_error *err)
{
    /* O_EXCL: whatever exists at the name fails the open, a symbolic link included (POSIX:
     * with O_CREAT | O_EXCL it is not followed); O_NOFOLLOW says so once more */
    *fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
    if (*fd >= 0)
        return CAPV_OK;
    if (errno == EEXIST || errno == ELOOP)
        return capvi_err_set(err, CAPV_E_EXISTS, path, "'%s' exists: not created", path);
    return capvi_err_set(err, CAPV_E_IO, path, "cannot create '%s': %s", path, strerror(errno));
}

/* Draws "<dir>/<prefix><24 random hex digits>" into `path` and hands it to `make` (a file or
 * a directory) until one is new: whatever is at a drawn name is left alone. */
static capv_status temp_make(char path[PATH_MAX], const char *dir, const char *prefix,
                             capv_status (*make)(const char *path, void *arg, capv_error *err),
                             void *arg, capv_error *err)
{
    for (int i = 0; i < TEMP_TRIES; i++) {
        uint8_t r[12];
        if (RAND_bytes(r, sizeof r) != 1)
            return capvi_err_set(err, CAPV_E_CRYPTO, NULL,
                                 "no random bytes for a temporary file name");
        char hex[2 * sizeof r + 1];
        for (size_t k = 0; k < sizeof r; k++)
            snprintf(hex + 2 * k, 3, "%02x", r[k]);
        if (snprintf(path, PATH_MAX, "%s/%s%s", dir, prefix, hex) >= PATH_MAX)
            return capvi_err_set(err, CAPV_E_INVALID_ARG, dir, "path too long in '%s'", dir);
        capv_status st = make(path, arg, err);
        if (st != CAPV_E_EXISTS)
            return st;
    }
    return capvi_err_set(err, CAPV_E_IO, dir,
                         "cannot create a file in '%s': %d random names were all taken", dir,
                         TEMP_TRIES);
}

typedef struct file_args {
    int *fd;
    mode_t mode;
} file_args;

static capv_status make_file(const char *path, void *arg, capv_error *err)
{
    file_args *a = arg;
    return capvi_temp_open(a->fd, path, a->mode, err);
}

capv_status capvi_temp_create(int *fd, char path[PATH_MAX], const char *dir, const char *prefix,
                              mode_t mode, capv_error *err)
{
    *fd = -1;
    file_args a = { fd, mode };
    return temp_make(path, dir, prefix, make_file, &a, err);
}

static capv_status make_dir(const char *path, void *arg, capv_error *err)
{
    (void)arg;
    if (mkdir(path, 0700) == 0)
        return CAPV_OK;
    if (errno == EEXIST)
        return capvi_err_set(err, CAPV_E_EXISTS, path, "'%s' exists: not created", path);
    return capvi_err_set(err, CAPV_E_IO, path, "cannot create '%s': %s", path, strerror(errno));
}

capv_status capvi_temp_mkdir(char path[PATH_MAX], const char *dir, const char *prefix,
                             capv_error *err)
{
    return temp_make(path, dir, prefix, make_dir, NULL, err);
}

bool capvi_temp_is(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && lstat(path, &b) == 0 && S_ISREG(b.st_mode) &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int capvi_rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL || link(from, to) != 0)
        return -1;
    unlink(from);
    return 0;
}

capv_status capvi_dir_sync(const char *dir, capv_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return capvi_err_set(err, CAPV_E_IO, dir, "cannot open directory '%s': %s", dir,
                             strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return capvi_err_set(err, CAPV_E_IO, dir, "fsync of directory '%s': %s", dir, strerror(e));
    return CAPV_OK;
}
