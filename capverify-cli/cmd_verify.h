/* SPDX-License-Identifier: Apache-2.0 */
/* capverify verify: verify CAP packages (directories or .zip files) (cmd_verify.c). */
#ifndef CAPV_CLI_CMD_VERIFY_H
#define CAPV_CLI_CMD_VERIFY_H

/* Runs `capverify verify` with argv[0] = "verify"; returns the exit code (cli.h). */
int cmd_verify(int argc, char **argv);

#endif
