"""What the face shows of the box's threads: the supervisor's problems (now, and onsets counted
per thread) and the shared inference workers' requests (served, failed, skipped).

Read at scrape or answer time from values the loop replaces whole (`Controller.problems_now`,
`Controller.thread_problems`, `InferenceWorkers.stats()`): no lock of the loop's is taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from plantvision.loop.camera import pools_of
from plantvision.loop.controller import Controller


def thread_metrics(ctl: Controller) -> Iterator[Metric]:
    now = GaugeMetricFamily(
        "plantvision_thread_problem",
        "A thread the supervisor finds dead or stuck now (1), per thread and kind",
        labels=["thread", "kind"],
    )
    for thread, kind in sorted(ctl.problems_now):
        now.add_metric([thread, kind], 1)
    onsets = CounterMetricFamily(
        "plantvision_thread_problems",
        "Onsets of a dead or stuck thread found by the supervisor, per thread and kind",
        labels=["thread", "kind"],
    )
    for (thread, kind), n in sorted(ctl.thread_problems.items()):
        onsets.add_metric([thread, kind], n)
    requests = CounterMetricFamily(
        "plantvision_inference_requests",
        "Shared inference workers' requests: served (run, failed ones included), failed (the "
        "session raised), skipped (its camera had given up, or would before the run ended)",
        labels=["outcome"],
    )
    for workers, _ in pools_of(ctl.cameras):
        st = workers.stats()
        for outcome, n in (("served", st.served), ("failed", st.failed), ("skipped", st.skipped)):
            requests.add_metric([outcome], n)
    yield now
    yield onsets
    yield requests


def threads_json(ctl: Controller) -> dict[str, Any]:
    """The supervisor's problems now, and each set of shared workers with its counts."""
    inference = []
    for workers, cams in pools_of(ctl.cameras):
        st = workers.stats()
        inference.append({
            "workers": workers.workers, "cameras": [c.id for c in cams],
            "served": st.served, "failed": st.failed, "skipped": st.skipped,
        })  # fmt: skip
    return {
        "problems": [{"thread": t, "kind": k} for t, k in sorted(ctl.problems_now)],
        "onsets": sum(ctl.thread_problems.values()),
        "inference": inference,
    }
