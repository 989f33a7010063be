"""`octowiz sim` serves both instances over loopback; curl with the printed key gets a root document."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_octowiz_sim_serves_both_instances_to_curl() -> None:
    curl = shutil.which("curl")
    if curl is None:
        if os.environ.get("CI"):
            pytest.fail("curl is missing: .ci/run must install it")
        pytest.skip("curl is not installed (apt-get install curl)")
    ports = (_free_port(), _free_port())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "octowiz",
            "sim",
            "--server-port",
            str(ports[0]),
            "--cloud-port",
            str(ports[1]),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        banner = []
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        text = "".join(banner)
        found = re.findall(
            r"Octopus (Server|Cloud)\s+(http://127\.0\.0\.1:\d+)\s+API key (API-[A-Z0-9]+)", text
        )
        assert [f[0] for f in found] == ["Server", "Cloud"], text
        versions = []
        for _, url, key in found:
            api = subprocess.run(
                [curl, "-sf", "-H", f"X-Octopus-ApiKey: {key}", f"{url}/api"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            root = json.loads(api.stdout)
            assert root["Application"] == "Octopus Deploy"
            versions.append(root["Version"])
            me = subprocess.run(
                [curl, "-sf", "-H", f"X-Octopus-ApiKey: {key}", f"{url}/api/users/me"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            assert json.loads(me.stdout)["Id"].startswith("Users-")
        assert versions[0] < versions[1]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Stopped." in out


def test_octowiz_sim_port_in_use_is_a_sentence() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "octowiz",
                "sim",
                "--scenario",
                "empty",
                "--server-port",
                str(port),
                "--cloud-port",
                str(_free_port()),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 1
    assert "Is another program using the port? Choose others with --server-port" in out.stderr
    assert "Traceback" not in out.stderr
