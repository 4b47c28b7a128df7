#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Runs CMD [ARG...] with SIGINT at its default action. A shell without job control starts
# its background jobs with SIGINT ignored, and capverify keeps a signal that was ignored
# when it began (a background job's Ctrl-C): a test that interrupts a background capverify
# with `kill -INT` starts it through this.
#   sigint_default.py CMD [ARG...]
import os
import signal
import sys

if len(sys.argv) < 2:
    sys.exit("usage: sigint_default.py CMD [ARG...]")
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])
