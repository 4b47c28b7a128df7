/* SPDX-License-Identifier: Apache-2.0 */
/* capverify token: validate a bearer JWT against a JWKS (cmd_token.c). */
#ifndef CAPV_CLI_CMD_TOKEN_H
#define CAPV_CLI_CMD_TOKEN_H

/* Runs `capverify token` with argv[0] = "token"; returns the exit code (cli.h). */
int cmd_token(int argc, char **argv);

#endif
