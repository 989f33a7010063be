"""The chaos tests run against a simulated Cloud without a rate limit: Cloud's client budget is raised.

The budget only decides when requests go, never which, and a 30-project wave (or the demo's wave, several
times over) would otherwise spend most of its time waiting. The subprocesses are given
``--requests-per-minute 0`` (tests/chaos/harness.py).
"""

from __future__ import annotations

import pytest

import octowiz.engine.session as session


@pytest.fixture(autouse=True)
def unbounded_cloud_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # The in-process runs, as the command line's `--requests-per-minute 0` does for the subprocesses.
    monkeypatch.setattr(session, "CLOUD_REQUESTS_PER_MINUTE", None)
