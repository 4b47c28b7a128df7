/* SPDX-License-Identifier: Apache-2.0 */
/* capverify version: print the version of the tool and library (cmd_version.c). */
#ifndef CAPV_CLI_CMD_VERSION_H
#define CAPV_CLI_CMD_VERSION_H

/* Runs `capverify version` with argv[0] = "version"; returns the exit code (cli.h). */
int cmd_version(int argc, char **argv);

#endif
