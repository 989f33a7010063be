"""Conformance of the simulator with Octopus Server's own API description (Swagger 2.0, 2021.2.1387).

For every path the 2021.2 Swagger document gives a ``get`` operation, the test substitutes real path
parameters (ids taken from the simulator's own store), asks both simulated instances (the Server with
the admin key, Cloud with the manager key) in-process, and validates every ``200`` JSON body against
that operation's ``200`` response schema. Endpoints the simulator answers 404, 405 or 501 are "not
answered" and skipped; a hard-coded list of the endpoints octowiz relies on must be answered and
valid. The same validator checks the real Octopus bodies in ``shared/octopus-samples``, which proves
it accepts what real Octopus sends.

Tolerance (the only loosening of the Swagger schemas). Swagger 2.0 has no ``nullable``, while Octopus
serialises absent strings, objects and arrays as ``null``. So:

* every ``type: X`` in a definition or response schema becomes ``type: [X, "null"]``;
* every property (and ``additionalProperties`` value) that is a ``$ref`` becomes
  ``anyOf: [{$ref}, {type: "null"}]``.

Nothing else is loosened: ``required``, types, ``uniqueItems`` and enums stay as written. Enum values
newer than 2021.2 that the simulator legitimately sends (because it simulates newer versions) are
admitted only through :data:`NEWER_ENUM_VALUES`, and the two definitions the Swagger generator gets
wrong (types Octopus serialises as strings with custom JSON converters) are replaced through
:data:`SWAGGER_CORRECTIONS`, each with the reason.

The samples directory is ``<repo>/../shared/octopus-samples``; ``OCTOWIZ_SAMPLES`` overrides it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from jsonschema import Draft4Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator

SAMPLES = Path(
    os.environ.get("OCTOWIZ_SAMPLES") or Path(__file__).resolve().parents[3] / "shared" / "octopus-samples"
)
SWAGGER = SAMPLES / "swagger-octopus-server-2021.2.1387.json"
BASE = "urn:octopus:swagger:2021.2.1387"
SPACE = "Spaces-1"

# Outside CI a checkout without ../shared skips these with the reason; in CI they run, and a missing
# document fails them (FileNotFoundError naming the path) instead of passing them by skipping.
pytestmark = pytest.mark.skipif(
    not SWAGGER.is_file() and not os.environ.get("CI"), reason=f"no Swagger document at {SWAGGER}"
)

#: Enum values Octopus added after 2021.2 that the simulator sends because it simulates newer
#: versions. Only these are added to the 2021.2 enums; nothing else is.
NEWER_ENUM_VALUES: dict[str, list[str]] = {
    # Step-package deployment targets (e.g. AWS ECS, 2021.3+) and the Kubernetes agent (2024.2+).
    "CommunicationStyle": ["StepPackage", "KubernetesTentacle"],
    # Built-in / external feed triggers that create releases (2022.1+).
    "TriggerActionType": ["CreateRelease"],
    "TriggerFilterType": ["FeedFilter"],
}

#: Definitions the Swagger generator describes as objects although Octopus's JSON converters write
#: them differently; each replaces the 2021.2 definition with what Octopus actually sends.
SWAGGER_CORRECTIONS: dict[str, dict[str, Any]] = {
    # PropertyValueJsonConverter writes a plain string, or a SensitiveValue object for a sensitive
    # property (the TypeScript client: ``type PropertyValueResource = string | SensitiveValue``).
    "PropertyValueResource": {"anyOf": [{"type": "string"}, {"$ref": "#/definitions/SensitiveValue"}]},
    # VariableType is written as its name ("String", "Sensitive", "Certificate", ...), not {"Value": ...}.
    "VariableType": {"type": "string"},
}

_LINKS = {"type": "object", "additionalProperties": {"type": "string"}}


def _page_of(definition: str) -> dict[str, Any]:
    """``ResourceCollection<definition>``, the shape of every ``XResourceCollection`` in 2021.2."""
    return {
        "type": "object",
        "properties": {
            "Id": {"type": "string"},
            "ItemType": {"type": "string"},
            "TotalResults": {"type": "integer"},
            "ItemsPerPage": {"type": "integer"},
            "NumberOfPages": {"type": "integer"},
            "LastPageNumber": {"type": "integer"},
            "Items": {"type": "array", "items": {"$ref": f"#/definitions/{definition}"}},
            "Links": _LINKS,
        },
    }


#: GET operations whose 200 response the 2021.2 document leaves without a schema, though Octopus
#: answers JSON. Each gets the schema of what Octopus sends, so they validate too.
FALLBACK_SCHEMAS: dict[str, dict[str, Any]] = {
    # "ResourceCollection_of_EventResource resource returned", with no schema.
    "/events": _page_of("EventResource"),
    "/{baseSpaceId}/events": _page_of("EventResource"),
    # UserResource (operation getUserGetCurrent has no responses in 2021.2).
    "/users/me": {"$ref": "#/definitions/UserResource"},
    # The spaces the user may use: a plain array of SpaceResource (getUserGetSpaces has no 200).
    "/users/{id}/spaces": {"type": "array", "items": {"$ref": "#/definitions/SpaceResource"}},
    # OctopusServerClusterSummaryResource, which 2021.2 does not define (octopus-api.md §11.2,
    # Octopus.Client OctopusServerClusterSummaryResource / OctopusServerNodeSummaryResource).
    "/octopusservernodes/summary": {
        "type": "object",
        "required": ["Nodes"],
        "properties": {
            "Nodes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["Id", "Name"],
                    "properties": {
                        "Id": {"type": "string"},
                        "Name": {"type": "string"},
                        "MaxConcurrentTasks": {"type": "integer"},
                        "IsInMaintenanceMode": {"type": "boolean"},
                        "LastSeen": {"type": "string"},
                        "IsOffline": {"type": "boolean"},
                        "RunningTaskCount": {"type": "integer"},
                        "Links": _LINKS,
                    },
                },
            },
            "Links": _LINKS,
        },
    },
}

#: Real sample bodies and where their schema is in the Swagger document: a definition name, or a
#: path whose GET answers them.
SAMPLE_SCHEMAS = {
    "root-2020.4.0.json": "RootResource",
    "root-2023.1.9626-cloud.json": "RootResource",
    "space-2024.3-cloud.json": "SpaceResource",
    "project-2024.3-cloud.json": "ProjectResource",
    "release-2024.3-cloud.json": "ReleaseResource",
    "deployment-2024.3-cloud.json": "DeploymentResource",
    "worker-listening-tentacle.json": "WorkerResource",
    "endpoint-listening-tentacle.json": "EndpointResource",
    "deployment-target-cloud-region.json": "DeploymentTargetResource",
    "deployment-target-offline-drop.json": "DeploymentTargetResource",
    "deployment-target-kubernetes.json": "DeploymentTargetResource",
    "events-collection-page-2023.1.json": "/events",
}

#: Real samples that legitimately fail the 2021.2 schemas because of later version drift.
SAMPLE_DRIFT: dict[str, str] = {}

#: GET endpoints octowiz relies on: both instances must answer them, and validly.
MUST_ANSWER = [
    "/",
    "/{spaceId}",
    "/spaces",
    "/spaces/all",
    "/spaces/{id}",
    "/users",
    "/users/all",
    "/users/me",
    "/users/{id}",
    "/users/{id}/permissions",
    "/users/{id}/teams",
    "/users/{id}/spaces",
    "/teams",
    "/teams/all",
    "/teams/{id}",
    "/authentication",
    "/featuresconfiguration",
    "/maintenanceconfiguration",
    "/octopusservernodes",
    "/octopusservernodes/all",
    "/octopusservernodes/{id}",
    "/octopusservernodes/summary",
    "/tasks",
    "/tasks/{id}",
    "/tasks/{id}/details",
    "/{baseSpaceId}/tasks",
    "/{baseSpaceId}/projects",
    "/{baseSpaceId}/projects/all",
    "/{baseSpaceId}/projects/{id}",
    "/{baseSpaceId}/projects/{id}/channels",
    "/{baseSpaceId}/projects/{id}/releases",
    "/{baseSpaceId}/projects/{id}/triggers",
    "/{baseSpaceId}/projects/{id}/runbooks",
    "/{baseSpaceId}/projectgroups",
    "/{baseSpaceId}/projectgroups/all",
    "/{baseSpaceId}/projectgroups/{id}",
    "/{baseSpaceId}/environments",
    "/{baseSpaceId}/environments/all",
    "/{baseSpaceId}/environments/{id}",
    "/{baseSpaceId}/lifecycles",
    "/{baseSpaceId}/lifecycles/all",
    "/{baseSpaceId}/lifecycles/{id}",
    "/{baseSpaceId}/channels",
    "/{baseSpaceId}/channels/{id}",
    "/{baseSpaceId}/machines",
    "/{baseSpaceId}/machines/all",
    "/{baseSpaceId}/machines/{id}",
    "/{baseSpaceId}/workers",
    "/{baseSpaceId}/workers/all",
    "/{baseSpaceId}/workerpools",
    "/{baseSpaceId}/workerpools/all",
    "/{baseSpaceId}/workerpools/{id}",
    "/{baseSpaceId}/workerpools/{id}/workers",
    "/{baseSpaceId}/feeds",
    "/{baseSpaceId}/feeds/all",
    "/{baseSpaceId}/feeds/{id}",
    "/{baseSpaceId}/packages",
    "/{baseSpaceId}/releases",
    "/{baseSpaceId}/releases/{id}",
    "/{baseSpaceId}/deployments",
    "/{baseSpaceId}/deploymentprocesses/{id}",
    "/{baseSpaceId}/variables/{id}",
    "/{baseSpaceId}/projecttriggers",
    "/{baseSpaceId}/artifacts",
    "/{baseSpaceId}/tenants",
    "/{baseSpaceId}/libraryvariablesets",
    "/{baseSpaceId}/accounts",
    "/{baseSpaceId}/certificates",
    "/{baseSpaceId}/machinepolicies",
    "/{baseSpaceId}/runbooks",
]

#: Must-answer endpoints that need documents only the Server's demo scenario has (Cloud's demo is a
#: fresh destination; :func:`populate_cloud` adds only what a migration would create first).
MUST_ANSWER_SERVER_ONLY = [
    "/{baseSpaceId}/workers/{id}",
    "/{baseSpaceId}/packages/{id}",
    "/{baseSpaceId}/deployments/{id}",
]

#: Refusals that are Octopus's own behaviour, not simulator faults; any other non-200 (besides the
#: "not answered" statuses) fails the survey.
EXPECTED_REFUSALS = {
    # API keys are listed only by their owner, in the web portal.
    ("server", "/users/{userId}/apikeys"): 403,
    ("cloud", "/users/{userId}/apikeys"): 403,
    # Dynamic worker types exist only in Octopus Cloud; a self-hosted Server answers 500.
    ("server", "/workerpools/dynamicworkertypes"): 500,
    ("server", "/{baseSpaceId}/workerpools/dynamicworkertypes"): 500,
}

#: Floors of validated endpoints per instance: answering fewer than this is a regression.
MIN_VALIDATED = {"server": 200, "cloud": 180}

NOT_ANSWERED = {404, 405, 501}
JSON_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}


# -- the schema, with null tolerance -------------------------------------------------------------


def _nullable(schema: Any) -> Any:
    """A copy of ``schema`` accepting ``null`` wherever it states a type (see the module docstring)."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str) and kind in JSON_TYPES and kind != "null":
        out["type"] = [kind, "null"]
    if isinstance(out.get("properties"), dict):
        out["properties"] = {name: _value(sub) for name, sub in out["properties"].items()}
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _value(out["additionalProperties"])
    if isinstance(out.get("items"), dict):
        out["items"] = _nullable(out["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [_nullable(s) for s in out[key]]
    return out


def _value(schema: Any) -> Any:
    """A property's schema: a ``$ref`` also admits ``null``; anything else as :func:`_nullable`."""
    if isinstance(schema, dict) and "$ref" in schema:
        return {"anyOf": [{"$ref": schema["$ref"]}, {"type": "null"}]}
    return _nullable(schema)


@cache
def swagger() -> dict[str, Any]:
    """The Swagger document, as published."""
    doc: dict[str, Any] = json.loads(SWAGGER.read_text(encoding="utf-8-sig"))
    return doc


@cache
def tolerant_swagger() -> dict[str, Any]:
    """The Swagger document with null tolerance and the allow-listed newer enum values."""
    doc = copy.deepcopy(swagger())
    doc["definitions"].update(copy.deepcopy(SWAGGER_CORRECTIONS))
    for name, extra in NEWER_ENUM_VALUES.items():
        doc["definitions"][name]["enum"] = [*doc["definitions"][name]["enum"], *extra]
    doc["definitions"] = {name: _nullable(s) for name, s in doc["definitions"].items()}
    for template, schema in FALLBACK_SCHEMAS.items():
        responses = doc["paths"][template]["get"]["responses"]
        assert "schema" not in responses.get("200", {}), f"{template} has a schema now; drop its fallback"
        responses.setdefault("200", {"description": "OK"})["schema"] = copy.deepcopy(schema)
    for operations in doc["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                for response in (operation.get("responses") or {}).values():
                    if "schema" in response:
                        response["schema"] = _nullable(response["schema"])
    return doc


@cache
def registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(tolerant_swagger(), default_specification=DRAFT4)
    swagger_registry: Registry[Any] = Registry().with_resource(BASE, resource)
    return swagger_registry


def _pointer(*parts: str) -> str:
    return "".join("/" + quote(p.replace("~", "~0").replace("/", "~1"), safe="") for p in parts)


def validator_for(*pointer: str) -> Draft4Validator:
    """A validator for the schema at ``pointer`` inside the (tolerant) Swagger document."""
    return Draft4Validator({"$ref": f"{BASE}#{_pointer(*pointer)}"}, registry=registry())


def errors_of(validator: Draft4Validator, body: Any, limit: int = 5) -> list[str]:
    """The first ``limit`` validation errors, each with its path (and, for ``anyOf``, the likeliest cause)."""
    found = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    messages = []
    for error in found[:limit]:
        where = "/".join(str(p) for p in error.absolute_path) or "<root>"
        # The null branch of a tolerant ``anyOf`` never explains anything; report the other branch.
        causes = [c for c in error.context or [] if c.schema != {"type": "null"}]
        cause = best_match(causes) if causes else None
        because = f" (because {cause.message[:200]})" if cause is not None else ""
        messages.append(f"{where}: {error.message[:200]}{because}")
    return messages


# -- enumerating and asking ----------------------------------------------------------------------


@dataclass
class Outcome:
    """What one instance answered for one Swagger GET path."""

    template: str
    url: str | None
    status: int | None = None
    kind: str = "skipped"  # valid | invalid | no-schema | not-json | not-answered | refused | skipped
    errors: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.kind in ("valid", "invalid", "no-schema", "not-json")


def get_paths() -> list[str]:
    return [p for p, ops in swagger()["paths"].items() if "get" in ops]


def _in_space(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    own = [d for d in docs if d.get("SpaceId") in (SPACE, None)]
    return own or docs


class Ids:
    """Real ids from one instance's store, for the Swagger path parameters."""

    def __init__(self, sim: Simulator, instance: str) -> None:
        self.store = sim.instances[instance].store
        self.user_id = (SERVER_ADMIN if instance == "server" else CLOUD_MANAGER).user_id
        releases = self.store.all("releases")
        with_releases = [
            p
            for p in _in_space(self.store.all("projects"))
            if any(r.get("ProjectId") == p["Id"] for r in releases)
        ]
        candidates = with_releases or _in_space(self.store.all("projects"))
        self.project: dict[str, Any] | None = candidates[0] if candidates else None

    def first(self, coll: str) -> str | None:
        docs = _in_space(self.store.all(coll))
        return str(docs[0]["Id"]) if docs else None

    def of(self, coll: str, prefix: str) -> str | None:
        """The id for the ``{id}`` that follows path segment ``coll`` (``prefix`` is the path up to it)."""
        coll = coll.lower()
        if coll == "users":
            return self.user_id
        if prefix.endswith("/configuration/certificates"):
            return "certificate-global"
        if coll in ("projects", "progression") and self.project is not None:
            return str(self.project["Id"])
        if coll == "runbooksnapshots":
            return None
        if coll == "workerpools":
            pools = [
                p
                for p in _in_space(self.store.all("workerpools"))
                if p.get("WorkerPoolType") != "DynamicWorkerPool"
            ]
            pools = pools or _in_space(self.store.all("workerpools"))
            return str(pools[0]["Id"]) if pools else None
        if coll in ("deploymentprocesses", "variables") and self.project is not None:
            return str(
                self.project["DeploymentProcessId" if coll == "deploymentprocesses" else "VariableSetId"]
            )
        if coll == "releases" and self.project is not None:
            own = [r for r in self.store.all("releases") if r.get("ProjectId") == self.project["Id"]]
            if own:
                return str(own[-1]["Id"])
        return self.first(coll)

    def release_version(self) -> str | None:
        if self.project is None:
            return None
        own = [r for r in self.store.all("releases") if r.get("ProjectId") == self.project["Id"]]
        return str(own[-1]["Version"]) if own else None


def concrete(template: str, ids: Ids) -> str | None:
    """``template`` with every path parameter replaced by a real value, or None when one has none."""
    parts = template.split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        m = re.fullmatch(r"\{(\w+)\}", part)
        if not m:
            out.append(part)
            continue
        name = m.group(1)
        value: str | None
        if name in ("baseSpaceId", "spaceId"):
            value = SPACE
        elif name == "userId":
            value = ids.user_id
        elif name == "id":
            value = ids.of(parts[i - 1], "/".join(parts[:i]))
        elif name == "version" and parts[i - 1] == "releases":
            value = ids.release_version()
        elif name == "deploymentProcessId":
            value = ids.of("deploymentprocesses", "")
        elif name == "environment":
            value = ids.first("environments")
        elif name == "tenant":
            value = ids.first("tenants")
        else:  # name, typeOrId, packageId, token, resourceGroupName, webSiteName, version (templates)
            value = None
        if value is None:
            return None
        out.append(quote(value, safe=""))
    return "/".join(out) or "/"


def _required_query(template: str, ids: Ids) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for param in swagger()["paths"][template]["get"].get("parameters") or []:
        if param.get("in") != "query" or not param.get("required"):
            continue
        name = param["name"]
        if name == "packageId":
            pkgs = _in_space(ids.store.all("packages"))
            if not pkgs:
                return None
            params[name] = str(pkgs[0]["PackageId"])
        elif name == "userId":
            params[name] = ids.user_id
        elif name == "keyword":
            params[name] = "a"
        else:
            return None
    return params


async def populate_cloud(client: httpx.AsyncClient) -> None:
    """Create, through the API, the first documents a migration creates on a fresh Cloud instance."""

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(f"/api/{SPACE}/{path}", json=body)
        assert response.status_code in (200, 201), f"POST {path}: {response.status_code} {response.text}"
        created: dict[str, Any] = response.json()
        return created

    async def first(path: str) -> str:
        items = (await client.get(f"/api/{SPACE}/{path}/all")).json()
        return str(items[0]["Id"])

    group, lifecycle, pool = (
        await first("projectgroups"),
        await first("lifecycles"),
        await first("workerpools"),
    )
    env = await post("environments", {"Name": "Production", "SortOrder": 1, "UseGuidedFailure": False})
    project = await post("projects", {"Name": "Acme Web", "ProjectGroupId": group, "LifecycleId": lifecycle})
    channel = (await client.get(f"/api/{SPACE}/projects/{project['Id']}/channels")).json()["Items"][0]
    await post("releases", {"ProjectId": project["Id"], "ChannelId": channel["Id"], "Version": "1.0.0"})
    machine = await post(
        "machines",
        {
            "Name": "Azure region",
            "Endpoint": {"CommunicationStyle": "None", "DefaultWorkerPoolId": pool},
            "EnvironmentIds": [env["Id"]],
            "Roles": ["web-server"],
        },
    )
    await post("tenants", {"Name": "Acme Corp", "ProjectEnvironments": {project["Id"]: [env["Id"]]}})
    await post("libraryvariablesets", {"Name": "Shared settings", "ContentType": "Variables"})
    await post(
        "tasks",
        {
            "Name": "AdHocScript",
            "Description": "Check the migrated target",
            "Arguments": {"ScriptBody": "echo ok", "Syntax": "Bash", "MachineIds": [machine["Id"]]},
        },
    )


async def survey(sim: Simulator, instance: str) -> dict[str, Outcome]:
    """Ask ``instance`` every Swagger GET path; validate what it answers with 200 and JSON."""
    base_url, key = (
        (sim.server_url, SERVER_ADMIN.api_key)
        if instance == "server"
        else (sim.cloud_url, CLOUD_MANAGER.api_key)
    )
    outcomes: dict[str, Outcome] = {}
    async with httpx.AsyncClient(
        transport=sim.transport(), base_url=base_url, headers={"X-Octopus-ApiKey": key}
    ) as client:
        if instance == "cloud":
            await populate_cloud(client)
        ids = Ids(sim, instance)
        for template in get_paths():
            path = concrete(template, ids)
            query = _required_query(template, ids)
            if path is None or query is None:
                outcomes[template] = Outcome(template, None)
                continue
            url = "/api" + ("" if path == "/" else path)
            outcome = outcomes[template] = Outcome(template, url)
            response = await client.get(url, params=query)
            outcome.status = response.status_code
            if response.status_code in NOT_ANSWERED:
                outcome.kind = "not-answered"
                continue
            if response.status_code != 200:
                outcome.kind = "refused"
                outcome.errors = [response.text[:300]]
                continue
            schema = tolerant_swagger()["paths"][template]["get"]["responses"].get("200", {}).get("schema")
            binary = schema is not None and (
                "file" in schema.get("type", []) or schema.get("format") == "binary"
            )
            content_type = response.headers.get("content-type", "")
            if "json" not in content_type:
                outcome.kind = "not-json" if schema is None or binary else "invalid"
                if outcome.kind == "invalid":
                    outcome.errors = [f"answered {content_type!r} where the Swagger describes JSON"]
                continue
            if schema is None:
                outcome.kind = "no-schema"
                continue
            if binary:
                outcome.kind = "invalid"
                outcome.errors = ["answered JSON where the Swagger describes a file download"]
                continue
            validator = validator_for("paths", template, "get", "responses", "200", "schema")
            outcome.errors = errors_of(validator, response.json())
            outcome.kind = "invalid" if outcome.errors else "valid"
    return outcomes


@pytest.fixture(scope="module")
def surveys() -> Iterator[dict[str, dict[str, Outcome]]]:
    sim = Simulator(None, "demo", clock=lambda: 1_780_000_000.0)
    try:
        yield {name: asyncio.run(survey(sim, name)) for name in ("server", "cloud")}
    finally:
        sim.close()


def _summary(instance: str, outcomes: dict[str, Outcome]) -> str:
    kinds = [o.kind for o in outcomes.values()]
    answered = sum(1 for o in outcomes.values() if o.answered)
    return (
        f"{instance}: {len(outcomes)} Swagger GET endpoints; {answered} answered 200; "
        f"{kinds.count('valid')} validated, {kinds.count('invalid')} invalid, "
        f"{kinds.count('no-schema')} without a 200 schema, {kinds.count('not-json')} not JSON; "
        f"{kinds.count('not-answered')} not answered, {kinds.count('refused')} refused, "
        f"{kinds.count('skipped')} without usable parameters"
    )


# -- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("instance", ["server", "cloud"])
def test_every_answered_get_endpoint_validates(
    surveys: dict[str, dict[str, Outcome]], instance: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = surveys[instance]
    with capsys.disabled():
        print("\n" + _summary(instance, outcomes))
    invalid = [f"{o.url}:\n    " + "\n    ".join(o.errors) for o in outcomes.values() if o.kind == "invalid"]
    refused = {
        o.url: (o.status, o.errors)
        for o in outcomes.values()
        if o.kind == "refused" and EXPECTED_REFUSALS.get((instance, o.template)) != o.status
    }
    assert not refused, f"{instance} refuses these GETs unexpectedly: {refused}"
    assert not invalid, f"{len(invalid)} {instance} answers do not match the 2021.2 Swagger:\n" + "\n".join(
        invalid
    )


@pytest.mark.parametrize("instance", ["server", "cloud"])
def test_endpoints_octowiz_relies_on_are_answered_and_valid(
    surveys: dict[str, dict[str, Outcome]], instance: str
) -> None:
    must = MUST_ANSWER + (MUST_ANSWER_SERVER_ONLY if instance == "server" else [])
    missing_from_swagger = [p for p in must if p not in swagger()["paths"]]
    assert not missing_from_swagger, f"not in the 2021.2 Swagger: {missing_from_swagger}"
    bad = {
        p: (surveys[instance][p].url, surveys[instance][p].status, surveys[instance][p].kind)
        for p in must
        if surveys[instance][p].kind != "valid"
    }
    assert not bad, f"{instance} does not answer these validly: {bad}"


def test_coverage_is_counted(surveys: dict[str, dict[str, Outcome]]) -> None:
    total = len(get_paths())
    assert total == len(surveys["server"]) == len(surveys["cloud"])
    for instance, outcomes in surveys.items():
        validated = sum(1 for o in outcomes.values() if o.kind == "valid")
        assert validated >= MIN_VALIDATED[instance], _summary(instance, outcomes)


@pytest.mark.parametrize("sample", sorted(SAMPLE_SCHEMAS))
def test_real_samples_validate(sample: str) -> None:
    body = json.loads((SAMPLES / sample).read_text(encoding="utf-8-sig"))
    where = SAMPLE_SCHEMAS[sample]
    pointer = (
        ("paths", where, "get", "responses", "200", "schema")
        if where.startswith("/")
        else ("definitions", where)
    )
    errors = errors_of(validator_for(*pointer), body)
    if sample in SAMPLE_DRIFT:
        assert errors, f"{sample} now validates; drop it from SAMPLE_DRIFT"
        return
    assert not errors, f"{sample} does not validate as {where}: {errors}"


def test_tolerance_admits_null_but_not_wrong_types() -> None:
    project = validator_for("definitions", "ProjectResource")
    nulls = {"Name": None, "PersistenceSettings": None, "IncludedLibraryVariableSetIds": None}
    assert not errors_of(project, nulls)
    assert errors_of(project, {"Name": 5})
    assert errors_of(project, {"DefaultGuidedFailureMode": "Sometimes"})
    assert errors_of(project, {"IncludedLibraryVariableSetIds": [None, 5]})
    # ``required`` is kept: a release needs its Version.
    assert errors_of(validator_for("definitions", "ReleaseResource"), {"Id": "Releases-1"})
