/* SPDX-License-Identifier: Apache-2.0 */
/* capverify sign: append an Ed25519 signature to a manifest (cmd_sign.c). */
#ifndef CAPV_CLI_CMD_SIGN_H
#define CAPV_CLI_CMD_SIGN_H

/* Runs `capverify sign` with argv[0] = "sign"; returns the exit code (cli.h). */
int cmd_sign(int argc, char **argv);

#endif
