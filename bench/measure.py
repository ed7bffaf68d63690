"""Run a command as the child of this small process and print its own peak RSS and CPU time (os.wait4).

The harness that generated gigabytes must not be the parent: a forked child's
ru_maxrss starts from its parent's resident size.
"""

import json
import os
import sys
import time

start = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_pid, status, usage = os.wait4(pid, 0)
print(
    json.dumps(
        {
            "rc": os.waitstatus_to_exitcode(status),
            "seconds": time.monotonic() - start,
            "maxrss_kib": usage.ru_maxrss,
            "cpu_s": usage.ru_utime + usage.ru_stime,
        }
    )
)
