"""Server tasks with a real life: Queued, Executing, then Success, Failed or Canceled.

Time is read from an injectable clock, and tasks advance lazily whenever the instance answers a
request, so there are no background threads and a test with a fake clock decides exactly when a task
moves. A task only starts executing while the instance's nodes have capacity (their task caps add
up), which is what makes "task cap 0" on a deprecated Server visible: new tasks stay queued.

When a task completes its effect runs (an export builds its archive, an import creates its projects);
an effect that raises fails the task with the exception's message, as Octopus shows it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from octowiz.sim.store import Store

Doc = dict[str, Any]
Effect = Callable[[Doc], list[str]]

ACTIVE = ("Queued", "Executing", "Cancelling")


def iso(ts: float) -> str:
    """An Octopus-style timestamp (``2026-03-02T09:15:00.123+00:00``)."""
    d = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}+00:00"


def _human_duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} second{'s' if s != 1 else ''}"
    m = s // 60
    return f"{m} minute{'s' if m != 1 else ''}"


class TaskEngine:
    """Creates tasks and advances them against a clock.

    Args:
        store: the instance's store (tasks live in collection ``tasks``).
        clock: seconds since the epoch.
        queued_seconds: how long a task waits before it may start.
        executing_seconds: how long it executes.
        capacity: returns how many tasks may execute at once (sum of node task caps).
        node_name: the node that picks tasks up.
    """

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        *,
        queued_seconds: float,
        executing_seconds: float,
        capacity: Callable[[], int],
        node_name: str,
    ) -> None:
        self.store = store
        self.clock = clock
        self.queued_seconds = queued_seconds
        self.executing_seconds = executing_seconds
        self.capacity = capacity
        self.node_name = node_name
        self.effects: dict[str, Effect] = {}
        #: Task kinds (``export``, ``import``, ``adhoc``) that fail at completion (fault injection).
        self.failing_kinds: set[str] = set()
        self._active: tuple[int, list[str]] | None = None  # (tasks version, ids of unfinished tasks)

    def create(
        self,
        name: str,
        description: str,
        *,
        space_id: str | None,
        arguments: Doc | None = None,
        kind: str | None = None,
        payload: Doc | None = None,
        log: list[str] | None = None,
        executing_seconds: float | None = None,
    ) -> Doc:
        """Queue a new task. ``kind`` picks the effect run at completion."""
        now = self.clock()
        doc: Doc = {
            "Id": "",
            "SpaceId": space_id,
            "Name": name,
            "Description": description,
            "Arguments": arguments or {},
            "State": "Queued",
            "Completed": None,
            "QueueTime": iso(now),
            "QueueTimeExpiry": None,
            "StartTime": None,
            "LastUpdatedTime": iso(now),
            "CompletedTime": None,
            "ServerNode": None,
            "Duration": "0 seconds",
            "ErrorMessage": "",
            "HasBeenPickedUpByProcessor": False,
            "IsCompleted": False,
            "FinishedSuccessfully": False,
            "HasPendingInterruptions": False,
            "CanRerun": False,
            "HasWarningsOrErrors": False,
            "_Kind": kind or name,
            "_QueuedAt": now,
            "_ExecSeconds": self.executing_seconds if executing_seconds is None else executing_seconds,
            "_Payload": payload or {},
            "_Log": list(log or [f"{description}"]),
        }
        return self.store.insert("tasks", doc, prefix="ServerTasks")

    # -- life -----------------------------------------------------------------------------------

    def advance(self) -> None:
        """Move every active task as far as the clock allows."""
        now = self.clock()
        version = self.store.versions.get("tasks", 0)
        if self._active is None or self._active[0] != version:
            ids = [t["Id"] for t in self.store.all("tasks") if t.get("State") in ACTIVE]
            self._active = (version, ids)
        if not self._active[1]:
            return
        active = [
            t for t in (self.store.get("tasks", i) for i in self._active[1]) if t and t.get("State") in ACTIVE
        ]
        executing = [t for t in active if t["State"] in ("Executing", "Cancelling")]
        # Finish what has run its course, earliest first, freeing slots as it goes.
        freed: list[float] = []
        for t in sorted(executing, key=lambda x: x["_StartedAt"] + x["_ExecSeconds"]):
            end = t["_StartedAt"] + t["_ExecSeconds"]
            if end <= now:
                self._complete(t, end)
                freed.append(end)
        running = sum(1 for t in active if t["State"] == "Executing")
        cap = self.capacity()
        for t in sorted((x for x in active if x["State"] == "Queued"), key=lambda x: x["_QueuedAt"]):
            ready = t["_QueuedAt"] + self.queued_seconds
            if ready > now or running >= cap:
                continue
            start = max(ready, freed.pop(0)) if freed else ready
            t = dict(t)
            t.update(
                State="Executing",
                StartTime=iso(start),
                HasBeenPickedUpByProcessor=True,
                ServerNode=self.node_name,
                LastUpdatedTime=iso(start),
                _StartedAt=start,
            )
            self.store.put("tasks", t)
            running += 1
            if start + t["_ExecSeconds"] <= now:
                self._complete(t, start + t["_ExecSeconds"])
                running -= 1
                freed.append(start + t["_ExecSeconds"])

    def _complete(self, task: Doc, when: float) -> None:
        task = dict(task)
        log = list(task.get("_Log") or [])
        state, error = "Success", ""
        if task.get("_Kind") in self.failing_kinds:
            state, error = "Failed", "The task failed (simulated fault)."
            log.append("Error: the task failed (simulated fault)")
        elif task.get("State") == "Cancelling":
            state = "Canceled"
        else:
            effect = self.effects.get(task["_Kind"])
            if effect is not None:
                try:
                    log.extend(effect(task))
                except Exception as exc:  # an effect's failure is the task's failure, as in Octopus
                    state, error = "Failed", str(exc)
                    # What the effect logged before failing (a script that failed on one machine of three).
                    log.extend(getattr(exc, "log_lines", ()))
                    log.append(f"Error: {exc}")
        task.update(
            State=state,
            ErrorMessage=error,
            IsCompleted=True,
            FinishedSuccessfully=state == "Success",
            HasWarningsOrErrors=state != "Success",
            CompletedTime=iso(when),
            Completed=dt.datetime.fromtimestamp(when, tz=dt.UTC).strftime("%A, %B %d, %Y %I:%M %p"),
            LastUpdatedTime=iso(when),
            Duration=_human_duration(when - task.get("_StartedAt", when)),
            _Log=log,
        )
        self.store.put("tasks", task)

    def cancel(self, task_id: str) -> Doc | None:
        """Cancel a queued or executing task (executing ones pass through ``Cancelling``)."""
        self.advance()
        task = self.store.get("tasks", task_id)
        if task is None:
            return None
        if task["State"] in ("Queued", "Executing", "Cancelling"):
            task = dict(task)
            now = self.clock()
            task.update(
                State="Canceled",
                IsCompleted=True,
                FinishedSuccessfully=False,
                CompletedTime=iso(now),
                LastUpdatedTime=iso(now),
                ErrorMessage="The task was canceled.",
                _Log=[*task.get("_Log", []), "Canceled by user"],
            )
            self.store.put("tasks", task)
        return task

    def details(self, task: Doc, tail: int | None = None) -> Doc:
        """The ``TaskDetailsResource`` body: progress and the log revealed so far."""
        now = self.clock()
        log: list[str] = list(task.get("_Log") or [])
        if task["State"] == "Queued":
            pct, shown = 0, log[:1]
            status = "Pending"
        elif task["State"] in ("Executing", "Cancelling"):
            elapsed = now - task.get("_StartedAt", now)
            frac = 0.0 if task["_ExecSeconds"] <= 0 else min(0.99, elapsed / task["_ExecSeconds"])
            pct = int(frac * 100)
            planned = self._planned_log(task)
            shown = planned[: max(1, int(len(planned) * frac))]
            status = "Running"
        else:
            pct, shown = 100, log
            status = {"Success": "Success", "Failed": "Failed", "Canceled": "Canceled"}.get(
                task["State"], "Failed"
            )
        if tail is not None and tail >= 0:
            shown = shown[-tail:] if tail else []
        started = task.get("StartTime")
        elements = [
            {
                "Category": "Error" if line.startswith("Error") else "Info",
                "OccurredAt": started or task["QueueTime"],
                "MessageText": line,
                "Detail": None,
            }
            for line in shown
        ]
        remaining = None
        if task["State"] == "Executing":
            left = max(0.0, task["_StartedAt"] + task["_ExecSeconds"] - now)
            remaining = f"{int(left) // 3600:02d}:{(int(left) % 3600) // 60:02d}:{int(left) % 60:02d}"
        return {
            "Task": task,
            "Progress": {"ProgressPercentage": pct, "EstimatedTimeRemaining": remaining},
            "PhysicalLogSize": sum(len(x) + 1 for x in log),
            "ActivityLogs": [
                {
                    "Id": f"ServerTask-{task['Id']}",
                    "Name": task.get("Description"),
                    "Started": started,
                    "Ended": task.get("CompletedTime"),
                    "Status": status,
                    "Children": [],
                    "ShowAtSummaryLevel": True,
                    "LogElements": elements,
                    "ProgressPercentage": pct,
                    "ProgressMessage": None,
                }
            ],
        }

    @staticmethod
    def _planned_log(task: Doc) -> list[str]:
        """What an executing task has logged, before its effect's own lines exist."""
        base = list(task.get("_Log") or [])
        kind = task.get("_Kind")
        if kind == "export":
            base += [
                "Collecting the projects and everything they reference",
                "Encrypting sensitive values",
                "Writing the export archive",
            ]
        elif kind == "import":
            base += ["Reading the export archive", "Matching shared resources by name", "Creating projects"]
        return base
