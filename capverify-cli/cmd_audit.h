/* SPDX-License-Identifier: Apache-2.0 */
/* capverify audit: verify audit logs, print their tip, export events (cmd_audit.c). */
#ifndef CAPV_CLI_CMD_AUDIT_H
#define CAPV_CLI_CMD_AUDIT_H

/* Runs `capverify audit` with argv[0] = "audit"; returns the exit code (cli.h). */
int cmd_audit(int argc, char **argv);

#endif
