/* SPDX-License-Identifier: Apache-2.0 */
/* capverify hash: print SHA3-256, SHA-256 or BLAKE3 digests of files (cmd_hash.c). */
#ifndef CAPV_CLI_CMD_HASH_H
#define CAPV_CLI_CMD_HASH_H

/* Runs `capverify hash` with argv[0] = "hash"; returns the exit code (cli.h). */
int cmd_hash(int argc, char **argv);

#endif
