"""The verifier's box process: `python -m simulators.verify.boxmain [opts] -- <plantvision args>`.

It runs `plantvision <args>` (in practice `run <generated deployment>`, the command a site runs)
after two things only a verifier asks for, both outside the product:
- `--epoch-file F`: the scene camera's clock is the verifier's `SceneClock`, and its start (the
  grabber's open, monotonic ns: one clock for every process on the machine) is written to F, so
  the parent judges the run against the scene's own truth on the box's own timeline;
- `--mutant NAME`: a planted broken box (simulators.verify.mutants) is installed first.
Neither exists for `python -m plantvision`: no deployment file can reach them.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from plantvision.frames.grabbers import Grabber
from plantvision.loop.build import resolve
from plantvision.loop.deployment import CameraModel
from plantvision.types import ImageArray
from simulators.verify.faults import SceneClock


class EpochGrabber:
    """A scene camera whose clock starts at `open` and tells the parent when that was."""

    def __init__(self, render: Callable[[float], ImageArray], fps: float, source_id: str,
                 epoch_file: Path) -> None:  # fmt: skip
        self._render, self._clock, self._epoch_file = render, SceneClock(), epoch_file
        self.source_id, self.live = source_id, True
        self.nominal_fps: float | None = fps

    def open(self) -> None:
        first = self._clock.epoch_ns is None
        self._clock.start()
        if first:  # a reconnect keeps the scene's clock (a real cell does not rewind)
            tmp = self._epoch_file.with_suffix(".tmp")
            tmp.write_text(str(self._clock.epoch_ns), encoding="utf-8")
            tmp.replace(self._epoch_file)

    def grab(self) -> ImageArray | None:
        return self._render(self._clock.now_s())

    def close(self) -> None:
        pass


def pin_scene_clock(epoch_file: Path) -> None:
    """The demo's scene camera becomes an EpochGrabber (one camera: the box-process runs)."""
    import simulators.demo as demo
    from simulators.scene import SceneRenderer, load_scenario

    def scene_grabber(cam: CameraModel, base: Path, _clock_ns: Callable[[], int]) -> Grabber:
        renderer = SceneRenderer(load_scenario(resolve(base, cam.source.scenario)))
        return EpochGrabber(lambda t: renderer.render(t)[0], cam.source.fps, cam.id, epoch_file)

    demo.scene_grabber = scene_grabber  # type: ignore[assignment]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" not in args:
        raise SystemExit("usage: python -m simulators.verify.boxmain [--epoch-file F] "
                         "[--mutant NAME] -- <plantvision args>")  # fmt: skip
    cut = args.index("--")
    ap = argparse.ArgumentParser(prog="simulators.verify.boxmain")
    ap.add_argument("--epoch-file", type=Path, default=None)
    ap.add_argument("--mutant", default=None)
    opts = ap.parse_args(args[:cut])
    if opts.mutant is not None:
        from simulators.verify.mutants import install

        install(opts.mutant)
    if opts.epoch_file is not None:
        pin_scene_clock(opts.epoch_file)
    # Exactly `python -m plantvision <args>` from here on (it exits with the command's code).
    sys.argv = ["plantvision", *args[cut + 1 :]]
    runpy.run_module("plantvision", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
