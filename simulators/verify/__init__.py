"""Deadline verifier: runs the real loop against simulated scenes, faults and a PLC, and proves
per scenario that every stop, fault and deadline was met, with the margin left."""
