"""What the simulator knows about each Octopus collection: id prefix, scope, ``/all``, and links.

Stored documents carry no ``Links``; :func:`with_links` renders them per request, the way Octopus
renders hypermedia for the space a resource lives in. Link shapes follow the real samples in
``shared/octopus-samples`` (root documents, project, release, worker) and the 2021.2 Swagger document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]


@dataclass(frozen=True)
class Collection:
    """One collection of documents.

    Attributes:
        name: the path segment and store collection name (``projects``).
        prefix: the id prefix (``Projects`` gives ``Projects-1``); None when ids are derived.
        item_type: the ``ItemType`` of a page of this collection.
        scoped: True when the collection lives in a space.
        has_all: True when Octopus offers the unpaged ``/all`` endpoint for it.
        slug: True when ``GET {coll}/{idOrSlug}`` accepts a slug.
    """

    name: str
    prefix: str | None
    item_type: str
    scoped: bool = True
    has_all: bool = False
    slug: bool = False


COLLECTIONS: dict[str, Collection] = {
    c.name: c
    for c in [
        Collection("spaces", "Spaces", "Space", scoped=False, has_all=True, slug=True),
        Collection("users", "Users", "User", scoped=False, has_all=True),
        Collection("teams", "Teams", "Team", scoped=False, has_all=True),
        Collection("userroles", "userroles", "UserRole", scoped=False, has_all=True),
        # System-level ones have no SpaceId, so like teams the collection is listed across spaces.
        Collection("scopeduserroles", "ScopedUserRoles", "ScopedUserRole", scoped=False),
        Collection(
            "octopusservernodes", "OctopusServerNodes", "OctopusServerNode", scoped=False, has_all=True
        ),
        Collection("tasks", "ServerTasks", "Task", scoped=False),
        Collection("projects", "Projects", "Project", has_all=True, slug=True),
        Collection("projectgroups", "ProjectGroups", "ProjectGroup", has_all=True, slug=True),
        Collection("channels", "Channels", "Channel", has_all=True),
        Collection("lifecycles", "Lifecycles", "Lifecycle", has_all=True, slug=True),
        Collection("environments", "Environments", "Environment", has_all=True, slug=True),
        Collection("machines", "Machines", "DeploymentTarget", has_all=True, slug=True),
        Collection("workers", "Workers", "Worker", has_all=True),
        Collection("workerpools", "WorkerPools", "WorkerPool", has_all=True, slug=True),
        Collection("feeds", "Feeds", "Feed", has_all=True, slug=True),
        Collection("packages", None, "Package"),
        Collection("releases", "Releases", "Release"),
        Collection("deployments", "Deployments", "Deployment"),
        Collection("projecttriggers", "ProjectTriggers", "ProjectTrigger"),
        Collection("deploymentprocesses", None, "DeploymentProcess"),
        Collection("variables", None, "VariableSet"),
        Collection("runbooks", "Runbooks", "Runbook", has_all=True, slug=True),
        Collection("runbookprocesses", None, "RunbookProcess"),
        Collection("tenants", "Tenants", "Tenant", has_all=True, slug=True),
        Collection("libraryvariablesets", "LibraryVariableSets", "LibraryVariableSet", has_all=True),
        Collection("accounts", "Accounts", "Account", has_all=True, slug=True),
        Collection("certificates", "Certificates", "Certificate", has_all=True),
        Collection("machinepolicies", "MachinePolicies", "MachinePolicy", has_all=True),
        Collection("tagsets", "TagSets", "TagSet", has_all=True),
        Collection("artifacts", "Artifacts", "Artifact"),
        Collection("subscriptions", "Subscriptions", "Subscription", has_all=True),
    ]
}

#: Collections that appear under a space (``/api/Spaces-1/<name>``).
SCOPED = frozenset(name for name, c in COLLECTIONS.items() if c.scoped) | {"tasks"}


def _sp(doc: Doc) -> str:
    space = doc.get("SpaceId")
    return f"/api/{space}" if space else "/api"


def with_links(coll: str, doc: Doc, version: str = "") -> Doc:
    """Return a copy of ``doc`` with the ``Links`` Octopus renders for it."""
    d = dict(doc)
    i = d.get("Id", "")
    sp = _sp(d)
    links: dict[str, str]
    if coll == "spaces":
        links = {
            "Self": f"/api/spaces/{i}",
            "SpaceHome": f"/api/{i}",
            "Web": f"/app#/spaces/{i}",
            "Logo": f"/api/spaces/{i}/logo?cb={version}",
            "Search": f"/api/spaces/{i}/search",
        }
    elif coll == "projects":
        links = {
            "Self": f"{sp}/projects/{i}",
            "Releases": f"{sp}/projects/{i}/releases{{/version}}{{?skip,take,searchByVersion}}",
            "Channels": f"{sp}/projects/{i}/channels{{/id}}{{?skip,take,partialName}}",
            "Triggers": f"{sp}/projects/{i}/triggers{{?skip,take,partialName,triggerActionType,"
            "triggerActionCategory,runbooks}",
            "ScheduledTriggers": f"{sp}/projects/{i}/triggers/scheduled{{?skip,take,partialName,ids}}",
            "OrderChannels": f"{sp}/projects/{i}/channels/order",
            "Variables": f"{sp}/variables/{d.get('VariableSetId', '')}",
            "Progression": f"{sp}/progression/{i}{{?aggregate}}",
            "RunbookTaskRunDashboardItemsTemplate": f"{sp}/progression/runbooks/taskRuns{{?skip,take,ids,"
            "projectIds,runbookIds,environmentIds,tenantIds,taskIds}",
            "DeploymentProcess": f"{sp}/projects/{i}/deploymentprocesses",
            "DeploymentSettings": f"{sp}/projects/{i}/deploymentsettings",
            "Web": f"/app#/{d.get('SpaceId', '')}/projects/{i}",
            "Logo": f"{sp}/projects/{i}/logo?cb={_logo_cb(d, version)}",
            "Metadata": f"{sp}/projects/{i}/metadata",
            "Runbooks": f"{sp}/projects/{i}/runbooks{{?skip,take,partialName}}",
            "RunbookSnapshots": f"{sp}/projects/{i}/runbookSnapshots{{/name}}{{?skip,take,searchByName}}",
            "Summary": f"{sp}/projects/{i}/summary",
        }
    elif coll == "tasks":
        links = {
            "Self": f"/api/tasks/{i}",
            "Web": f"/app#/{d.get('SpaceId') or ''}/tasks/{i}",
            "Raw": f"/api/tasks/{i}/raw",
            "Rerun": f"/api/tasks/rerun/{i}",
            "Cancel": f"/api/tasks/{i}/cancel",
            "State": f"/api/tasks/{i}/state",
            "QueuedBehind": f"/api/tasks/{i}/queued-behind{{?skip,take}}",
            "Details": f"/api/tasks/{i}/details{{?verbose,tail,ranges}}",
            "StatusMessages": f"/api/tasks/{i}/status/messages",
            "Artifacts": f"{sp}/artifacts?regarding={i}",
            "Interruptions": f"{sp}/interruptions?regarding={i}",
        }
    elif coll == "packages":
        links = {
            "Self": f"{sp}/packages/{i}",
            "Raw": f"{sp}/packages/{i}/raw",
            "Feed": f"{sp}/feeds/{d.get('FeedId', 'feeds-builtin')}",
        }
    elif coll == "artifacts":
        links = {"Self": f"{sp}/artifacts/{i}", "Content": f"{sp}/artifacts/{i}/content"}
    elif coll == "users":
        links = {
            "Self": f"/api/users/{i}",
            "Permissions": f"/api/users/{i}/permissions",
            "PermissionsConfiguration": f"/api/users/{i}/permissions/configuration",
            "ApiKeys": f"/api/users/{i}/apikeys{{/id}}{{?skip,take}}",
            "Avatar": "",
            "Spaces": f"/api/users/{i}/spaces",
        }
    elif coll in ("machines", "workers"):
        links = {
            "Self": f"{sp}/{coll}/{i}",
            "Connection": f"{sp}/{coll}/{i}/connection",
            "TasksTemplate": f"{sp}/{coll}/{i}/tasks{{?skip,take,type}}",
            "Web": f"/app#/{d.get('SpaceId', '')}/infrastructure/{coll}/{i}",
        }
    elif coll == "workerpools":
        links = {
            "Self": f"{sp}/workerpools/{i}",
            "Workers": f"{sp}/workerpools/{i}/workers{{?skip,take,partialName,isDisabled,healthStatuses,"
            "commStyles,shellNames}",
            "SortOrder": f"{sp}/workerpools/sortorder",
        }
    elif coll == "feeds":
        links = {
            "Self": f"{sp}/feeds/{i}",
            "SearchPackagesTemplate": f"{sp}/feeds/{i}/packages/search{{?term,skip,take}}",
            "SearchPackageVersionsTemplate": f"{sp}/feeds/{i}/packages/versions{{?packageId,take,skip,"
            "includePreRelease,versionRange,preReleaseTag,filter,includeReleaseNotes}",
            "NotesListTemplate": f"{sp}/feeds/{i}/packages/notes{{?packageIds}}",
        }
    elif coll == "releases":
        links = {
            "Self": f"{sp}/releases/{i}",
            "Project": f"{sp}/projects/{d.get('ProjectId', '')}",
            "Channel": f"{sp}/channels/{d.get('ChannelId', '')}",
            "Deployments": f"{sp}/releases/{i}/deployments{{?skip,take}}",
            "Artifacts": f"{sp}/artifacts?regarding={i}",
        }
    elif coll == "deployments":
        links = {
            "Self": f"{sp}/deployments/{i}",
            "Release": f"{sp}/releases/{d.get('ReleaseId', '')}",
            "Environment": f"{sp}/environments/{d.get('EnvironmentId', '')}",
            "Project": f"{sp}/projects/{d.get('ProjectId', '')}",
            "Task": f"/api/tasks/{d.get('TaskId', '')}",
            "Web": f"/app#/{d.get('SpaceId', '')}/deployments/{i}",
            "Artifacts": f"{sp}/artifacts?regarding={i}",
        }
    elif coll == "channels":
        links = {
            "Self": f"{sp}/channels/{i}",
            "Releases": f"{sp}/channels/{i}/releases{{?skip,take,searchByVersion}}",
            "Project": f"{sp}/projects/{d.get('ProjectId', '')}",
        }
    elif coll == "runbooks":
        links = {
            "Self": f"{sp}/runbooks/{i}",
            "Project": f"{sp}/projects/{d.get('ProjectId', '')}",
            "RunbookProcesses": f"{sp}/runbookProcesses/{d.get('RunbookProcessId', '')}",
        }
    elif coll == "octopusservernodes":
        links = {"Self": f"/api/octopusservernodes/{i}", "Details": f"/api/octopusservernodes/{i}/details"}
    elif coll == "teams":
        links = {"Self": f"/api/teams/{i}", "ScopedUserRoles": f"/api/teams/{i}/scopeduserroles"}
    elif coll == "projecttriggers":
        links = {"Self": f"{sp}/projecttriggers/{i}", "Project": f"{sp}/projects/{d.get('ProjectId', '')}"}
    else:
        links = {"Self": f"{sp}/{coll}/{i}"}
    d["Links"] = links
    return d


def _logo_cb(project: Doc, version: str) -> str:
    """The logo cache-buster: the server version when no logo was uploaded (SpaceCloner's test)."""
    icon = project.get("Icon")
    if isinstance(icon, dict) and icon.get("Id"):
        color = str(icon.get("Color", "")).replace("#", "%23")
        return f"{icon['Id']}-{color}-{version}"
    stamp = project.get("_LogoStamp")
    return f"{stamp}" if stamp else version


def public(doc: Doc) -> Doc:
    """Strip simulator-private fields (names starting with ``_``, at any depth) before a document is sent.

    Private fields hold what Octopus never sends back: a sensitive variable's value, a feed's password.
    """
    return {k: _public(v) for k, v in doc.items() if not k.startswith("_")}


def _public(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("_"))}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value
