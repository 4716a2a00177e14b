"""Frames: where pictures come from. Grabbers (camera, file, stream, folder) run in a capture
thread each; the loop takes only the newest frame and sees its age; health checks spot frozen
and dark pictures.

    grabbers.py  the device seam (cv2.VideoCapture, image folders, a renderer)
    source.py    FrameSource: capture thread, latest frame wins, reconnect with backoff
    health.py    frozen and dark frame checks
    media.py     reading images and videos for the commands

No re-exports: the health checks are pure and must load without cv2.
"""
