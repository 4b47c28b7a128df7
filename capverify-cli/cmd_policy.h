/* SPDX-License-Identifier: Apache-2.0 */
/* capverify policy: compile, lint and evaluate policies; print policy hashes (cmd_policy.c). */
#ifndef CAPV_CLI_CMD_POLICY_H
#define CAPV_CLI_CMD_POLICY_H

/* Runs `capverify policy` with argv[0] = "policy"; returns the exit code (cli.h). */
int cmd_policy(int argc, char **argv);

#endif
