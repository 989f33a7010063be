"""Octopus's own TypeScript client (``@octopusdeploy/api-client``) works against the simulator unchanged.

``tests/ts_client/check.mjs`` drives the official client over real loopback HTTP: it connects, lists
spaces, projects, environments and feeds, pushes a zip it builds itself, lists packages and reads
server tasks, then prints one JSON object. These tests compare what the client saw with the
simulator's own store.

The node dependencies are installed by ``npm ci --prefix tests/ts_client`` (``.ci/run`` must run it).
Without node or them the tests skip locally and fail in CI (env ``CI`` set).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from octowiz.sim.simulator import Endpoint, Simulator

TS_DIR = Path(__file__).resolve().parents[1] / "ts_client"
CHECK = TS_DIR / "check.mjs"
CLIENT_PACKAGE = TS_DIR / "node_modules" / "@octopusdeploy" / "api-client" / "package.json"
INSTALL = (
    "`.ci/run` must run `npm ci --prefix tests/ts_client` to install the official Octopus TypeScript client"
)
SPACE = "Spaces-1"
PACKAGE_ID = "OctowizTsCheck"


def _node() -> str:
    """The node executable, or skip (locally) / fail (in CI) with the install instruction."""
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "node is not installed"
    elif not CLIENT_PACKAGE.is_file():
        problem = "tests/ts_client/node_modules is missing"
    if problem is not None:
        message = f"{problem}: {INSTALL}."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert node is not None
    return node


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Simulator, dict[str, Endpoint]]]:
    sim = Simulator(None, "demo")
    try:
        with sim.serve() as endpoints:
            yield sim, endpoints
    finally:
        sim.close()


def _run_check(node: str, endpoint: Endpoint, workdir: Path, version: str) -> dict[str, Any]:
    env = {**os.environ, "OCTOWIZ_TS_PACKAGE_VERSION": version}
    env.pop("OCTOPUS_API_KEY", None)
    proc = subprocess.run(
        [node, str(CHECK), endpoint.url, endpoint.api_key, "Default", str(workdir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=TS_DIR,
    )
    assert endpoint.api_key not in proc.stdout + proc.stderr, "check.mjs printed the API key"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"check.mjs printed nothing (exit {proc.returncode}); stderr:\n{proc.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    assert result.get("ok") is True and proc.returncode == 0, (
        f"the official client failed against the simulator: {result.get('error')}\n"
        f"requests: {result.get('requests')}\nstderr:\n{proc.stderr}"
    )
    return result


@pytest.mark.parametrize("which", ["server", "cloud"])
def test_official_typescript_client_works_unchanged(
    which: str, served: tuple[Simulator, dict[str, Endpoint]], tmp_path: Path
) -> None:
    node = _node()
    sim, endpoints = served
    inst = sim.instances[which]
    store = inst.store
    version = "1.0.7" if which == "server" else "1.0.8"

    result = _run_check(node, endpoints[which], tmp_path, version)

    # Connected to the right instance.
    assert result["server"]["version"] == inst.config.version
    assert result["server"]["installationId"] == inst.installation_id

    # Spaces: Default is listed and resolves by name.
    assert "Default" in result["spaces"]["names"]
    assert result["spaces"]["total"] == store.count("spaces")
    assert result["spaces"]["resolved"] == {"id": SPACE, "name": "Default"}

    # Projects, environments and feeds of the space: the same counts the simulator holds.
    def in_space(coll: str) -> list[dict[str, Any]]:
        return store.find(coll, lambda d: d.get("SpaceId") == SPACE)

    projects, environments, feeds = in_space("projects"), in_space("environments"), in_space("feeds")
    assert result["projects"]["total"] == len(projects)
    assert sorted(result["projects"]["names"]) == sorted(p["Name"] for p in projects)
    assert result["environments"]["total"] == len(environments)
    assert sorted(result["environments"]["names"]) == sorted(e["Name"] for e in environments)
    assert result["feeds"]["total"] == len(feeds)
    assert sorted(result["feeds"]["names"]) == sorted(f["Name"] for f in feeds)
    assert result["feeds"]["builtIn"] == [f["Id"] for f in feeds if f.get("FeedType") == "BuiltIn"]
    if which == "server":
        assert result["projects"]["total"] > 0 and result["environments"]["total"] > 0
        assert result["projects"]["lookup"]["foundByPartialName"] is True
    else:
        assert result["projects"]["total"] == 0

    # The pushed package is in the built-in feed with the file's size and SHA-1.
    pkg = result["package"]
    file_name = f"{PACKAGE_ID}.{version}.zip"
    assert pkg["fileName"] == file_name
    data = (tmp_path / file_name).read_bytes()
    sha1 = hashlib.sha1(data).hexdigest()
    doc = store.get("packages", f"packages-{PACKAGE_ID}.{version}")
    assert doc is not None, "the uploaded package is not in the simulator's store"
    assert (doc["SpaceId"], doc["PackageId"], doc["Version"], doc["FileExtension"]) == (
        SPACE,
        PACKAGE_ID,
        version,
        ".zip",
    )
    assert doc["PackageSizeBytes"] == len(data) == pkg["sizeBytes"] == pkg["listedSizeBytes"]
    assert doc["Hash"] == sha1 == pkg["sha1"] == pkg["listedHash"]
    blob = store.blob_open(f"package/{SPACE}/{doc['Id']}")
    assert blob is not None
    with blob:
        assert blob.read() == data
    assert pkg["getById"] is True and pkg["listedWithFilter"] == 1 and pkg["versionsOfPackage"] == 1
    uploads = [r for r in inst.requests if r.method == "POST" and "/packages/raw" in r.path]
    assert [r.status for r in uploads][-2:] == [201, 200]  # created, then IgnoreIfExists

    # Server tasks were read: the space's task list, and one task by id with its details.
    tasks = store.find("tasks", lambda t: t.get("SpaceId") in (SPACE, None))
    assert result["tasks"]["total"] == len(tasks)
    assert result["tasks"]["listed"] == min(30, len(tasks))
    if tasks:
        one = result["tasks"]["one"]
        assert one["id"] == result["tasks"]["ids"][0] == one["detailsTaskId"]
        assert store.get("tasks", one["id"]) is not None
        assert one["byIdsCount"] == min(3, len(tasks))
    else:
        assert which == "cloud" and result["tasks"]["one"] is None
    assert any(r.path.startswith(f"/api/{SPACE}/tasks") and r.status == 200 for r in inst.requests)


def test_check_script_reports_failure_without_printing_the_key(
    served: tuple[Simulator, dict[str, Endpoint]], tmp_path: Path
) -> None:
    node = _node()
    _, endpoints = served
    bad_key = "API-FAKENOTAVALIDKEY000000000000"
    proc = subprocess.run(
        [node, str(CHECK), endpoints["server"].url, bad_key, "Default", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=TS_DIR,
    )
    assert proc.returncode == 1
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"] is False and "logged in" in result["error"]
    assert bad_key not in proc.stdout + proc.stderr
