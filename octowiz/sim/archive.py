"""Project export archives as Octopus builds them, and their import into a space.

The archive layout follows a real 2024.4 export (``shared/octopus-samples/export-archive-*``):
``manifest.json`` (``SchemaVersions``, ``Entries``, ``Hello``), ``server-version``, ``version``,
``checksum``, and one JSON document per exported resource named ``<Id>-<suffix>.json``, where every
id inside the archive carries the same 32-hex suffix. Sensitive values are AES-128-CBC encrypted
with a key derived from the export password by PBKDF2-SHA1 (1000 rounds, salt ``Octopuss``), written
as ``base64(ciphertext)|base64(iv)`` (the format the public octopus-deploy-decryptor reads).
``Hello`` is such a value of a known text and serves as the password check.

Like Octopus, an export carries the project and its dependency web (process, variables, channels,
lifecycles, environments, library variable sets, tenants, accounts, certificates, runbooks, referenced
projects, releases) but not packages, logos, triggers, targets, workers or users.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from octowiz.sim.store import Store

Doc = dict[str, Any]

_SALT = b"Octopuss"
_HELLO = "Hello from Octopus Deploy"
#: Export fails above this many releases in one project (OctopusDeploy/Issues#8240).
MAX_RELEASES = 2100
#: Names of the database migration scripts, as a real manifest lists them (truncated, shape only).
_SCHEMA_VERSIONS = [
    "Script0480AddServerTaskIndexes",
    "Script0481AddLiveStatusTables",
    "Script0482SwapServerTaskIdForDeploymentIdOnObservabilityDesiredResource",
    "Script0483AddApplicationInstanceIdToLiveResourcePKey",
]


class ArchiveError(Exception):
    """An archive that cannot be read: corrupt, truncated, or the wrong password."""


class ExportFailure(Exception):
    """Octopus refuses to export (the message is what its task log says)."""


class ImportFailure(Exception):
    """Octopus refuses to import (the message is what its task log says)."""


# -- crypto -------------------------------------------------------------------------------------


def derive_key(password: str) -> bytes:
    """The AES-128 key Octopus derives from an export password."""
    kdf = PBKDF2HMAC(algorithm=hashes.SHA1(), length=16, salt=_SALT, iterations=1000)
    return kdf.derive(password.encode("utf-8"))


def encrypt(key: bytes, text: str) -> str:
    """Encrypt ``text`` as ``base64(ciphertext)|base64(iv)``."""
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    data = padder.update(text.encode("utf-8")) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ct = enc.update(data) + enc.finalize()
    return base64.b64encode(ct).decode() + "|" + base64.b64encode(iv).decode()


def decrypt(key: bytes, value: str) -> str:
    """Decrypt a ``ciphertext|iv`` value; raises :class:`ArchiveError` on a wrong key."""
    try:
        ct_b64, iv_b64 = value.split("|", 1)
        dec = Cipher(algorithms.AES(key), modes.CBC(base64.b64decode(iv_b64))).decryptor()
        data = dec.update(base64.b64decode(ct_b64)) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(data) + unpadder.finalize()).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError("cannot decrypt") from exc


# -- export -------------------------------------------------------------------------------------


@dataclass
class _Collected:
    docs: dict[str, tuple[str, str, Doc, str | None]] = field(
        default_factory=dict
    )  # id -> (type, export type, doc, parent)

    def add(
        self, doc_type: str, doc: Doc | None, parent: str | None = None, export_type: str = "FullDocument"
    ) -> bool:
        if doc is None or doc["Id"] in self.docs:
            return False
        self.docs[doc["Id"]] = (doc_type, export_type, doc, parent)
        return True


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _collect_project(store: Store, space_id: str, project: Doc, out: _Collected) -> None:
    pid = project["Id"]
    if not out.add("Project", project):
        return
    out.add("ProjectGroup", store.get("projectgroups", project.get("ProjectGroupId", "")))
    lifecycle_ids = {project.get("LifecycleId")}
    for ch in store.find("channels", lambda d: d.get("ProjectId") == pid):
        out.add("Channel", ch, parent=pid)
        if ch.get("LifecycleId"):
            lifecycle_ids.add(ch["LifecycleId"])
    env_ids: set[str] = set()
    for lid in lifecycle_ids:
        lc = store.get("lifecycles", lid or "")
        if lc is None:
            continue
        out.add("Lifecycle", lc)
        # Environments reached through phases; the default lifecycle (no phases) reaches none,
        # which is why its projects arrive without environments (Octopus documents this).
        for phase in lc.get("Phases") or []:
            env_ids.update(phase.get("AutomaticDeploymentTargets") or [])
            env_ids.update(phase.get("OptionalDeploymentTargets") or [])
    process = store.get("deploymentprocesses", project.get("DeploymentProcessId", ""))
    variable_sets = [store.get("variables", project.get("VariableSetId", ""))]
    runbooks = store.find("runbooks", lambda d: d.get("ProjectId") == pid)
    processes = [process] + [store.get("runbookprocesses", r.get("RunbookProcessId", "")) for r in runbooks]
    out.add("DeploymentProcess", process, parent=pid)
    for rb in runbooks:
        out.add("Runbook", rb, parent=pid)
    for rp in processes[1:]:
        out.add("RunbookProcess", rp, parent=pid)
    for lvs_id in project.get("IncludedLibraryVariableSetIds") or []:
        lvs = store.get("libraryvariablesets", lvs_id)
        if lvs is not None:
            out.add("LibraryVariableSet", lvs)
            variable_sets.append(store.get("variables", lvs.get("VariableSetId", "")))
    for vs in variable_sets:
        if vs is None:
            continue
        out.add("VariableSet", vs, parent=vs.get("OwnerId"))
        for var in vs.get("Variables") or []:
            env_ids.update((var.get("Scope") or {}).get("Environment") or [])
            if var.get("Type") in (
                "AmazonWebServicesAccount",
                "AzureAccount",
                "GoogleCloudAccount",
                "UsernamePasswordAccount",
            ):
                out.add("Account", store.get("accounts", str(var.get("Value") or "")))
            if var.get("Type") == "Certificate":
                out.add("Certificate", store.get("certificates", str(var.get("Value") or "")))
    for tenant in store.find("tenants", lambda d: pid in (d.get("ProjectEnvironments") or {})):
        out.add("Tenant", tenant)
        env_ids.update((tenant.get("ProjectEnvironments") or {}).get(pid) or [])
    for env_id in sorted(env_ids):
        out.add("Environment", store.get("environments", env_id))
    for proc in processes:
        if proc is None:
            continue
        for text in _strings(proc.get("Steps") or []):
            if text.startswith("WorkerPools-"):
                out.add("WorkerPool", store.get("workerpools", text), export_type="Reference")
            elif text.startswith("Feeds-"):
                out.add("Feed", store.get("feeds", text), export_type="Reference")
            elif text.startswith("Accounts-"):
                out.add("Account", store.get("accounts", text))
        for step in proc.get("Steps") or []:
            for action in step.get("Actions") or []:
                ref = (action.get("Properties") or {}).get("Octopus.Action.DeployRelease.ProjectId")
                other = store.get("projects", str(ref or ""))
                if other is not None:
                    _collect_project(store, space_id, other, out)
    releases = store.find("releases", lambda d: d.get("ProjectId") == pid)
    if len(releases) > MAX_RELEASES:
        raise ExportFailure(
            f"The project '{project.get('Name')}' has {len(releases)} releases. The incoming request has too "
            "many parameters. The server supports a maximum of 2100 parameters. Reduce the number of "
            "parameters and resend the request."
        )
    for rel in releases:
        out.add("Release", rel, parent=pid)


def build_export(
    store: Store, space_id: str, project_ids: list[str], password: str, server_version: str
) -> tuple[str, bytes]:
    """Build the export archive for ``project_ids``.

    Returns:
        ``(file name, zip bytes)``.

    Raises:
        ExportFailure: a project is missing or cannot be exported.
    """
    out = _Collected()
    for pid in project_ids:
        project = store.get("projects", pid)
        if project is None or project.get("SpaceId") != space_id:
            raise ExportFailure(f"The project {pid} could not be found in {space_id}.")
        _collect_project(store, space_id, project, out)
    key = derive_key(password)
    suffix = (
        hashlib.md5(f"{space_id}|{','.join(project_ids)}|{os.urandom(8).hex()}".encode()).hexdigest().upper()
    )

    def sfx(value: str) -> str:
        return f"{value}-{suffix}"

    known = set(out.docs) | {space_id}

    def rewrite(value: Any) -> Any:
        if isinstance(value, str):
            return sfx(value) if value in known else value
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        if isinstance(value, dict):
            return {(sfx(k) if k in known else k): rewrite(v) for k, v in value.items()}
        return value

    buf = io.BytesIO()
    entries: list[Doc] = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for doc_id, (doc_type, export_type, doc, parent) in out.docs.items():
            body = copy.deepcopy({k: v for k, v in doc.items() if not k.startswith("_")})
            if doc_type == "VariableSet":
                for var, orig in zip(body.get("Variables") or [], doc.get("Variables") or [], strict=False):
                    if var.get("IsSensitive") or var.get("Type") == "Sensitive":
                        secret = orig.get("_SensitiveValue")
                        var["Value"] = encrypt(key, secret) if secret is not None else None
                        var.pop("_SensitiveValue", None)
            if doc_type == "Tenant":
                # Only connections to exported projects travel; others name projects the archive lacks.
                body["ProjectEnvironments"] = {
                    k: v for k, v in (body.get("ProjectEnvironments") or {}).items() if k in known
                }
            body = rewrite(body)
            data = json.dumps(body, indent=2).encode("utf-8")
            name = f"{sfx(doc_id)}.json"
            zf.writestr(name, data)
            entries.append(
                {
                    "Id": sfx(doc_id),
                    "Name": doc.get("Name") or doc.get("Version") or doc_id,
                    "DocumentType": doc_type,
                    "ExportType": export_type,
                    "DocumentSource": name,
                    "ParentId": sfx(parent) if parent and parent in known else None,
                    "Hash": hashlib.sha1(data).hexdigest(),
                }
            )
        manifest = {"SchemaVersions": _SCHEMA_VERSIONS, "Entries": entries, "Hello": encrypt(key, _HELLO)}
        manifest_bytes = json.dumps(manifest, indent=2).encode("utf-8")
        zf.writestr("manifest.json", manifest_bytes)
        zf.writestr("server-version", server_version)
        zf.writestr("version", "2.0.0")
        zf.writestr("checksum", hashlib.sha1(manifest_bytes).hexdigest())
    return f"Octopus-Export-{suffix[:8]}.zip", buf.getvalue()


# -- reading and importing ----------------------------------------------------------------------


@dataclass
class Archive:
    """An opened, verified archive: its documents by type, ids still suffixed."""

    manifest: Doc
    server_version: str
    docs: dict[str, tuple[str, Doc]]  # id -> (DocumentType, document)
    key: bytes

    def of_type(self, doc_type: str) -> list[Doc]:
        """Documents of one ``DocumentType``, in manifest order."""
        return [d for t, d in self.docs.values() if t == doc_type]


def read_archive(data: bytes, password: str) -> Archive:
    """Open and verify an archive.

    Raises:
        ArchiveError: not a zip, a member missing or altered, or the password does not open it.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        manifest_bytes = zf.read("manifest.json")
        manifest = json.loads(manifest_bytes)
        checksum = zf.read("checksum").decode().strip()
        server_version = zf.read("server-version").decode().strip()
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, zlib.error) as exc:
        raise ArchiveError("The uploaded file is not a valid Octopus export archive.") from exc
    if hashlib.sha1(manifest_bytes).hexdigest() != checksum:
        raise ArchiveError("The export archive is corrupt: its checksum does not match its manifest.")
    key = derive_key(password)
    try:
        hello = decrypt(key, manifest.get("Hello", ""))
    except ArchiveError:
        hello = ""
    if hello != _HELLO:
        raise ArchiveError("The password provided does not match the password used to export the projects.")
    docs: dict[str, tuple[str, Doc]] = {}
    for entry in manifest.get("Entries", []):
        source = entry.get("DocumentSource")
        try:
            raw = zf.read(source)
        except KeyError as exc:
            raise ArchiveError(f"The export archive is missing {source}.") from exc
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
            raise ArchiveError(f"The export archive is corrupt: {source} cannot be read.") from exc
        if hashlib.sha1(raw).hexdigest() != entry.get("Hash"):
            raise ArchiveError(f"The export archive is corrupt: {source} was altered.")
        docs[entry["Id"]] = (entry["DocumentType"], json.loads(raw))
    return Archive(manifest=manifest, server_version=server_version, docs=docs, key=key)


