/* SPDX-License-Identifier: Apache-2.0 */
/* capverify commit: recompute commitment roots from supplier and UBO CSV files (cmd_commit.c). */
#ifndef CAPV_CLI_CMD_COMMIT_H
#define CAPV_CLI_CMD_COMMIT_H

/* Runs `capverify commit` with argv[0] = "commit"; returns the exit code (cli.h). */
int cmd_commit(int argc, char **argv);

#endif
