/* SPDX-License-Identifier: Apache-2.0 */
/* capverify registry: the registry database: entries, backup, restore, check (cmd_registry.c). */
#ifndef CAPV_CLI_CMD_REGISTRY_H
#define CAPV_CLI_CMD_REGISTRY_H

/* Runs `capverify registry` with argv[0] = "registry"; returns the exit code (cli.h). */
int cmd_registry(int argc, char **argv);

#endif
