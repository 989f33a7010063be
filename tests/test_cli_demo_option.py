"""`--demo` and `--reset` work before the command (`octowiz --demo scan`) and after it (`scan --demo`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import octowiz.cli as cli

COMMANDS = {
    "scan": ["scan"],
    "plan": ["plan", "--list"],
    "migrate": ["migrate", "--wave", "wave 1"],
    "status": ["status"],
    "new": ["new", "t", "--source", "https://a.example", "--destination", "https://b.octopus.app"],
}


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[argparse.Namespace]:
    """The arguments each command function receives (the commands themselves do not run)."""
    calls: list[argparse.Namespace] = []

    def record(args: argparse.Namespace) -> int:
        calls.append(args)
        return cli.EXIT_OK

    for name in COMMANDS:
        monkeypatch.setattr(cli, f"_cmd_{name}", record)
    return calls


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_demo_and_reset_are_read_before_and_after_the_command(
    seen: list[argparse.Namespace], command: str
) -> None:
    argv = COMMANDS[command]
    assert cli.main(["--demo", *argv]) == cli.EXIT_OK
    assert cli.main([*argv, "--demo"]) == cli.EXIT_OK
    assert cli.main([*argv, "--demo", "--reset"]) == cli.EXIT_OK
    assert cli.main(["--demo", *argv, "--reset"]) == cli.EXIT_OK
    assert cli.main(argv) == cli.EXIT_OK
    assert [(a.command, a.demo, a.reset) for a in seen] == [
        (command, True, False),
        (command, True, False),
        (command, True, True),
        (command, True, True),
        (command, False, False),
    ]


@pytest.mark.parametrize("argv", [["status", "--reset"], ["--reset", "status"]])
def test_reset_without_demo_is_still_a_usage_error_in_either_position(
    seen: list[argparse.Namespace], argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == cli.EXIT_USAGE
    assert "--reset only goes with --demo" in capsys.readouterr().err
    assert seen == []


def test_status_demo_after_the_command_reads_the_demos_journals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OCTOWIZ_HOME", str(tmp_path))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    urls = [
        "--source",
        "https://octopus.example.internal",
        "--destination",
        "https://octowiz-demo.octopus.app",
    ]
    assert cli.main(["new", "Q3 move", *urls, "--demo"]) == cli.EXIT_OK
    capsys.readouterr()

    assert cli.main(["status", "--format", "json", "--demo"]) == cli.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["name"] == "Q3 move"
    assert report["journal"] == str(tmp_path / "state" / "demo" / "migrations" / "Q3 move.octowiz.sqlite3")
    # Without --demo the real state directory is read: it has no migration.
    assert cli.main(["status"]) == cli.EXIT_FAILED
    assert "There are no migrations yet" in capsys.readouterr().err
