/* SPDX-License-Identifier: Apache-2.0 */
/* The writer lock of a SQLite registry (docs/registry.md "Connections and the single
 * writer").
 *
 * The lock was once taken on "<db>.lock", a name derived from the path string: a symbolic
 * link or a hard link to the live database is another string, hence another lock, and two
 * writers on one file is the WAL corruption the lock exists to prevent. So the lock is an
 * open-file-description (OFD) write lock on one byte of the database file itself: it belongs
 * to the inode, whatever name reached it, and it conflicts with a second lock in the same
 * process as well as in another one; it goes when its descriptor is closed or the process
 * dies.
 *
 * The catch is POSIX's: closing ANY descriptor of a file drops every POSIX lock the process
 * holds on it, and SQLite's connections hold POSIX locks on the database file (in WAL mode a
 * shared lock for as long as they are open). SQLite keeps its own descriptors open while
 * another of its connections holds locks; ours it does not know. So this process keeps a
 * table of the database files its handles use (by device and inode): readers pin their file,
 * the writer lock pins it too, and a descriptor opened for the lock (also one whose lock was
 * refused) is closed only when the last handle of this process on that file goes. */
#include "registry_lock_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct reg_file {
    dev_t dev;
    ino_t ino;
    unsigned int users; /* locks and pins of this process on the file */
    bool locked;        /* one of them is the writer lock */
    int *fds;           /* descriptors of the file, closed when users drops to 0 */
    size_t nfds, capfds;
    struct reg_file *next;
} reg_file;

struct capv_reg_lock {
    reg_file *file;
    int fd; /* the descriptor holding the writer lock, or -1 for a pin */
};

static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_file *files;

/* The table entry of (dev, ino), created when missing; one more user. NULL: no memory. */
static reg_file *file_enter(dev_t dev, ino_t ino)
{
    reg_file *f = files;
    while (f != NULL && (f->dev != dev || f->ino != ino))
        f = f->next;
    if (f == NULL) {
        if ((f = calloc(1, sizeof *f)) == NULL)
            return NULL;
        f->dev = dev;
        f->ino = ino;
        f->next = files;
        files = f;
    }
    f->users++;
    return f;
}

/* One user less; the last one closes the kept descriptors and removes the entry. */
static void file_leave(reg_file *f)
{
    if (--f->users > 0)
        return;
    for (size_t i = 0; i < f->nfds; i++)
        close(f->fds[i]);
    reg_file **p = &files;
    while (*p != f)
        p = &(*p)->next;
    *p = f->next;
    free(f->fds);
    free(f);
}

static bool file_keep_fd(reg_file *f, int fd)
{
    if (f->nfds == f->capfds) {
        size_t cap = f->capfds ? f->capfds * 2 : 4;
        int *p = realloc(f->fds, cap * sizeof *p);
        if (p == NULL)
            return false;
        f->fds = p;
        f->capfds = cap;
    }
    f->fds[f->nfds++] = fd;
    return true;
}

static int ofd_lock(int fd, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = CAPVI_REG_LOCK_BYTE;
    fl.l_len = 1;
    return fcntl(fd, F_OFD_SETLK, &fl);
}

