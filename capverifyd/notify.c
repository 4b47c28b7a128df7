/* SPDX-License-Identifier: Apache-2.0 */
/* systemd notifications through Debian's libsystemd (sd_notify(3), sd_watchdog_enabled(3));
 * see notify.h and docs/deployment.md, "systemd". */
#include "notify.h"

#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

void notify_ready(const char *status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void notify_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=draining");
}

void notify_watchdog(int64_t mono_ms)
{
    static int64_t interval_ms = -1, last_ms;
    if (interval_ms < 0) {
        uint64_t usec = 0;
        /* > 0 only when WATCHDOG_USEC is set for this very process (WATCHDOG_PID) */
        interval_ms = sd_watchdog_enabled(0, &usec) > 0 ? (int64_t)(usec / 2000) : 0;
    }
    if (interval_ms == 0 || mono_ms - last_ms < interval_ms)
        return;
    last_ms = mono_ms;
    sd_notify(0, "WATCHDOG=1");
}
