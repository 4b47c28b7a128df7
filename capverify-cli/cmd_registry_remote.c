/* SPDX-License-Identifier: Apache-2.0 */
/* The off-site side of `capverify registry backup` and `registry restore`
 * (cmd_registry_remote.h): S3 settings from flags or CAPV_BACKUP_S3_*, then one library call
 * (backup_remote.h) and its output. */
#include "cmd_registry_remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v ? v : NULL;
}

static bool parse_number(long long *out, const char *s, long long min, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || end == s || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int remote_flags_init(remote_flags *f, const char *cmd)
{
    memset(f, 0, sizeof *f);
    f->url = env_or_null("CAPV_BACKUP_S3_URL");
    f->endpoint = env_or_null("CAPV_BACKUP_S3_ENDPOINT");
    f->region = env_or_null("CAPV_BACKUP_S3_REGION");
    f->credentials_file = env_or_null("CAPV_BACKUP_S3_CREDENTIALS_FILE");
    f->ca_file = env_or_null("CAPV_BACKUP_S3_CA_FILE");
    /* the values the daemon takes for backup.s3.path_style and backup.s3.retain
     * (docs/configuration.md), and no others: a value it refuses is not read as a default */
    const char *ps = getenv("CAPV_BACKUP_S3_PATH_STYLE");
    if (ps != NULL && strcasecmp(ps, "true") != 0 && strcasecmp(ps, "false") != 0)
        return cli_usage_error(cmd, "CAPV_BACKUP_S3_PATH_STYLE='%s' is not true or false", ps);
    f->path_style = ps != NULL && strcasecmp(ps, "true") == 0;
    const char *retain = getenv("CAPV_BACKUP_S3_RETAIN");
    if (retain != NULL && !parse_number(&f->retain, retain, 0, 100000))
        return cli_usage_error(cmd, "CAPV_BACKUP_S3_RETAIN='%s' is not a number from 0 to 100000",
                               retain);
    return 0;
}

enum {
    OPT_S3_URL = REMOTE_OPT_BASE,
    OPT_S3_ENDPOINT,
    OPT_S3_REGION,
    OPT_S3_CREDENTIALS_FILE,
    OPT_S3_CA_FILE,
    OPT_S3_RETAIN,
    OPT_S3_PART_SIZE,
    OPT_S3_ATTEMPTS,
    OPT_S3_PATH_STYLE,
    OPT_UPLOAD,
    OPT_REMOTE
};

const struct option remote_options[] = {
    { "s3-url", required_argument, NULL, OPT_S3_URL },
    { "s3-endpoint", required_argument, NULL, OPT_S3_ENDPOINT },
    { "s3-region", required_argument, NULL, OPT_S3_REGION },
    { "s3-credentials-file", required_argument, NULL, OPT_S3_CREDENTIALS_FILE },
    { "s3-ca-file", required_argument, NULL, OPT_S3_CA_FILE },
    { "s3-retain", required_argument, NULL, OPT_S3_RETAIN },
    { "s3-part-size", required_argument, NULL, OPT_S3_PART_SIZE },
    { "s3-attempts", required_argument, NULL, OPT_S3_ATTEMPTS },
    { "s3-path-style", no_argument, NULL, OPT_S3_PATH_STYLE },
    { "upload", no_argument, NULL, OPT_UPLOAD },
    { "remote", no_argument, NULL, OPT_REMOTE },
    { 0 }
};
const size_t remote_settings = OPT_UPLOAD - REMOTE_OPT_BASE;

int remote_flag(remote_flags *f, int opt, const char *val, const char *cmd)
{
    const char **strings[] = { &f->url, &f->endpoint, &f->region, &f->credentials_file,
                               &f->ca_file };
    long long *numbers[] = { &f->retain, &f->part_size, &f->attempts };
    switch (opt) {
    case OPT_UPLOAD: f->upload = true; return 1;
    case OPT_REMOTE: f->remote = true; return 1;
    case OPT_S3_PATH_STYLE: f->path_style = true; return 1;
    case OPT_S3_URL:
    case OPT_S3_ENDPOINT:
    case OPT_S3_REGION:
    case OPT_S3_CREDENTIALS_FILE:
    case OPT_S3_CA_FILE: *strings[opt - OPT_S3_URL] = val; return 1;
    case OPT_S3_RETAIN:
    case OPT_S3_PART_SIZE:
    case OPT_S3_ATTEMPTS: break;
    default: return 0;
    }
    long long max = opt == OPT_S3_PART_SIZE ? 5LL << 30 : 100000;
    long long min = opt == OPT_S3_PART_SIZE ? 4096 : opt == OPT_S3_ATTEMPTS ? 1 : 0;
    if (!parse_number(numbers[opt - OPT_S3_RETAIN], val, min, max)) {
        cli_usage_error(cmd, "--%s needs a number from %lld to %lld",
                        remote_options[opt - REMOTE_OPT_BASE].name, min, max);
        return -1;
    }
    return 1;
}

bool remote_is_retain(int opt)
{
    return opt == OPT_S3_RETAIN;
}

bool remote_is_location(const char *from)
{
    return from != NULL && strncmp(from, "s3://", 5) == 0;
}

/* The store's calls are cancelled by a caught Ctrl-C or SIGTERM (cli_interrupt_catch), so
 * that what remote_fetch put into a private directory is removed as after a failure. */
static bool interrupt_cancels(void *user)
{
    (void)user;
    return cli_interrupted();
}

/* The store of `url` (NULL: f->url) with the settings of `f`. 0 or an exit code. */
static int open_remote(capv_backup_remote **r, const remote_flags *f, const char *url,
                       const char *cmd)
{
    if (url == NULL)
        return cli_usage_error(cmd, "--s3-url s3://BUCKET[/PREFIX] (or CAPV_BACKUP_S3_URL) is "
                                    "required");
    capv_backup_remote_options o = CAPV_BACKUP_REMOTE_OPTIONS_INIT;
    o.url = url;
    o.endpoint = f->endpoint;
    o.region = f->region;
    o.path_style = f->path_style;
    o.credentials_file = f->credentials_file;
    o.ca_file = f->ca_file;
    o.part_size = (uint64_t)f->part_size;
    /* a part size given for a test store also lowers the threshold, so the parts are used */
    o.multipart_threshold = (uint64_t)f->part_size;
    o.max_attempts = (unsigned int)f->attempts;
    o.cancel = interrupt_cancels;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_backup_remote_new(r, &o, &err);
    if (st == CAPV_OK)
        return 0;
    int rc = cli_report(cmd, st, &err);
    /* bad settings or no credentials: the command line (or its environment) is wrong */
    return capv_status_class_of(st) == CAPV_CLASS_USAGE ? EXIT_USAGE : rc;
}

static void print_remote(const capv_backup_remote_info *b, bool json)
{
    if (json) {
        fputs("{\"url\":", stdout);
        cli_print_json_string(stdout, b->url);
        fputs(",\"key\":", stdout);
        cli_print_json_string(stdout, b->key);
        fputs(",\"sidecar_key\":", stdout);
        cli_print_json_string(stdout, b->sidecar_key);
        fputs(",\"uploaded_at\":", stdout);
        cli_print_json_string(stdout, b->uploaded_at);
        cli_print_backup_fields(b->created_at, b->sha3_256, b->size_bytes, b->schema_version,
                                b->entries, b->verifications, b->tool_version);
        putchar('}');
    } else {
        printf("%s  %s  %llu bytes  %llu entries  %llu verifications  %s\n", b->url, b->created_at,
               (unsigned long long)b->size_bytes, (unsigned long long)b->entries,
               (unsigned long long)b->verifications, b->sha3_256);
    }
}

typedef struct progress {
    int last;
    bool shown;
} progress;

static void on_progress(void *user, uint64_t done, uint64_t total)
{
    progress *p = user;
    int pct = total ? (int)(done * 100 / total) : -1;
    if (pct == p->last)
        return;
    p->last = pct;
    p->shown = true;
    fprintf(stderr, "\rtransferring %3d%%", pct < 0 ? 0 : pct);
}

static capv_progress_fn progress_fn(progress *p)
{
    p->last = -2;
    p->shown = false;
    return isatty(STDERR_FILENO) ? on_progress : NULL;
}

static void progress_end(const progress *p)
{
    if (p->shown)
        fputc('\n', stderr);
}

int remote_check(const remote_flags *f, const char *cmd)
{
    capv_backup_remote *r = NULL;
    int rc = open_remote(&r, f, f->url, cmd);
    capv_backup_remote_free(r);
    return rc;
}

int remote_upload(const remote_flags *f, const capv_backup_info *local, bool json)
{
    capv_backup_remote *r = NULL;
    int rc = open_remote(&r, f, f->url, "registry backup --upload");
    if (rc != 0)
        return rc;
    capv_backup_remote_info *b = NULL;
    capv_error err = CAPV_ERROR_INIT;
    progress pg;
    capv_progress_fn pf = progress_fn(&pg);
    capv_status st = capv_backup_remote_upload(&b, r, local->path, pf, &pg, &err);
    progress_end(&pg);
    size_t removed = 0;
    capv_status pst = CAPV_OK; /* the retention's, once the upload is done */
    capv_error perr = CAPV_ERROR_INIT;
    if (st != CAPV_OK) {
        rc = cli_report("registry backup --upload", st, &err);
        fprintf(stderr, "capverify registry backup: the local backup %s is kept\n", local->path);
    } else if (f->retain > 0) {
        pst = capv_backup_remote_prune(&removed, r, (unsigned int)f->retain, &perr);
    }
    if (st == CAPV_OK) {
        /* the upload is done whatever the retention did: its record first */
        if (json) {
            fputs("{\"path\":", stdout);
            cli_print_json_string(stdout, local->path);
            fputs(",\"uploaded\":", stdout);
            print_remote(b, true);
            printf(",\"remote_removed\":%zu}\n", removed);
        } else {
            fputs("uploaded ", stdout);
            print_remote(b, false);
            if (removed > 0)
                printf("removed %zu older backup(s) from the store (--s3-retain %lld)\n", removed,
                       f->retain);
        }
        fflush(stdout);
    }
    if (pst != CAPV_OK) {
        cli_report("registry backup --upload: remote retention", pst, &perr);
        fprintf(stderr,
                "capverify registry backup: the upload is done; the store may hold more than "
                "--s3-retain %lld backups (exit 1)\n",
                f->retain);
        rc = EXIT_VERDICT_WARN;
    }
    capv_backup_remote_info_free(b);
    capv_backup_remote_free(r);
    return rc;
}

int remote_upload_newest(const remote_flags *f, const char *dir, bool json)
{
    capv_backup_list *l = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_backup_list(&l, dir, &err);
    if (st != CAPV_OK)
        return cli_report(dir, st, &err);
    int rc;
    if (capv_backup_list_count(l) == 0) {
        fprintf(stderr, "capverify registry backup --upload: no complete backup in %s\n", dir);
        rc = EXIT_UNAVAILABLE;
    } else {
        rc = remote_upload(f, capv_backup_list_get(l, 0), json);
    }
    capv_backup_list_free(l);
    return rc;
}

int remote_list(const remote_flags *f, bool json)
{
    capv_backup_remote *r = NULL;
    int rc = open_remote(&r, f, f->url, "registry backup --list --remote");
    if (rc != 0)
        return rc;
    capv_backup_remote_listing *l = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_backup_remote_list(&l, r, &err);
    if (st != CAPV_OK) {
        rc = cli_report("registry backup --list --remote", st, &err);
    } else {
        if (json)
            putchar('[');
        for (size_t i = 0; i < capv_backup_remote_listing_count(l); i++) {
            if (json && i)
                putchar(',');
            print_remote(capv_backup_remote_listing_get(l, i), json);
        }
        if (json)
            puts("]");
    }
    capv_backup_remote_listing_free(l);
    capv_backup_remote_free(r);
    return rc;
}

/* "s3://BUCKET" of an s3://BUCKET/KEY location (malloc'd). */
static char *bucket_url(const char *from)
{
    const char *slash = strchr(from + 5, '/');
    size_t n = slash ? (size_t)(slash - from) : strlen(from);
    return strndup(from, n);
}

int remote_fetch(char **path, char **tmpdir, const remote_flags *f, const char *from,
                 const char *dir, const char *near, unsigned int flags,
                 const capv_trust_store *trust)
{
    *path = NULL;
    *tmpdir = NULL;
    /* the endpoint and credentials are the store's; the bucket is the location's */
    char *url = bucket_url(from);
    if (url == NULL)
        return cli_report("registry restore", CAPV_E_NOMEM, NULL);
    capv_backup_remote *r = NULL;
    int rc = open_remote(&r, f, url, "registry restore");
    free(url);
    if (rc != 0)
        return rc;
    char tmpl[4096];
    if (dir == NULL) {
        const char *slash = near ? strrchr(near, '/') : NULL;
        const char *tmp = env_or_null("TMPDIR");
        if (near != NULL && slash != NULL)
            snprintf(tmpl, sizeof tmpl, "%.*s/.capverify-restore-XXXXXX", (int)(slash - near),
                     near);
        else if (near != NULL)
            snprintf(tmpl, sizeof tmpl, ".capverify-restore-XXXXXX");
        else
            snprintf(tmpl, sizeof tmpl, "%s/capverify-restore-XXXXXX", tmp ? tmp : "/tmp");
        if (mkdtemp(tmpl) == NULL) {
            fprintf(stderr, "capverify registry restore: cannot create a directory %s: %s\n", tmpl,
                    strerror(errno));
            capv_backup_remote_free(r);
            return EXIT_UNAVAILABLE;
        }
        if ((*tmpdir = strdup(tmpl)) == NULL) {
            rmdir(tmpl);
            capv_backup_remote_free(r);
            return cli_report("registry restore", CAPV_E_NOMEM, NULL);
        }
        dir = *tmpdir;
    } else if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "capverify registry restore: cannot create %s: %s\n", dir, strerror(errno));
        capv_backup_remote_free(r);
        return EXIT_UNAVAILABLE;
    }
    capv_backup_info *b = NULL;
    capv_error err = CAPV_ERROR_INIT;
    progress pg;
    /* the restore's signature policy (--require-signed --trust) already here: a backup it
     * refuses never lands in --dir, where it would be listed and restorable as a local backup
     * (docs/registry.md "Off-site copies") */
    capv_restore_options ro = CAPV_RESTORE_OPTIONS_INIT;
    ro.flags = flags & CAPV_RESTORE_REQUIRE_SIGNED;
    ro.trust = trust;
    ro.progress = progress_fn(&pg);
    ro.progress_user = &pg;
    capv_status st = capv_backup_remote_download(&b, r, from, dir, &ro, &err);
    progress_end(&pg);
    if (st == CAPV_OK && (*path = strdup(b->path)) == NULL) {
        st = CAPV_E_NOMEM;     /* err is empty after the download: the status is said */
        if (*tmpdir != NULL) { /* the private copy goes, as after a failed download */
            unlink(b->sidecar_path);
            unlink(b->path);
        }
    }
    if (st != CAPV_OK) {
        rc = cli_report("registry restore", st, &err);
        if (st == CAPV_E_CONFLICT) /* --dir already holds that backup: nothing was judged */
            rc = EXIT_USAGE;
        if (*tmpdir != NULL) {
            rmdir(*tmpdir);
            free(*tmpdir);
            *tmpdir = NULL;
        }
    }
    capv_backup_info_free(b);
    capv_backup_remote_free(r);
    return rc;
}

void remote_fetch_done(char *path, char *tmpdir)
{
    if (tmpdir != NULL && path != NULL) {
        size_t n = strlen(path);
        char side[4096];
        if (n > 7 &&
            snprintf(side, sizeof side, "%.*s.json", (int)(n - 7), path) < (int)sizeof side)
            unlink(side);
        unlink(path);
    }
    if (tmpdir != NULL)
        rmdir(tmpdir);
    free(path);
    free(tmpdir);
}