/* "registry 'x'" or, when the path is a symbolic link, "registry 'x' (the file 'y')". */
static void describe(char *out, size_t cap, const char *db_path)
{
    char real[PATH_MAX];
    if (realpath(db_path, real) != NULL && strcmp(real, db_path) != 0) {
        struct stat sb;
        if (lstat(db_path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
            snprintf(out, cap, "registry '%s' (the file '%s')", db_path, real);
            return;
        }
    }
    snprintf(out, cap, "registry '%s'", db_path);
}

capv_status capvi_reg_lock(capv_reg_lock **out, const char *db_path, bool create, capv_error *err)
{
    *out = NULL;
    capv_reg_lock *l = calloc(1, sizeof *l);
    if (l == NULL)
        return capvi_err_nomem(err);
    char what[2 * PATH_MAX + 32];
    /* O_NONBLOCK: a FIFO planted at the name must not block the open */
    int fd =
        open(db_path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0) {
        int e = errno;
        free(l);
        describe(what, sizeof what, db_path);
        if (e == ENOENT)
            return capvi_err_set(err, CAPV_E_NOT_FOUND, db_path, "%s does not exist", what);
        if (e == EACCES || e == EROFS || e == EPERM)
            return capvi_err_set(err, CAPV_E_STORAGE, db_path,
                                 "%s is read-only: this process cannot open it for writing (%s)",
                                 what, strerror(e));
        return capvi_err_set(err, CAPV_E_IO, db_path, "cannot open %s: %s", what, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        free(l);
        return capvi_err_set(err, CAPV_E_IO, db_path, "'%s' is not a regular file", db_path);
    }
    pthread_mutex_lock(&files_lock);
    reg_file *f = file_enter(sb.st_dev, sb.st_ino);
    if (f == NULL || !file_keep_fd(f, fd)) {
        if (f != NULL)
            file_leave(f);
        pthread_mutex_unlock(&files_lock);
        /* fd is left open: closing a descriptor of a file other handles of this process use
         * would drop their POSIX locks (SQLite's readers' among them), as the header says */
        free(l);
        return capvi_err_nomem(err);
    }
    /* a writer of this process holds it (its descriptor's lock would refuse ours anyway) */
    bool busy = f->locked;
    int e = 0;
    if (!busy && ofd_lock(fd, F_WRLCK) != 0) {
        e = errno;
        busy = e == EAGAIN || e == EACCES;
    }
    if (busy || e != 0) {
        file_leave(f); /* our descriptor stays open while other handles use the file */
        pthread_mutex_unlock(&files_lock);
        free(l);
        describe(what, sizeof what, db_path);
        if (busy)
            return capvi_err_set(err, CAPV_E_BUSY, db_path,
                                 "%s is held by another writer (capverifyd?): only one process "
                                 "may open it read-write, through whatever name",
                                 what);
        return capvi_err_set(err, CAPV_E_IO, db_path, "cannot lock %s: %s", what, strerror(e));
    }
    f->locked = true;
    pthread_mutex_unlock(&files_lock);
    l->file = f;
    l->fd = fd;
    *out = l;
    return CAPV_OK;
}

capv_status capvi_reg_pin(capv_reg_lock **out, const char *db_path, capv_error *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(db_path, &sb) != 0)
        return capvi_err_set(err, errno == ENOENT ? CAPV_E_NOT_FOUND : CAPV_E_IO, db_path,
                             "cannot access '%s': %s", db_path, strerror(errno));
    capv_reg_lock *l = calloc(1, sizeof *l);
    if (l == NULL)
        return capvi_err_nomem(err);
    pthread_mutex_lock(&files_lock);
    l->file = file_enter(sb.st_dev, sb.st_ino);
    pthread_mutex_unlock(&files_lock);
    if (l->file == NULL) {
        free(l);
        return capvi_err_nomem(err);
    }
    l->fd = -1;
    *out = l;
    return CAPV_OK;
}

capv_status capvi_reg_single_link(const char *db_path, capv_error *err)
{
    struct stat sb;
    if (stat(db_path, &sb) != 0 || sb.st_nlink <= 1)
        return CAPV_OK;
    return capvi_err_set(err, CAPV_E_STATE, db_path,
                         "registry '%s' has %ju hard links: SQLite keeps the write-ahead log "
                         "beside the name a database is opened by, so writes through two names "
                         "lose or corrupt data; remove the other links (find -samefile) or "
                         "open it read-only",
                         db_path, (uintmax_t)sb.st_nlink);
}

void capvi_reg_unlock(capv_reg_lock *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&files_lock);
    if (l->fd >= 0) {
        /* the lock goes now; the descriptor waits for the file's last handle here */
        ofd_lock(l->fd, F_UNLCK);
        l->file->locked = false;
    }
    file_leave(l->file);
    pthread_mutex_unlock(&files_lock);
    free(l);
}