_MATCH_BY_NAME = {
    "ProjectGroup": "projectgroups",
    "Lifecycle": "lifecycles",
    "Environment": "environments",
    "LibraryVariableSet": "libraryvariablesets",
    "Tenant": "tenants",
    "Account": "accounts",
    "Certificate": "certificates",
    "WorkerPool": "workerpools",
    "Feed": "feeds",
}


def _named(space_id: str, name: Any) -> Callable[[Doc], bool]:
    """A predicate: the document is in ``space_id`` and called ``name``."""
    return lambda d: d.get("SpaceId") == space_id and d.get("Name") == name


def preview_import(store: Store, space_id: str, archive: Archive) -> Doc:
    """The ``ProjectImportPreviewResponse`` for an archive (names of what it brings)."""

    def names(doc_type: str) -> list[str]:
        return sorted({d.get("Name", "") for d in archive.of_type(doc_type)})

    pools = []
    for d in archive.of_type("WorkerPool"):
        existing = store.first("workerpools", _named(space_id, d.get("Name")))
        target = existing or d
        pools.append(
            {
                "Name": d.get("Name"),
                "Type": target.get("WorkerPoolType", "StaticWorkerPool"),
                "IsDynamic": target.get("WorkerPoolType") == "DynamicWorkerPool",
            }
        )
    projects = []
    for p in archive.of_type("Project"):
        pid = p["Id"]
        projects.append(
            {
                "Name": p.get("Name"),
                "Channels": sorted(
                    c.get("Name", "") for c in archive.of_type("Channel") if c.get("ProjectId") == pid
                ),
                "Runbooks": sorted(
                    r.get("Name", "") for r in archive.of_type("Runbook") if r.get("ProjectId") == pid
                ),
            }
        )
    return {
        "Accounts": [
            {"Name": d.get("Name"), "Type": d.get("AccountType")} for d in archive.of_type("Account")
        ],
        "Certificates": names("Certificate"),
        "Environments": names("Environment"),
        "Feeds": [{"Name": d.get("Name"), "Type": d.get("FeedType")} for d in archive.of_type("Feed")],
        "Lifecycles": names("Lifecycle"),
        "Projects": projects,
        "WorkerPools": pools,
    }


