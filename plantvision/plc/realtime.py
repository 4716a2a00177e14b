"""Real-time priority for the ejector child process (plantvision.plc.ejector_child).

On a loaded box the kernel can leave a normal thread runnable and unrun for milliseconds; a
SCHED_FIFO thread preempts every normal one the moment its sleep ends. In the box's own process
that did not help (the lead's trial, issue 17: switch-on p99 3.0 ms vs 1.4 ms): the real-time
thread woke on time and then waited for the GIL held by a preempted normal thread. The child has
a GIL of its own, so there the priority counts. It needs CAP_SYS_NICE (root, or
`AmbientCapabilities=CAP_SYS_NICE` / `LimitRTPRIO=` in the service unit); without it the child
runs at normal priority and the box says so once. The child sleeps between pulses and spins at
most `spin_ns` before each, and the kernel's RT throttling (95 % by default) bounds what a
runaway could take, so the camera loops still get the cores.
"""

from __future__ import annotations

import os

RT_PRIORITY = 20  # below the kernel's threaded interrupt handlers (50): the NIC still runs
FIX = (
    "run plantvision as root or grant it CAP_SYS_NICE (systemd: AmbientCapabilities="
    "CAP_SYS_NICE, LimitRTPRIO=20), or accept pulses timed at normal priority"
)


def make_realtime(priority: int = RT_PRIORITY) -> str | None:
    """Put the calling thread (and the threads it starts later) under SCHED_FIFO at `priority`;
    None on success, else why not."""
    if not hasattr(os, "sched_setscheduler"):
        return "this platform has no SCHED_FIFO"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))  # 0: this thread
    except OSError as exc:
        return f"{exc.strerror or exc}"
    return None
