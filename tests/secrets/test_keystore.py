"""The key store over ``keyring``: memory, fail, null, chainer and locked backends, and a real Secret Service.

The real Secret Service is gnome-keyring under its own D-Bus session bus (``dbus-run-session``), run
in a subprocess with its own HOME and XDG directories, so neither this process's environment nor the
user's keyring is touched (CONVENTIONS 13 and 17).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring.backend
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest

from octowiz.engine.context import Context
from octowiz.paths import Paths
from octowiz.secrets import KeyStore, KeyStoreError, backend_status
from octowiz.secrets.keystore import SERVICE
from octowiz.sim.keys import SERVER_ADMIN

SERVER = "https://octopus.example.com"
CLOUD = "https://example.octopus.app"
KEY = "API-FAKEMEMORYKEY000000000000001"
OTHER_KEY = "API-FAKEMEMORYKEY000000000000002"
ENV_VARS = ("OCTOWIZ_SOURCE_API_KEY", "OCTOWIZ_DESTINATION_API_KEY")


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps passwords in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("No such password!")


class LockedKeyring(keyring.backend.KeyringBackend):
    """A keyring whose collection is locked and stays locked (the user dismissed the prompt)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")


@pytest.fixture(autouse=True)
def _no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


def _fail() -> keyring.backend.KeyringBackend:
    return keyring.backends.fail.Keyring()  # type: ignore[no-untyped-call]


def _null() -> keyring.backend.KeyringBackend:
    return keyring.backends.null.Keyring()  # type: ignore[no-untyped-call]


def _chainer() -> keyring.backends.chainer.ChainerBackend:
    return keyring.backends.chainer.ChainerBackend()  # type: ignore[no-untyped-call]


def _files_text(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file())


# -- in memory -------------------------------------------------------------------------------------


