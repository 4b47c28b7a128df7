/* SPDX-License-Identifier: Apache-2.0 */
/* capverifyd: the systemd service manager's notifications (notify.c, docs/deployment.md,
 * "systemd"): READY once both listeners serve, STOPPING when a drain starts, WATCHDOG
 * pings while the main loop runs. Without $NOTIFY_SOCKET (not started by systemd with
 * Type=notify) every call does nothing. */
#ifndef CAPVD_NOTIFY_H
#define CAPVD_NOTIFY_H

#include <stdint.h>

/* READY=1 with a STATUS line naming the listeners. */
void notify_ready(const char *status);
/* STOPPING=1: the service manager waits for the exit (within TimeoutStopSec). */
void notify_stopping(void);
/* WATCHDOG=1 at half of WatchdogSec (when the unit sets one); call it every second with a
 * monotonic time (a step of the system clock must not stop the pings). */
void notify_watchdog(int64_t mono_ms);

#endif
