/* SPDX-License-Identifier: Apache-2.0 */
/* capverify keys: generate Ed25519 keys, show trust stores, compute key ids (cmd_keys.c). */
#ifndef CAPV_CLI_CMD_KEYS_H
#define CAPV_CLI_CMD_KEYS_H

/* Runs `capverify keys` with argv[0] = "keys"; returns the exit code (cli.h). */
int cmd_keys(int argc, char **argv);

#endif
