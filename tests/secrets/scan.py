"""Find secrets (API keys, passwords) in bytes, texts, JSON documents and directory trees.

A secret leaks in more shapes than its plain text: a URL carries it percent-encoded, a JSON document
escapes its quotes and backslashes, a Python ``repr`` in a traceback escapes them another way, a
PowerShell ``-EncodedCommand`` carries it as base64 of UTF-16LE, a Windows file holds it as UTF-16.
:func:`forms` lists each shape as the bytes to look for; :class:`Scanner` looks for all of them.

Base64 of a longer text only contains a secret's base64 when the secret starts on a 3-byte
boundary, so each base64 form is computed at the three alignments and trimmed to the characters that
depend on the secret's bytes alone (a secret of n bytes keeps at least ``4n/3 - 2`` of them).

Text forms are matched case-insensitively (an upper- or lower-cased key is still the key); base64,
whose alphabet is case-sensitive, exactly. Fragments (a key without its ``API-`` prefix, or its first or
last three quarters) catch a secret that was cut, as long as what is left is long enough to be unique.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

#: A fragment shorter than this could match by chance (hex digests, base64 blobs): never searched for.
MIN_FRAGMENT = 16


@dataclass(frozen=True)
class Secret:
    """A value that must appear nowhere, and a name to report it by (never the value)."""

    name: str
    value: str


@dataclass(frozen=True)
class Leak:
    """A secret found: which one, in what shape, where, and a few bytes around it (the secret masked)."""

    secret: str
    form: str
    where: str
    context: str

    def __str__(self) -> str:
        return f"{self.secret} ({self.form}) in {self.where}: …{self.context}…"


def _base64_cores(data: bytes, *, urlsafe: bool = False) -> list[bytes]:
    """The base64 characters that encode ``data`` at each of the three byte alignments."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data)
        start = -(-8 * offset // 6)  # the first character made of the secret's bits only
        end = 8 * (offset + len(data)) // 6  # past the last one (later bits belong to what follows)
        core = encoded[start:end]
        if urlsafe:
            core = core.translate(bytes.maketrans(b"+/", b"-_"))
        cores.append(core)
    return cores


def fragments(value: str) -> dict[str, str]:
    """The secret, and the cut-down versions of it still long enough to identify it."""
    out = {"whole": value}
    if value.upper().startswith("API-") and len(value) - 4 >= MIN_FRAGMENT:
        out["without API- prefix"] = value[4:]
    quarter = len(value) // 4
    if len(value) - quarter >= MIN_FRAGMENT and quarter:
        out["first three quarters"] = value[: len(value) - quarter]
        out["last three quarters"] = value[quarter:]
    return out


def forms(value: str) -> list[tuple[str, bytes, bool]]:
    """Every shape of ``value`` to search for: ``(form name, needle, case-insensitive)``.

    Args:
        value: the secret.
    """
    out: list[tuple[str, bytes, bool]] = []
    for part, text in fragments(value).items():
        texts = {
            "plain": text,
            "URL-encoded": quote(text, safe=""),
            "URL-encoded (path)": quote(text),
            "URL-encoded (form)": quote_plus(text),
            "JSON-escaped": json.dumps(text)[1:-1],
            "JSON-escaped (UTF-8)": json.dumps(text, ensure_ascii=False)[1:-1],
            "Python repr": repr(text)[1:-1],
        }
        seen: set[bytes] = set()
        for name, shaped in texts.items():
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                needle = shaped.encode(encoding).lower()
                if needle not in seen:
                    seen.add(needle)
                    label = name if encoding == "utf-8" else f"{name}, {encoding.upper()}"
                    out.append((f"{part}, {label}", needle, True))
        if part != "whole":
            continue  # base64 of a fragment would be short enough to match by chance
        raw = text.encode("utf-8")
        for encoding, data in (
            ("UTF-8", raw),
            ("UTF-16LE (PowerShell -EncodedCommand)", text.encode("utf-16-le")),
        ):
            for urlsafe in (False, True):
                for n, core in enumerate(_base64_cores(data, urlsafe=urlsafe)):
                    label = f"base64{'url' if urlsafe else ''} of {encoding}, alignment {n}"
                    out.append((label, core, False))
        out.append(("hex of UTF-8", raw.hex().encode(), True))
    return out


@dataclass
class Scanner:
    """Searches everything it is given for every form of every secret, and keeps what it found.

    Attributes:
        secrets: what to look for.
        leaks: every match so far.
        scanned: how many places were searched, per kind (``file``, ``stdout``, ``request``…).
    """

    secrets: list[Secret]
    leaks: list[Leak] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for s in self.secrets:
            if len(s.value) < MIN_FRAGMENT:
                raise ValueError(f"the secret {s.name} is too short to search for without chance matches.")
        self._needles = [(s.name, *f) for s in self.secrets for f in forms(s.value)]

    def bytes(self, data: bytes, where: str, kind: str = "bytes") -> list[Leak]:
        """Search raw bytes, and what they hold if they are an archive; returns (and keeps) the leaks."""
        self.scanned[kind] = self.scanned.get(kind, 0) + 1
        lowered = data.lower()
        found: list[Leak] = []
        known = {x.secret for x in self.leaks if x.where == where}
        for name, form, needle, fold in self._needles:
            if name in known or any(x.secret == name for x in found):
                continue  # one report per secret and place: its first shape (the whole before fragments)
            hay = lowered if fold else data
            at = hay.find(needle)
            if at >= 0:
                before = data[max(0, at - 40) : at].decode("utf-8", "replace")
                after = data[at + len(needle) : at + len(needle) + 40].decode("utf-8", "replace")
                found.append(Leak(name, form, where, f"{before}<{name}>{after}"))
        self.leaks += found
        # A compressed member hides its text from a search of the raw bytes: search it unpacked too.
        for member, content in unpacked(data):
            found += self.bytes(content, f"{where} » {member}", "archive member")
        return found

    def text(self, text: str, where: str, kind: str = "text") -> list[Leak]:
        """Search a text (an output, a path, a script)."""
        return self.bytes(text.encode("utf-8", "surrogatepass"), where, kind)

    def document(self, doc: Any, where: str, kind: str = "document") -> list[Leak]:
        """Search a JSON-able document as it would be serialised (both ASCII-escaped and UTF-8)."""
        escaped = json.dumps(doc, default=str)
        plain = json.dumps(doc, default=str, ensure_ascii=False)
        leaks = self.text(escaped, where, kind)
        return leaks + (self.text(plain, where, kind) if plain != escaped else [])

    def tree(self, root: Path, kind: str = "file") -> list[Leak]:
        """Search every file under ``root``, whatever its name or type, as raw bytes; and every name."""
        found = []
        for path in walk(root):
            found += self.text(str(path.relative_to(root)), f"the name {path}", "file name")
            if path.is_file() and not path.is_symlink():
                found += self.bytes(path.read_bytes(), str(path), kind)
        return found

    def assert_clean(self) -> None:
        """Fail with every leak found, one per line (the secrets themselves are masked)."""
        assert not self.leaks, f"{len(self.leaks)} secret(s) leaked:\n" + "\n".join(
            str(x) for x in self.leaks
        )


def unpacked(data: bytes) -> Iterator[tuple[str, bytes]]:
    """The members of a zip (export archives, .nupkg), gzip or tar (packages), or nothing for other bytes."""
    try:
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    if not info.is_dir():
                        yield info.filename, z.read(info)
        elif data[:2] == b"\x1f\x8b":
            yield "(gunzipped)", gzip.decompress(data)
        elif data[257:262] == b"ustar":
            with tarfile.open(fileobj=io.BytesIO(data)) as t:
                for member in t.getmembers():
                    f = t.extractfile(member)
                    if f is not None:
                        yield member.name, f.read()
    except (zipfile.BadZipFile, OSError, EOFError, tarfile.TarError, zlib.error):
        return  # not a well-formed archive after all: its raw bytes were searched


def walk(root: Path) -> Iterator[Path]:
    """Every path under ``root`` (hidden ones too), in a stable order; nothing when it does not exist."""
    if not root.exists():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted([*filenames, *(d for d in dirnames if Path(dirpath, d).is_symlink())]):
            yield Path(dirpath, name)


def files(roots: Iterable[Path]) -> list[Path]:
    """Every file under these directories."""
    return [p for r in roots for p in walk(r) if p.is_file()]
