"""A minimal progress bar on a text stream (stderr), redrawn in place, for long commands."""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    """`with ProgressBar(total, "bench") as bar: bar.update()` draws `label [####....] 12/50`.

    Redraws only when the drawn width changes, so it costs almost nothing inside a timed loop.
    Draws nothing when the stream is not a terminal unless `force` is set.
    """

    def __init__(
        self,
        total: int,
        label: str = "",
        stream: TextIO | None = None,
        width: int = 30,
        force: bool = False,
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.done = 0
        self._drawn = -1
        self.enabled = force or self.stream.isatty()

    def __enter__(self) -> ProgressBar:
        self._draw()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

    def update(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        self._draw()

    def _draw(self) -> None:
        filled = self.width * self.done // self.total
        if not self.enabled or (filled == self._drawn and self.done != self.total):
            return
        self._drawn = filled
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        self.stream.flush()
