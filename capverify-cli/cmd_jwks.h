/* SPDX-License-Identifier: Apache-2.0 */
/* capverify jwks: fetch a JWKS and show the keys it accepts and ignores (cmd_jwks.c). */
#ifndef CAPV_CLI_CMD_JWKS_H
#define CAPV_CLI_CMD_JWKS_H

/* Runs `capverify jwks` with argv[0] = "jwks"; returns the exit code (cli.h). */
int cmd_jwks(int argc, char **argv);

#endif
