/* SPDX-License-Identifier: Apache-2.0 */
/* An LD_PRELOAD shim for storage.sh: while the file named by HOSTILE_FAULT_FLAG exists, the
 * filesystem that holds HOSTILE_FAULT_DIR looks read-only to the process, as after a remount
 * read-only (or ext4's errors=remount-ro under a running process): every write-side call on
 * one of its files fails with HOSTILE_FAULT_ERRNO (default EROFS), opening one for writing and
 * access(W_OK) fail with it too, and statvfs reports ST_RDONLY. Used because Linux refuses
 * `mount -o remount,ro` while a process holds a file of that filesystem open for writing, which
 * a serving daemon always does with its registry. Reads and everything else pass through.
 * With HOSTILE_FAULT_DELAY_MS set, nothing fails: those calls on files under the directory
 * HOSTILE_FAULT_DIR itself (an absolute path without links; by path, not filesystem) take
 * that long each and then succeed, as on a slow or congested network volume.
 * Built by the tests with the system C compiler; never part of the product. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static dev_t fault_dev;
static int have_dev;
static const char *flag_path;
static const char *dir_path;
static int fault_errno = EROFS;
static long delay_ms; /* > 0: slow mode */

__attribute__((constructor)) static void shim_init(void)
{
    struct stat st;
    dir_path = getenv("HOSTILE_FAULT_DIR");
    flag_path = getenv("HOSTILE_FAULT_FLAG");
    const char *e = getenv("HOSTILE_FAULT_ERRNO");
    if (e != NULL && strcmp(e, "ENOSPC") == 0)
        fault_errno = ENOSPC;
    else if (e != NULL && strcmp(e, "EIO") == 0)
        fault_errno = EIO;
    const char *d = getenv("HOSTILE_FAULT_DELAY_MS");
    if (d != NULL)
        delay_ms = strtol(d, NULL, 10);
    if (dir_path != NULL && stat(dir_path, &st) == 0) {
        fault_dev = st.st_dev;
        have_dev = 1;
    }
}

static int fault_on(void)
{
    struct stat st;
    return have_dev && flag_path != NULL && stat(flag_path, &st) == 0;
}

static int under_dir(const char *path)
{
    size_t n = strlen(dir_path);
    return strncmp(path, dir_path, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static int faulty_fd(int fd)
{
    struct stat st;
    if (!fault_on())
        return 0;
    if (delay_ms > 0) {
        char link[64], path[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n <= 0)
            return 0;
        path[n] = '\0';
        return under_dir(path);
    }
    if (fstat(fd, &st) != 0)
        return 0;
    return st.st_dev == fault_dev;
}

static int faulty_path(const char *path, int flags)
{
    if (!(flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) || !fault_on() || path == NULL)
        return 0;
    return under_dir(path);
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))
/* the fault: a failure, or in slow mode a pause */
static int fault(void)
{
    if (delay_ms <= 0)
        return 1;
    struct timespec t = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
    return 0;
}

#define FAIL_IF(cond)                                                                              \
    do {                                                                                           \
        if ((cond) && fault()) {                                                                   \
            errno = fault_errno;                                                                   \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

ssize_t write(int fd, const void *buf, size_t n)
{
    FAIL_IF(faulty_fd(fd));
    return REAL(write)(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    FAIL_IF(faulty_fd(fd));
    return REAL(pwrite)(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    FAIL_IF(faulty_fd(fd));
    return REAL(pwrite64)(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    FAIL_IF(faulty_fd(fd));
    return REAL(writev)(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    FAIL_IF(faulty_fd(fd));
    return REAL(pwritev)(fd, iov, cnt, off);
}

int fsync(int fd)
{
    FAIL_IF(faulty_fd(fd));
    return REAL(fsync)(fd);
}

int fdatasync(int fd)
{
    FAIL_IF(faulty_fd(fd));
    return REAL(fdatasync)(fd);
}

int ftruncate(int fd, off_t len)
{
    FAIL_IF(faulty_fd(fd));
    return REAL(ftruncate)(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
    FAIL_IF(faulty_fd(fd));
    return REAL(ftruncate64)(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    FAIL_IF(faulty_fd(fd));
    return REAL(fallocate)(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    if (faulty_fd(fd) && fault())
        return fault_errno;
    return REAL(posix_fallocate)(fd, off, len);
}

int unlink(const char *path)
{
    FAIL_IF(faulty_path(path, O_WRONLY));
    return REAL(unlink)(path);
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    FAIL_IF(faulty_path(path, flags));
    return REAL(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    FAIL_IF(faulty_path(path, flags));
    return REAL(open64)(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    FAIL_IF(faulty_path(path, flags));
    return REAL(openat)(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    FAIL_IF(faulty_path(path, flags));
    return REAL(openat64)(dirfd, path, flags, mode);
}

static int faulty_dir_path(const char *path)
{
    if (!fault_on() || path == NULL)
        return 0;
    return under_dir(path);
}

int access(const char *path, int mode)
{
    FAIL_IF((mode & W_OK) && faulty_dir_path(path));
    return REAL(access)(path, mode);
}

int faccessat(int dirfd, const char *path, int mode, int flags)
{
    FAIL_IF((mode & W_OK) && faulty_dir_path(path));
    return REAL(faccessat)(dirfd, path, mode, flags);
}

int euidaccess(const char *path, int mode)
{
    FAIL_IF((mode & W_OK) && faulty_dir_path(path));
    return REAL(euidaccess)(path, mode);
}

int statvfs(const char *path, struct statvfs *buf)
{
    int rc = REAL(statvfs)(path, buf);
    if (rc == 0 && delay_ms <= 0 && fault_errno == EROFS && faulty_dir_path(path))
        buf->f_flag |= ST_RDONLY;
    return rc;
}

int statvfs64(const char *path, struct statvfs64 *buf)
{
    int rc = REAL(statvfs64)(path, buf);
    if (rc == 0 && delay_ms <= 0 && fault_errno == EROFS && faulty_dir_path(path))
        buf->f_flag |= ST_RDONLY;
    return rc;
}

int fstatvfs(int fd, struct statvfs *buf)
{
    int rc = REAL(fstatvfs)(fd, buf);
    if (rc == 0 && delay_ms <= 0 && fault_errno == EROFS && faulty_fd(fd))
        buf->f_flag |= ST_RDONLY;
    return rc;
}

int fstatvfs64(int fd, struct statvfs64 *buf)
{
    int rc = REAL(fstatvfs64)(fd, buf);
    if (rc == 0 && delay_ms <= 0 && fault_errno == EROFS && faulty_fd(fd))
        buf->f_flag |= ST_RDONLY;
    return rc;
}
