"""Loop: the real-time shell. Builds a deployment into camera runtimes, runs one thread per
camera (frame -> detector -> zones -> guard / conveyor -> one PLC write), combines the cameras'
outputs into one image, and reports.

    deployment.py  the deployment file model (validated data)
    build.py       deployment -> camera runtimes, every referenced file checked first
    controller.py  the cycle, the camera threads, fault -> guard input
    outputs.py     the combined output image, fault codes, reset presses
    stats.py       latency windows;  report.py  live line and final report
    sdnotify.py    systemd notify / watchdog

No re-exports: importing one pure part (the output image) must not start the whole shell.
"""
