"""Shared inference: a few worker threads run every camera's `session.run`, earliest deadline first.

With more cameras than cores, one session per camera runs N inferences at once on the same
cores: each takes N times as long, so every camera's frame is late together (8 cameras on 2
cores: infer stage median ~50 ms for a ~9 ms model). Workers run one request each at a time, so
a frame waits in the queue instead and is then done at the model's own speed. Cameras keep their
own threads, pre-processing, decoding and decisions; only the tensor crosses over, and its result
comes back to the one request that carried it (no batching: on this CPU YOLOX-Nano's batch of 8
took 1.16x as long as 8 single runs).

A camera waits at most `wait_ns` for its result (its budget), then gets a ModelError and trips:
a worker that hangs trips every camera waiting on it within that bound, and a worker that
raises hands the error to the one request it was running. One hung worker among others that
serve on would trip only the camera whose run it holds, once, and leave the box at reduced
capacity unseen: `states()` says when each worker's current run began, so the loop's supervisor
judges a run that outlasts its cameras' bound a stuck thread (loop/controller.py).

A request whose camera gave up is skipped, never run late, and so is one that cannot finish
before its camera gives up (even the fastest of its session's recent runs would end past the
deadline): under overload, earliest deadline first otherwise runs request after request that
ends just after its camera gave up (review 8: at 133 % load 86 % of the runs were wasted and
every camera tripped in 5 cycles out of 6).

`alive()` and `states()` are for the loop's supervisor. `stats()` is read without a lock (an
immutable value replaced on each change): an outside voice never takes a worker's lock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from plantvision.detect.backends import open_session
from plantvision.detect.detector import Detector
from plantvision.detect.runtime import ModelSession, OutputInfo, inference_error
from plantvision.detect.spec import ModelSpec
from plantvision.errors import ModelError

Outputs = list[npt.NDArray[Any]]
RECENT_RUNS = 8  # a session's run time: the fastest of this many recent runs (never too long)


@dataclass(eq=False)
class _Request:
    session: ModelSession
    tensor: npt.NDArray[Any]
    deadline_ns: int
    done: threading.Event = field(default_factory=threading.Event)
    outputs: Outputs | None = None
    error: ModelError | None = None
    abandoned: bool = False  # its camera stopped waiting: never run it


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """Requests run, failed (the session raised) and skipped (their camera had given up, or
    would before the run could end)."""

    served: int
    failed: int
    skipped: int


@dataclass(frozen=True, slots=True)
class WorkerState:
    """One worker thread as the supervisor sees it: `busy_since_ns`, when its current run
    began (None: waiting for work)."""

    name: str
    alive: bool
    busy_since_ns: int | None


class InferenceWorkers:
    """`workers` threads taking requests earliest deadline first. Start with `start()`."""

    def __init__(
        self, workers: int, clock_ns: Callable[[], int] = time.monotonic_ns, name: str = "infer"
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._clock_ns = clock_ns
        self._cond = threading.Condition()
        self._queue: list[tuple[int, int, _Request]] = []
        self._order = itertools.count()  # equal deadlines: first come, first served
        self._closed = False
        self._stats = WorkerStats(0, 0, 0)  # replaced, never changed: read without the lock
        self._busy_ns: list[int | None] = [None] * workers  # each worker's own slot
        self._run_ns: dict[int, deque[int]] = {}  # id(session) -> its recent run times
        self._threads = [
            threading.Thread(target=self._work, args=(i,), name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]

    def start(self) -> None:
        for t in self._threads:
            if not t.is_alive():
                t.start()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def alive(self) -> bool:
        return all(t.is_alive() for t in self._threads)

    def states(self) -> list[WorkerState]:
        return [
            WorkerState(t.name, t.is_alive(), busy)
            for t, busy in zip(self._threads, list(self._busy_ns), strict=True)
        ]

    def stats(self) -> WorkerStats:
        return self._stats

    def _count(self, served: int = 0, failed: int = 0, skipped: int = 0) -> None:
        """Under the lock."""
        s = self._stats
        self._stats = WorkerStats(s.served + served, s.failed + failed, s.skipped + skipped)

    def run(self, session: ModelSession, tensor: npt.NDArray[Any], wait_ns: int) -> Outputs:
        """`session.run(tensor)` on a worker; a ModelError if it raised or gave no result
        within `wait_ns`."""
        req = _Request(session, tensor, self._clock_ns() + wait_ns)
        with self._cond:
            if self._closed:
                raise ModelError("inference failed: the shared inference workers are closed")
            heapq.heappush(self._queue, (req.deadline_ns, next(self._order), req))
            self._cond.notify()
        if not req.done.wait(wait_ns / 1e9):
            with self._cond:
                req.abandoned = not req.done.is_set()
            if req.abandoned:
                raise ModelError(
                    f"inference timed out: no result within {wait_ns / 1e6:g} ms from the "
                    f"shared inference workers ({self.workers} busy or stuck)"
                )
        if req.error is not None:
            raise req.error
        assert req.outputs is not None
        return req.outputs

    def _next(self) -> _Request | None:
        """The most urgent request still wanted; None once closed."""
        with self._cond:
            while True:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return None
                req = heapq.heappop(self._queue)[2]
                if req.abandoned or self._clock_ns() + self._fastest_ns(req) > req.deadline_ns:
                    self._count(skipped=1)  # its camera gave up, or will before it is done
                    continue
                return req

    def _fastest_ns(self, req: _Request) -> int:
        """Under the lock: the fastest recent run of `req`'s session (0 before its first)."""
        recent = self._run_ns.get(id(req.session))
        return min(recent) if recent else 0

    def _work(self, index: int) -> None:
        while (req := self._next()) is not None:
            t0_ns = self._busy_ns[index] = self._clock_ns()
            try:
                req.outputs = req.session.run(req.tensor)
            except ModelError as exc:
                req.error = exc
            except Exception as exc:  # a session bug: its camera trips, the worker carries on
                req.error = inference_error(exc)
            took_ns = self._clock_ns() - t0_ns
            self._busy_ns[index] = None
            with self._cond:
                self._count(served=1, failed=req.error is not None)
                if req.error is None:
                    recent = self._run_ns.setdefault(id(req.session), deque(maxlen=RECENT_RUNS))
                    recent.append(took_ns)
            req.done.set()