def apply_import(store: Store, space_id: str, archive: Archive, *, cloud: bool) -> list[str]:
    """Create the archive's projects and dependencies in ``space_id``, all or nothing.

    Returns:
        The task log lines.

    Raises:
        ImportFailure: a project already exists, or a reference cannot be resolved.
    """
    log: list[str] = []
    for p in archive.of_type("Project"):
        name = p.get("Name")
        if store.first("projects", _named(space_id, name)):
            raise ImportFailure(
                f"The project '{name}' already exists in the target space. Projects that already exist "
                "cannot be imported."
            )
    id_map: dict[str, str] = {}
    pending: list[tuple[str, Doc]] = []  # (collection, doc) to write after everything resolves
    default_pool = store.first(
        "workerpools", lambda d: d.get("SpaceId") == space_id and bool(d.get("IsDefault"))
    )

    merged_tenants: list[tuple[Doc, Doc]] = []  # (existing tenant, archived tenant)
    # Shared resources: match by name, else create.
    for doc_type, coll in _MATCH_BY_NAME.items():
        for d in archive.of_type(doc_type):
            name = d.get("Name")
            existing = store.first(coll, _named(space_id, name))
            if existing is not None:
                id_map[d["Id"]] = existing["Id"]
                log.append(f"Matched {doc_type.lower()} '{name}' by name")
                if doc_type == "Tenant":
                    merged_tenants.append((existing, d))
                continue
            if doc_type == "Feed":
                raise ImportFailure(f"The feed '{name}' does not exist in the target space.")
            prefix = {
                "ProjectGroup": "ProjectGroups",
                "Lifecycle": "Lifecycles",
                "Environment": "Environments",
                "LibraryVariableSet": "LibraryVariableSets",
                "Tenant": "Tenants",
                "Account": "Accounts",
                "Certificate": "Certificates",
                "WorkerPool": "WorkerPools",
            }[doc_type]
            id_map[d["Id"]] = store.next_id(prefix)
            if doc_type == "WorkerPool":
                d = {
                    "Id": d["Id"],
                    "Name": name,
                    "Description": d.get("Description", ""),
                    "WorkerPoolType": "StaticWorkerPool",
                    "IsDefault": False,
                    "CanAddWorkers": True,
                    "SortOrder": store.count("workerpools") + 1,
                    "SpaceId": d.get("SpaceId"),
                }
                log.append(f"Created worker pool '{name}' (empty: workers are not exported)")
            else:
                log.append(f"Created {doc_type.lower()} '{name}'")
            pending.append((coll, d))
    owned = {
        "Project": ("projects", "Projects"),
        "Channel": ("channels", "Channels"),
        "Runbook": ("runbooks", "Runbooks"),
        "Release": ("releases", "Releases"),
    }
    for doc_type, (coll, prefix) in owned.items():
        for d in archive.of_type(doc_type):
            id_map[d["Id"]] = store.next_id(prefix)
            pending.append((coll, d))
    for d in archive.of_type("DeploymentProcess"):
        pending.append(("deploymentprocesses", d))
    for d in archive.of_type("RunbookProcess"):
        pending.append(("runbookprocesses", d))
    for d in archive.of_type("VariableSet"):
        pending.append(("variables", d))
    # Derived ids (deploymentprocess-Projects-N) follow their owners' new ids.
    for coll, d in pending:
        if coll in ("deploymentprocesses", "variables", "runbookprocesses"):
            # A runbook's process belongs to the runbook (it also names the project).
            owner = (
                d.get("RunbookId") or d.get("OwnerId")
                if coll == "runbookprocesses"
                else d.get("OwnerId") or d.get("ProjectId")
            )
            orig_owner = next((k for k in archive.docs if k == owner), None)
            if orig_owner is None or orig_owner not in id_map:
                raise ImportFailure(f"Found unmapped Ids: {owner}")
            base = {
                "deploymentprocesses": "deploymentprocess",
                "variables": "variableset",
                "runbookprocesses": "RunbookProcess",
            }[coll]
            id_map[d["Id"]] = f"{base}-{id_map[orig_owner]}"
    id_map[f"{space_id}"] = space_id
    # The archive's space id carries the suffix too.
    for _doc_type, archived in archive.docs.values():
        sid = archived.get("SpaceId")
        if isinstance(sid, str):
            id_map[sid] = space_id

    def rewrite(value: Any) -> Any:
        if isinstance(value, str):
            return id_map.get(value, value)
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        if isinstance(value, dict):
            return {id_map.get(k, k): rewrite(v) for k, v in value.items()}
        return value

    written: list[tuple[str, Doc]] = []
    for coll, d in pending:
        doc = rewrite(copy.deepcopy(d))
        doc.pop("RelatedDocumentIds", None)
        doc["SpaceId"] = space_id
        if coll == "variables":
            for var in doc.get("Variables") or []:
                if var.get("Type") == "Sensitive" or var.get("IsSensitive"):
                    enc = var.get("Value")
                    var["_SensitiveValue"] = (
                        decrypt(archive.key, enc) if isinstance(enc, str) and enc else None
                    )
                    var["Value"] = None
                    var["IsSensitive"] = True
        if coll in ("deploymentprocesses", "runbookprocesses") and cloud:
            for step in doc.get("Steps") or []:
                for action in step.get("Actions") or []:
                    props = action.get("Properties") or {}
                    if (
                        props.get("Octopus.Action.RunOnServer") == "true"
                        and not action.get("WorkerPoolId")
                        and default_pool is not None
                    ):
                        action["WorkerPoolId"] = default_pool["Id"]
                        log.append(
                            f"Step '{step.get('Name')}' ran on the Octopus Server; "
                            "it now runs on the default "
                            f"worker pool '{default_pool.get('Name')}'"
                        )
        leftovers = [
            s
            for s in _strings(doc)
            if len(s) > 33
            and s[-33] == "-"
            and s[-32:].isupper()
            and all(c in "0123456789ABCDEF" for c in s[-32:])
        ]
        if leftovers:
            raise ImportFailure(f"Found unmapped Ids: {', '.join(sorted(set(leftovers))[:5])}")
        written.append((coll, doc))
    for existing, archived in merged_tenants:
        # Octopus merges connected tenants: the imported projects join the existing tenant.
        merged = copy.deepcopy(existing)
        connections = merged.setdefault("ProjectEnvironments", {})
        for pid, envs in (rewrite(archived.get("ProjectEnvironments")) or {}).items():
            connections[pid] = sorted(set(connections.get(pid, [])) | set(envs))
        written.append(("tenants", merged))
    with store.batch():
        for coll, doc in written:
            store.put(coll, doc)
            if coll == "projects":
                log.append(f"Imported project '{doc.get('Name')}' as {doc['Id']}")
    return log
