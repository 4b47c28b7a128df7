/* SPDX-License-Identifier: Apache-2.0 */
/* capverify registry backup --upload / --list --remote, registry restore --from s3://… —
 * off-site copies of backups in an S3-compatible store (cmd_registry_remote.c;
 * docs/registry.md, "Off-site copies"). The library does the work (backup_remote.h); this
 * file reads the S3 settings from flags and the environment and prints. */
#ifndef CAPV_CLI_CMD_REGISTRY_REMOTE_H
#define CAPV_CLI_CMD_REGISTRY_REMOTE_H

#include <getopt.h>
#include <stddef.h>
#include <stdbool.h>

#include <capverify.h>

/* The S3 settings of a command: flags, else CAPV_BACKUP_S3_* variables (the daemon's names
 * of the same keys), else defaults. */
typedef struct remote_flags {
    const char *url, *endpoint, *region, *credentials_file, *ca_file;
    bool path_style;
    long long part_size, attempts, retain;
    bool upload; /* --upload */
    bool remote; /* --remote */
} remote_flags;

/* Fills `f` from the environment. 0, or EXIT_USAGE after a usage error of `cmd`: a
 * CAPV_BACKUP_S3_PATH_STYLE or CAPV_BACKUP_S3_RETAIN value that the daemon's configuration
 * would refuse too. */
int remote_flags_init(remote_flags *f, const char *cmd);

/* The S3 settings (--s3-*: the first `remote_settings` of them), then --upload and --remote,
 * with option values from REMOTE_OPT_BASE on; ends with { 0 }. */
#define REMOTE_OPT_BASE 1024
extern const struct option remote_options[];
extern const size_t remote_settings;

/* If `opt` is one of remote_options, applies it with its value `val` and returns 1; 0 when it
 * is none of them; -1 after printing a usage error (a bad value). */
int remote_flag(remote_flags *f, int opt, const char *val, const char *cmd);

/* Whether `opt` is --s3-retain, which only an upload takes (it prunes the store). */
bool remote_is_retain(int opt);

/* Whether `from` is an s3:// location. */
bool remote_is_location(const char *from);

/* Whether the S3 settings and credentials can make a store (checked before a backup that
 * is to be uploaded is taken); an exit code, reported. */
int remote_check(const remote_flags *f, const char *cmd);

/* Uploads the local backup `local` (and prunes the store to --s3-retain when given); prints
 * what was stored. `json`: one JSON object. Returns an exit code: EXIT_VERDICT_WARN (1) when
 * the upload is done and only the pruning failed (reported on stderr). */
int remote_upload(const remote_flags *f, const capv_backup_info *local, bool json);

/* Uploads the newest complete backup of `dir`. */
int remote_upload_newest(const remote_flags *f, const char *dir, bool json);

/* Lists the complete backups in the store, newest first. */
int remote_list(const remote_flags *f, bool json);

/* Downloads the backup `from` (s3://BUCKET/KEY) and verifies it, with the signature policy
 * of the restore (`flags`' CAPV_RESTORE_REQUIRE_SIGNED, the trust store `trust`, may be
 * NULL): into `dir` when given (it is kept there as a local backup, and only if it passed),
 * else into a new private directory beside `near` (a file path; NULL = $TMPDIR), which
 * remote_fetch_done removes. `*path` is the verified local file. Returns an exit code. */
int remote_fetch(char **path, char **tmpdir, const remote_flags *f, const char *from,
                 const char *dir, const char *near, unsigned int flags,
                 const capv_trust_store *trust);
/* Removes what remote_fetch put into a private directory, and frees. */
void remote_fetch_done(char *path, char *tmpdir);

#endif