def test_set_get_forget_and_urls(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    store = KeyStore(tmp_path / "config", backend)
    assert store.status().usable
    assert store.urls() == [] and store.get(SERVER) is None
    assert not (tmp_path / "config").exists()  # nothing is written before a key is stored

    store.set(SERVER, KEY)
    store.set(CLOUD, OTHER_KEY)
    assert store.get(SERVER) == KEY and store.get(CLOUD) == OTHER_KEY
    assert backend.passwords == {(SERVICE, SERVER): KEY, (SERVICE, CLOUD): OTHER_KEY}
    assert store.urls() == sorted([SERVER, CLOUD])
    assert KeyStore(tmp_path / "config", backend).get(SERVER) == KEY  # another store, same keyring

    assert store.forget(SERVER) is True
    assert store.get(SERVER) is None and store.urls() == [CLOUD]
    assert store.forget(SERVER) is False  # forgetting twice is harmless
    store.set(SERVER, KEY)
    assert sorted(store.forget_all()) == sorted([SERVER, CLOUD])
    assert store.urls() == [] and backend.passwords == {}
    assert store.forget_all() == []


def test_one_key_per_server_whatever_the_url_looks_like(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    first = KeyStore(tmp_path, backend)
    first.set("https://Octopus.Example.com/api/", KEY)
    assert backend.passwords == {(SERVICE, SERVER): KEY}
    # A second migration from the same Server, pasted differently, finds the same key.
    second = KeyStore(tmp_path, backend)
    for url in (
        "https://octopus.example.com",
        "octopus.example.com/",
        "https://OCTOPUS.example.com/app#/Spaces-1",
    ):
        assert second.get(url) == KEY
    second.set("https://octopus.example.com/", OTHER_KEY)  # replaces, does not add
    assert backend.passwords == {(SERVICE, SERVER): OTHER_KEY}
    assert second.urls() == [SERVER]
    assert first.forget("octopus.example.com/api") is True
    assert backend.passwords == {} and second.urls() == []


def test_the_index_holds_urls_and_never_a_key(tmp_path: Path) -> None:
    config = tmp_path / "config"
    store = KeyStore(config, MemoryKeyring())
    store.set(SERVER, KEY)
    store.set(CLOUD, OTHER_KEY)
    files = [p for p in config.rglob("*") if p.is_file()]
    assert [p.name for p in files] == ["stored-keys.json"]
    assert json.loads(files[0].read_text()) == sorted([SERVER, CLOUD])
    text = _files_text(config)
    assert KEY not in text and OTHER_KEY not in text
    store.forget(SERVER)
    assert json.loads(files[0].read_text()) == [CLOUD]


def test_a_damaged_index_means_no_urls(tmp_path: Path) -> None:
    (tmp_path / "stored-keys.json").write_text("{not json")
    store = KeyStore(tmp_path, MemoryKeyring())
    assert store.urls() == []
    store.set(SERVER, KEY)
    assert store.urls() == [SERVER]


# -- backends that cannot keep a key ---------------------------------------------------------------

UNUSABLE = ["fail", "null", "chainer", "empty-chainer", "locked"]


def _unusable_backend(kind: str, monkeypatch: pytest.MonkeyPatch) -> keyring.backend.KeyringBackend:
    if kind == "fail":
        return _fail()
    if kind == "null":
        return _null()
    if kind == "chainer":
        # ChainerBackend.backends is a read-only class property (it discovers installed backends);
        # replace it on the class (monkeypatch restores the property) with a chain of only fail and null.
        monkeypatch.setattr(
            keyring.backends.chainer.ChainerBackend,
            "backends",
            [_fail(), _null()],
        )
        chain = _chainer()
        inner = [type(b).__module__ for b in chain.backends]
        assert inner == ["keyring.backends.fail", "keyring.backends.null"]
        return chain
    if kind == "empty-chainer":
        # keyring's own limit hook filters every discovered backend out: the chain is empty.
        monkeypatch.setattr(keyring.backend, "_limit", lambda _kr: False)
        chain = _chainer()
        assert list(chain.backends) == []
        return chain
    assert kind == "locked"
    return LockedKeyring()


EXPECTED_REASON = {
    "fail": "no keyring is available on this machine",
    "null": "the keyring is switched off",
    "chainer": "no keyring is available on this machine",
    "empty-chainer": "no keyring is available on this machine",
    "locked": "the keyring is locked: unlock it",
}


@pytest.mark.parametrize("kind", UNUSABLE)
def test_unusable_backends_are_detected_and_explained(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = _unusable_backend(kind, monkeypatch)
    status = backend_status(backend)
    assert status.usable is False
    assert status.reason.startswith(EXPECTED_REASON[kind]), status.reason
    assert "Error" not in status.reason and "Traceback" not in status.reason
    assert status.name.startswith("keyring.backends.") or kind == "locked"

    store = KeyStore(tmp_path / "config", backend)
    assert store.status() == status
    with pytest.raises(KeyStoreError) as caught:
        store.set(SERVER, KEY)
    message = str(caught.value)
    assert message.startswith("The API key cannot be stored: " + EXPECTED_REASON[kind])
    assert "OCTOWIZ_SOURCE_API_KEY" in message and "OCTOWIZ_DESTINATION_API_KEY" in message
    assert KEY not in message
    assert store.get(SERVER) is None
    assert store.urls() == []
    assert not (tmp_path / "config").exists()  # nothing written, least of all the key


def test_the_configured_backend_is_checked_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring, "get_keyring", _null)
    assert backend_status().usable is False
    monkeypatch.setattr(keyring, "get_keyring", MemoryKeyring)
    assert backend_status().usable is True


def test_a_keyring_locked_since_the_key_was_stored_keeps_it_listed(tmp_path: Path) -> None:
    """Forgetting through a locked keyring cannot delete the key, so it must not claim to have."""
    store = KeyStore(tmp_path, MemoryKeyring())
    store.set(SERVER, KEY)
    locked = KeyStore(tmp_path, LockedKeyring())
    assert locked.get(SERVER) is None
    assert locked.forget(SERVER) is False
    assert locked.forget_all() == []
    assert locked.urls() == [SERVER]  # still in the keyring, so still listed
    assert store.get(SERVER) == KEY


def test_keys_cli_with_a_locked_keyring_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from octowiz.cli import main

    monkeypatch.setenv("OCTOWIZ_HOME", str(tmp_path))
    backend = MemoryKeyring()
    KeyStore(tmp_path / "config", backend).set(SERVER, KEY)
    monkeypatch.setattr(keyring, "get_keyring", LockedKeyring)
    assert main(["keys", "list"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{SERVER}\n" and err.startswith("No usable OS keyring: the keyring is locked")
    for argv in (["keys", "forget", "--all"], ["keys", "forget", SERVER], ["keys", "set", SERVER]):
        assert main(argv) == 1
        out, err = capsys.readouterr()
        assert out == "" and "the keyring is locked" in err and "\n" not in err.strip(), argv
    assert backend.passwords == {(SERVICE, SERVER): KEY}
    assert KeyStore(tmp_path / "config", backend).urls() == [SERVER]


# -- Context.key_for -------------------------------------------------------------------------------


def _context(tmp_path: Path, backend: keyring.backend.KeyringBackend | None, **kw: object) -> Context:
    paths = Paths(state=tmp_path / "state", config=tmp_path / "config", logs=tmp_path / "logs")
    store = KeyStore(paths.config, backend) if backend is not None else None
    return Context(paths=paths, migrations_dir=paths.migrations, keystore=store, **kw)  # type: ignore[arg-type]


def test_key_for_prefers_keyring_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryKeyring()
    ctx = _context(tmp_path, backend)
    assert ctx.key_for(SERVER, "source") == (None, "none")
    monkeypatch.setenv("OCTOWIZ_SOURCE_API_KEY", "  API-FAKEFROMENV00000000000  ")
    assert ctx.key_for(SERVER, "source") == ("API-FAKEFROMENV00000000000", "environment")
    # the source's variable is not the destination's
    assert ctx.key_for(CLOUD, "destination") == (None, "none")
    monkeypatch.setenv("OCTOWIZ_DESTINATION_API_KEY", "API-FAKEDESTENV00000000000")
    assert ctx.key_for(CLOUD, "destination") == ("API-FAKEDESTENV00000000000", "environment")
    assert ctx.keystore is not None
    ctx.keystore.set(SERVER, KEY)
    assert ctx.key_for("https://Octopus.Example.com/api", "source") == (KEY, "keyring")


def test_key_for_session_keys_come_before_the_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = MemoryKeyring()
    ctx = _context(tmp_path, backend, session_keys={SERVER: "API-FAKESESSION000000000000"})
    assert ctx.keystore is not None
    ctx.keystore.set(SERVER, KEY)
    monkeypatch.setenv("OCTOWIZ_SOURCE_API_KEY", "API-FAKEFROMENV00000000000")
    assert ctx.key_for("octopus.example.com/", "source") == ("API-FAKESESSION000000000000", "session")
    assert ctx.key_for(CLOUD, "source") == ("API-FAKEFROMENV00000000000", "environment")


def test_key_for_demo_keys_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCTOWIZ_SOURCE_API_KEY", "API-FAKEFROMENV00000000000")
    ctx = _context(
        tmp_path,
        None,
        demo=True,
        demo_keys={SERVER: SERVER_ADMIN.api_key},
        session_keys={SERVER: "API-FAKESESSION000000000000"},
    )
    assert ctx.key_for("https://octopus.example.com/api/", "source") == (SERVER_ADMIN.api_key, "demo")
    assert ctx.key_for(CLOUD, "source") == (None, "demo")  # the demo never falls back to real keys


@pytest.mark.parametrize("kind", UNUSABLE)
def test_key_for_with_an_unusable_keyring(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _context(tmp_path, _unusable_backend(kind, monkeypatch))
    assert ctx.key_for(SERVER, "source") == (None, "none")
    monkeypatch.setenv("OCTOWIZ_SOURCE_API_KEY", "API-FAKEFROMENV00000000000")
    assert ctx.key_for(SERVER, "source") == ("API-FAKEFROMENV00000000000", "environment")


def test_key_for_a_url_that_is_not_one(tmp_path: Path) -> None:
    ctx = _context(tmp_path, MemoryKeyring(), session_keys={SERVER: KEY})
    assert ctx.key_for("not a url", "source") == (None, "none")
    assert ctx.key_for("", "source") == (None, "none")


# -- the real Secret Service (gnome-keyring on a private D-Bus session bus) ------------------------

APT = "apt-get install -y gnome-keyring dbus dbus-bin libsecret-1-0"
# gnome-keyring creates (and unlocks) the login collection only from a non-empty password on stdin;
# with an empty one there is no default collection and every request asks a prompter that cannot run.
SESSION = (
    "printf octowiz-test-only | gnome-keyring-daemon --unlock --components=secrets >/dev/null "
    '&& exec "$0" "$@"'
)


def _require_secret_service() -> None:
    missing = [tool for tool in ("dbus-run-session", "gnome-keyring-daemon") if shutil.which(tool) is None]
    if not missing:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{' and '.join(missing)} missing: .ci/run must install gnome-keyring and dbus ({APT})")
    pytest.skip(f"{' and '.join(missing)} not installed; to run this test: {APT}")


def _session_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no display (no unlock prompt can appear), private HOME and XDG dirs."""
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir(exist_ok=True)
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _in_secret_service(tmp_path: Path, script: str, *args: str, **env: str) -> dict[str, object]:
    """Run a Python script under dbus-run-session with gnome-keyring; return the JSON it prints last."""
    path = tmp_path / "script.py"
    path.write_text(script)
    done = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", SESSION, sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_session_env(tmp_path, **env),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    result: dict[str, object] = json.loads(lines[-1])
    return result


REAL_KEYSTORE = r"""
import json, sys
from pathlib import Path

import keyring
import keyring.backends.SecretService
import secretstorage

from octowiz.secrets import KeyStore, backend_status

config, key = Path(sys.argv[1]), sys.argv[2]
keyring.set_keyring(keyring.backends.SecretService.Keyring())
out = {}
status = backend_status()
out["usable"], out["name"] = status.usable, status.name
KeyStore(config).set("https://Octopus.Example.com/api/", key)
fresh = KeyStore(config)
out["read_back"] = fresh.get("https://octopus.example.com") == key
out["raw"] = keyring.get_password("octowiz", "https://octopus.example.com") == key
out["urls"] = fresh.urls()
out["forgot"] = fresh.forget("octopus.example.com")
out["after"] = KeyStore(config).get("https://octopus.example.com")
out["raw_after"] = keyring.get_password("octowiz", "https://octopus.example.com")
out["urls_after"] = KeyStore(config).urls()

# Lock the collection; with no display nothing can prompt to unlock it, as when a user dismisses it.
KeyStore(config).set("https://octopus.example.com", key)
bus = secretstorage.dbus_init()
collection = secretstorage.get_default_collection(bus)
collection.lock()
out["collection_locked"] = collection.is_locked()
status = backend_status()
out["locked_usable"], out["locked_reason"] = status.usable, status.reason
out["locked_get"] = KeyStore(config).get("https://octopus.example.com")
try:
    KeyStore(config).set("https://octopus.example.com", key)
    out["locked_set"] = "stored"
except Exception as exc:
    out["locked_set"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


def test_real_secret_service_stores_reads_and_forgets(tmp_path: Path) -> None:
    _require_secret_service()
    key = "API-FAKEREALSECRETSERVICE0000000"
    config = tmp_path / "octowiz-config"
    out = _in_secret_service(tmp_path, REAL_KEYSTORE, str(config), key)
    assert out["usable"] is True and out["name"] == "keyring.backends.SecretService.Keyring", out
    assert out["read_back"] is True and out["raw"] is True
    assert out["urls"] == [SERVER]
    assert out["forgot"] is True
    assert out["after"] is None and out["raw_after"] is None and out["urls_after"] == []
    assert out["collection_locked"] is True
    assert out["locked_usable"] is False
    assert str(out["locked_reason"]).startswith("the keyring is locked"), out
    assert out["locked_get"] is None
    locked_set = "KeyStoreError: The API key cannot be stored: the keyring is locked"
    assert str(out["locked_set"]).startswith(locked_set), out
    assert key not in _files_text(config)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sim_ports() -> Iterator[tuple[int, int]]:
    """`octowiz sim --scenario empty` over loopback, as a separate process."""
    ports = (_free_port(), _free_port())
    proc = subprocess.Popen(
        [sys.executable, "-m", "octowiz", "sim", "--scenario", "empty",
         "--server-port", str(ports[0]), "--cloud-port", str(ports[1])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("Press Ctrl+C"):
                break
        else:
            pytest.fail(f"octowiz sim did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield ports
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)


CLI_DRIVER = r"""
import json, subprocess, sys

import keyring

server, cloud, good, wrong = sys.argv[1:5]
steps = []


def octowiz(*args, stdin=""):
    done = subprocess.run([sys.executable, "-m", "octowiz", "keys", *args], input=stdin,
                          capture_output=True, text=True, timeout=30)
    steps.append({"args": list(args), "rc": done.returncode, "out": done.stdout, "err": done.stderr})


octowiz("list")
octowiz("forget", "--all")
octowiz("set", server + "/api/", stdin=good + "\n")
octowiz("list")
octowiz("set", cloud, stdin=wrong + "\n")
octowiz("set", server, stdin=wrong + "\n")
octowiz("list")
stored = {"server": keyring.get_password("octowiz", server), "cloud": keyring.get_password("octowiz", cloud)}
octowiz("forget", "--all")
octowiz("list")
gone = keyring.get_password("octowiz", server)
print(json.dumps({"steps": steps, "backend": type(keyring.get_keyring()).__name__,
                  "stored": stored, "gone": gone}))
"""


def test_keys_cli_with_the_real_secret_service(tmp_path: Path, sim_ports: tuple[int, int]) -> None:
    _require_secret_service()
    server = f"http://127.0.0.1:{sim_ports[0]}"
    cloud = f"http://127.0.0.1:{sim_ports[1]}"
    good, wrong = SERVER_ADMIN.api_key, "API-WRONG0000000000000"
    home = tmp_path / "octowiz-home"
    out = _in_secret_service(
        tmp_path,
        CLI_DRIVER,
        server,
        cloud,
        good,
        wrong,
        OCTOWIZ_HOME=str(home),
        PYTHON_KEYRING_BACKEND="keyring.backends.SecretService.Keyring",
    )
    assert out["backend"] == "Keyring"
    steps = out["steps"]
    assert isinstance(steps, list)
    for step in steps:
        assert "Traceback" not in step["err"], step
        assert good not in step["out"] + step["err"] and wrong not in step["out"] + step["err"], step
    empty_list, forget_none, stored, listed, wrong_cloud, wrong_server, listed_after, forget_one, final = (
        steps
    )

    assert (empty_list["rc"], empty_list["out"], empty_list["err"]) == (0, "No API keys are stored.\n", "")
    assert (forget_none["rc"], forget_none["out"].strip()) == (0, "No API keys were stored.")
    assert stored["rc"] == 0, stored
    who = SERVER_ADMIN.display_name
    assert stored["out"].strip() == f"Stored the key for {server} (it belongs to {who})."
    assert (listed["rc"], listed["out"]) == (0, f"{server}\n")

    for step in (wrong_cloud, wrong_server):
        assert step["rc"] != 0, step
        err = step["err"].strip()
        assert err.startswith("octowiz: ") and "\n" not in err and err.endswith((".", ".)")), step
        assert "did not accept the API key" in err
        assert step["out"] == ""
    assert listed_after["out"] == f"{server}\n"  # the cloud got nothing
    assert out["stored"] == {"server": good, "cloud": None}  # and the wrong key overwrote nothing

    assert (forget_one["rc"], forget_one["out"].strip()) == (0, "Forgot 1 key(s).")
    assert final["out"] == "No API keys are stored.\n"
    assert out["gone"] is None
    text = _files_text(home)
    assert good not in text and wrong not in text