class SharedSession:
    """One camera's view of a session run by shared workers (a `runtime.ModelSession`): its
    runs wait at most `wait_ns` (the camera's budget). Warm the inner session before sharing."""

    def __init__(self, inner: ModelSession, workers: InferenceWorkers, wait_ns: int) -> None:
        self.inner, self.workers, self.wait_ns = inner, workers, wait_ns
        self.provider: str = inner.provider
        self.input_name: str = inner.input_name
        self.input_shape: tuple[int | None, ...] = inner.input_shape
        self.input_dtype: type[np.floating[Any]] = inner.input_dtype
        self.outputs: tuple[OutputInfo, ...] = inner.outputs
        self.metadata: dict[str, str] = inner.metadata

    def run(self, tensor: npt.NDArray[Any]) -> Outputs:
        return self.workers.run(self.inner, tensor, self.wait_ns)


def session_key(spec: ModelSpec) -> tuple[object, ...]:
    """What makes two cameras' sessions the same: the file and how the runtime opens it
    (thresholds, names and pre-processing stay each camera's own, in its Detector)."""
    return (
        str(spec.path), spec.backend, spec.providers, spec.graph_optimization,
        spec.intra_op_threads,
    )  # fmt: skip


class SharedModels:
    """Opens each distinct model once, warms it on its own, and gives every camera a Detector
    of its own over it, run by `workers`."""

    def __init__(self, workers: InferenceWorkers) -> None:
        self.workers = workers
        self._sessions: dict[tuple[object, ...], ModelSession] = {}

    def detector(self, spec: ModelSpec, wait_ns: int) -> Detector:
        """A camera's Detector on the shared session of its model; a ModelError if the model
        does not load (or fits no decoder)."""
        key = session_key(spec)
        inner = self._sessions.get(key)
        if inner is None:
            inner = open_session(spec)
            Detector(spec, inner)  # warm-up runs on this thread, unbounded (first runs allocate)
            self._sessions[key] = inner
        unwarmed = spec.model_copy(update={"warmup_runs": 0})
        return Detector(unwarmed, SharedSession(inner, self.workers, wait_ns))
