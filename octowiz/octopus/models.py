"""Pydantic models of the Octopus Deploy REST resources octowiz reads and writes.

The round-trip rule: every model keeps what it does not know. Octopus servers of different versions send
different fields, and an update is a GET-modify-PUT of the *whole* resource, so a model that dropped an
unknown field would silently delete it on the server. Therefore:

* every model derives from :class:`OctopusModel` (``extra="allow"``): unknown fields are kept, at every
  nesting level, and written back unchanged;
* every declared field is optional with a default, so an older or newer server that omits it still parses;
* :meth:`OctopusModel.to_json` dumps by alias with ``exclude_unset=True``, so for any body ``b`` the server
  sent, ``Model.model_validate(b).to_json() == b`` exactly: same keys, same values, ``null`` kept;
* values are kept as the server wrote them: timestamps stay strings, enum-like values stay strings (the
  ``StrEnum`` classes here are for comparisons), and a field whose type a server bends (``"True"`` for a
  boolean) is typed to accept both spellings.

Python attribute names are snake_case; the JSON names are Octopus's PascalCase, produced by
:func:`to_pascal_case` or given explicitly with ``Field(alias=...)`` where the generator would be wrong.
Field names and types follow the 2021.2 Swagger document and the real bodies in ``shared/octopus-samples``
(see ``shared/octopus-api.md``).
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeAlias, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    model_serializer,
)


def to_pascal_case(name: str) -> str:
    """Turn a snake_case attribute name into Octopus's PascalCase JSON name.

    Each underscore-separated part gets an upper-case first letter and keeps the rest, so
    ``nu_get_package_id`` gives ``NuGetPackageId`` and ``is_built_in_worker_enabled`` gives
    ``IsBuiltInWorkerEnabled``. Names with capitalised runs (``CSSLinks``) need an explicit alias.

    Args:
        name: the Python attribute name.

    Returns:
        The JSON property name.
    """
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


#: A secret the caller sets and the server receives. ``repr`` and ``str`` show ``**********`` so it stays
#: out of logs and tracebacks; dumping (``to_json``) writes the real value, because that is a request body.
RevealedSecret: TypeAlias = Annotated[
    SecretStr, PlainSerializer(lambda secret: secret.get_secret_value(), return_type=str)
]


class OctopusModel(BaseModel):
    """Base of every Octopus model: PascalCase aliases, unknown fields kept, exact round-trip.

    Subclasses may list field names in ``_always_dump``: fields whose default must be sent even when the
    caller did not set it (a discriminator such as ``CommunicationStyle``, a task ``Name``), which
    ``exclude_unset`` would otherwise leave out of a body built in Python.
    """

    model_config = ConfigDict(
        populate_by_name=True,
        extra="allow",
        alias_generator=to_pascal_case,
    )

    _always_dump: ClassVar[frozenset[str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """Dump to the JSON body Octopus expects: PascalCase keys, only the fields that were set.

        Returns:
            A JSON-compatible dict; for a model parsed from a server body, equal to that body.
        """
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")

    @model_serializer(mode="wrap")
    def _dump_always(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """Write the ``_always_dump`` fields even when unset (a dump hook, not a parse hook).

        A post-init hook would do the same at parse time, but it runs a Python call per instance
        and slows the parsing of large lists (thousands of machines) several times over.
        """
        body = handler(self)
        if self._always_dump and isinstance(body, dict) and info.exclude_unset:
            for name in self._always_dump:
                if name not in self.model_fields_set:
                    value = getattr(self, name)
                    if value is not None:
                        key = (type(self).model_fields[name].alias or name) if info.by_alias else name
                        body[key] = value.value if isinstance(value, Enum) else value
        return body


class OctopusResource(OctopusModel):
    """Fields every Octopus resource document carries (``Resource`` in the server's object model).

    Attributes:
        id: the document id (``Projects-1``); absent from create bodies.
        links: hypermedia links, name to URI template (RFC 6570).
    """

    id: str | None = None
    last_modified_on: str | None = None
    last_modified_by: str | None = None
    links: dict[str, str] | None = None

    def link(self, name: str) -> str | None:
        """Return the URI template of the link ``name``, or None when the server did not send it.

        Args:
            name: the link name, exactly as Octopus spells it (``"Self"``, ``"Page.Next"``).
        """
        return (self.links or {}).get(name)


# ---------------------------------------------------------------------------------------------------------
# Enum-like values (fields stay ``str``; compare against these)
# ---------------------------------------------------------------------------------------------------------


class TaskState(StrEnum):
    """``TaskResource.State`` values (2021.2 Swagger ``TaskState``). Task queries also accept ``New``."""

    QUEUED = "Queued"
    EXECUTING = "Executing"
    FAILED = "Failed"
    CANCELED = "Canceled"
    TIMED_OUT = "TimedOut"
    SUCCESS = "Success"
    CANCELLING = "Cancelling"


#: States after which a task never changes again.
TERMINAL_TASK_STATES: frozenset[str] = frozenset(
    {TaskState.FAILED, TaskState.CANCELED, TaskState.TIMED_OUT, TaskState.SUCCESS}
)


class CommunicationStyle(StrEnum):
    """``Endpoint.CommunicationStyle`` values octowiz knows; servers may send others."""

    NONE = "None"
    TENTACLE_PASSIVE = "TentaclePassive"
    TENTACLE_ACTIVE = "TentacleActive"
    SSH = "Ssh"
    KUBERNETES = "Kubernetes"
    KUBERNETES_TENTACLE = "KubernetesTentacle"
    AZURE_WEB_APP = "AzureWebApp"
    AZURE_CLOUD_SERVICE = "AzureCloudService"
    AZURE_SERVICE_FABRIC_CLUSTER = "AzureServiceFabricCluster"
    OFFLINE_DROP = "OfflineDrop"
    STEP_PACKAGE = "StepPackage"
    FTP = "Ftp"
    AWS_ECS_CLUSTER = "AwsEcsCluster"


class WorkerPoolType(StrEnum):
    """``WorkerPoolResource.WorkerPoolType`` values."""

    STATIC = "StaticWorkerPool"
    DYNAMIC = "DynamicWorkerPool"


# ---------------------------------------------------------------------------------------------------------
# Shared small shapes
# ---------------------------------------------------------------------------------------------------------


class SensitiveValue(OctopusModel):
    """A write-only secret (``SensitiveValue``): the server only ever answers ``HasValue``.

    Attributes:
        has_value: whether a value is stored (or, in a request, is being sent).
        new_value: the secret to store; masked in ``repr``, written in full by ``to_json``.
        hint: an optional hint shown in the UI.
    """

    has_value: bool | None = None
    new_value: RevealedSecret | None = None
    hint: str | None = None

    @classmethod
    def of(cls, secret: str) -> SensitiveValue:
        """Build the request form that sets ``secret``: ``{"HasValue": true, "NewValue": secret}``."""
        return cls(has_value=True, new_value=SecretStr(secret))


class Icon(OctopusModel):
    """A built-in icon of a project or space (``{Id, Color}``, newer servers)."""

    id: str | None = None
    color: str | None = None


class NamedReferenceItem(OctopusModel):
    """A reference to an external object, such as an external security group of a team."""

    id: str | None = None
    display_name: str | None = None
    display_id_and_name: bool | None = None


class RetentionPeriod(OctopusModel):
    """How long releases or Tentacle files are kept (``Unit`` is ``Days`` or ``Items``)."""

    unit: str | None = None
    quantity_to_keep: int | None = None
    should_keep_forever: bool | None = None


class ActionTemplateParameter(OctopusModel):
    """A template parameter (project and library-variable-set ``Templates``).

    ``DefaultValue`` is a string over the API and ``{"SensitiveValue": ...}`` inside export archives, so it
    is kept as whatever the server sent.
    """

    id: str | None = None
    name: str | None = None
    label: str | None = None
    help_text: str | None = None
    default_value: Any = None
    display_settings: dict[str, Any] | None = None


class ExtensionSettingsValues(OctopusModel):
    """Settings of one extension (issue trackers, Jira, ...) attached to a project or environment."""

    extension_id: str | None = None
    values: Any = None


# ---------------------------------------------------------------------------------------------------------
# Root, spaces, users, permissions, teams
# ---------------------------------------------------------------------------------------------------------

#: Space-root links that show the server has Project Export/Import (octopus-api.md §1.2).
EXPORT_IMPORT_LINKS: tuple[str, ...] = (
    "ExportProjects",
    "ImportProjects",
    "ProjectImportFiles",
    "ProjectImportPreview",
)


class Root(OctopusResource):
    """The API root document, ``GET /api`` (``RootResource``).

    Attributes:
        version: the server version, e.g. ``2023.1.9626``.
        api_version: the API version, ``3.0.0`` on every known server.
        links: links rendered for the default space; ``Authenticate_<provider>`` hints at login providers.
    """

    application: str | None = None
    version: str | None = None
    api_version: str | None = None
    installation_id: str | None = None
    has_long_term_support: bool | None = None
    is_early_access_program: bool | None = None

    @property
    def supports_export_import(self) -> bool:
        """True when the (default-space) links include every Project Export/Import link."""
        return all(self.link(name) is not None for name in EXPORT_IMPORT_LINKS)


class SpaceRoot(OctopusResource):
    """The space root, ``GET /api/{spaceId}`` (``SpaceRootResource``): links only."""

    @property
    def supports_export_import(self) -> bool:
        """True when this space's links include every Project Export/Import link."""
        return all(self.link(name) is not None for name in EXPORT_IMPORT_LINKS)


class Space(OctopusResource):
    """A space (``SpaceResource``)."""

    name: str | None = None
    slug: str | None = None
    description: str | None = None
    is_default: bool | None = None
    is_private: bool | None = None
    task_queue_stopped: bool | None = None
    space_managers_teams: list[str] | None = None
    space_managers_team_members: list[str] | None = None
    icon: Icon | None = None
    extension_settings: list[ExtensionSettingsValues] | None = None


class IdentityClaim(OctopusModel):
    """One claim of a user identity (``IdentityClaimResource``)."""

    value: str | None = None
    is_identifying_claim: bool | None = None


class Identity(OctopusModel):
    """A login identity of a user with one provider (``IdentityResource``)."""

    identity_provider_name: str | None = None
    claims: dict[str, IdentityClaim] | None = None


class User(OctopusResource):
    """A user (``UserResource``); ``GET /api/users/me`` returns the caller.

    Attributes:
        password: write-only, used when creating a username/password user; masked in ``repr``.
    """

    username: str | None = None
    display_name: str | None = None
    email_address: str | None = None
    is_active: bool | None = None
    is_service: bool | None = None
    is_requestor: bool | None = None
    can_password_be_edited: bool | None = None
    password: RevealedSecret | None = None
    identities: list[Identity] | None = None


class UserPermissionRestriction(OctopusModel):
    """Where a space permission applies; empty ``RestrictedTo*`` lists mean unrestricted."""

    space_id: str | None = None
    restricted_to_environment_ids: list[str] | None = None
    restricted_to_project_ids: list[str] | None = None
    restricted_to_project_group_ids: list[str] | None = None
    restricted_to_tenant_ids: list[str] | None = None

    @property
    def is_unrestricted(self) -> bool:
        """True when no environment, project, project-group or tenant restriction applies."""
        return not (
            self.restricted_to_environment_ids
            or self.restricted_to_project_ids
            or self.restricted_to_project_group_ids
            or self.restricted_to_tenant_ids
        )


class ProjectedTeamReference(OctopusModel):
    """A team a user belongs to, directly or via an external group (``ProjectedTeamReferenceDataItem``)."""

    id: str | None = None
    name: str | None = None
    space_id: str | None = None
    is_directly_assigned: bool | None = None
    external_security_groups: list[NamedReferenceItem] | None = None


class UserPermissionSet(OctopusResource):
    """A user's effective permissions (``UserPermissionSetResource``, ``GET /api/users/{id}/permissions``).

    Attributes:
        system_permissions: system-level permission names (``AdministerSystem``, ``ConfigureServer``...).
        space_permissions: permission name to the spaces (and restrictions) it is granted in.
    """

    system_permissions: list[str] | None = None
    space_permissions: dict[str, list[UserPermissionRestriction]] | None = None
    teams: list[ProjectedTeamReference] | None = None
    is_teams_complete: bool | None = None
    is_permissions_complete: bool | None = None

    def has_system_permission(self, permission: str) -> bool:
        """True when ``permission`` is granted at system level."""
        return permission in (self.system_permissions or [])

    def has_space_permission(self, permission: str, space_id: str, *, unrestricted: bool = True) -> bool:
        """True when ``permission`` is granted in ``space_id``.

        Args:
            permission: the permission name, e.g. ``ProjectEdit``.
            space_id: the space, e.g. ``Spaces-1``.
            unrestricted: require a grant with no environment/project/tenant restriction.
        """
        grants = (self.space_permissions or {}).get(permission) or []
        return any(g.space_id == space_id and (g.is_unrestricted or not unrestricted) for g in grants)


class Team(OctopusResource):
    """A team (``TeamResource``); ``SpaceId`` is null for system teams."""

    name: str | None = None
    description: str | None = None
    space_id: str | None = None
    member_user_ids: list[str] | None = None
    external_security_groups: list[NamedReferenceItem] | None = None
    can_be_deleted: bool | None = None
    can_be_renamed: bool | None = None
    can_change_members: bool | None = None
    can_change_roles: bool | None = None


# ---------------------------------------------------------------------------------------------------------
# Projects, groups, channels, lifecycles, environments
# ---------------------------------------------------------------------------------------------------------


class PersistenceSettings(OctopusModel):
    """Where a project's configuration lives: ``Type`` is ``Database`` or ``VersionControlled``."""

    type: str | None = None
    url: str | None = None
    default_branch: str | None = None
    base_path: str | None = None


class DeploymentConnectivityPolicy(OctopusModel):
    """What a deployment does about unavailable targets (``ProjectConnectivityPolicy``)."""

    skip_machine_behavior: str | None = None
    target_roles: list[str] | None = None
    allow_deployments_to_no_targets: bool | None = None
    exclude_unhealthy_targets: bool | None = None


class VersioningStrategy(OctopusModel):
    """How release versions are chosen (``VersioningStrategyResource``)."""

    template: str | None = None
    donor_package: dict[str, Any] | None = None
    donor_package_step_id: str | None = None


class ReleaseCreationStrategy(OctopusModel):
    """When releases are created automatically (``ReleaseCreationStrategyResource``)."""

    channel_id: str | None = None
    release_creation_package: dict[str, Any] | None = None
    release_creation_package_step_id: str | None = None


class Project(OctopusResource):
    """A project (``ProjectResource``); also parses the project document inside an export archive.

    Attributes:
        is_disabled: set to True (GET-modify-PUT) to disable the source project after a migration.
        cloned_from_project_id: the project this one was cloned from, else None.
    """

    space_id: str | None = None
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    is_disabled: bool | None = None
    project_group_id: str | None = None
    lifecycle_id: str | None = None
    variable_set_id: str | None = None
    deployment_process_id: str | None = None
    cloned_from_project_id: str | None = None
    included_library_variable_set_ids: list[str] | None = None
    discrete_channel_release: bool | None = None
    default_to_skip_if_already_installed: bool | None = None
    tenanted_deployment_mode: str | None = None
    default_guided_failure_mode: str | None = None
    versioning_strategy: VersioningStrategy | None = None
    release_creation_strategy: ReleaseCreationStrategy | None = None
    auto_create_release: bool | None = None
    auto_deploy_release_overrides: list[dict[str, Any]] | None = None
    templates: list[ActionTemplateParameter] | None = None
    release_notes_template: str | None = None
    deployment_changes_template: str | None = None
    extension_settings: list[ExtensionSettingsValues] | None = None
    is_version_controlled: bool | None = None
    persistence_settings: PersistenceSettings | None = None
    project_connectivity_policy: DeploymentConnectivityPolicy | None = None
    force_package_download: bool | None = None
    icon: Icon | None = None
    allow_ignore_channel_rules: bool | None = None
    project_tags: list[str] | None = None


class ProjectGroup(OctopusResource):
    """A project group (``ProjectGroupResource``)."""

    space_id: str | None = None
    name: str | None = None
    description: str | None = None
    environment_ids: list[str] | None = None
    retention_policy_id: str | None = None


class ChannelVersionRule(OctopusModel):
    """A package-version rule of a channel (``ChannelVersionRuleResource``)."""

    id: str | None = None
    version_range: str | None = None
    tag: str | None = None
    action_packages: list[dict[str, Any]] | None = None
    links: dict[str, str] | None = None


class Channel(OctopusResource):
    """A release channel of a project (``ChannelResource``); ``LifecycleId`` null means project default."""

    space_id: str | None = None
    project_id: str | None = None
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    lifecycle_id: str | None = None
    is_default: bool | None = None
    rules: list[ChannelVersionRule] | None = None
    tenant_tags: list[str] | None = None


class Phase(OctopusModel):
    """A phase of a lifecycle (``PhaseResource``)."""

    id: str | None = None
    name: str | None = None
    automatic_deployment_targets: list[str] | None = None
    optional_deployment_targets: list[str] | None = None
    minimum_environments_before_promotion: int | None = None
    is_optional_phase: bool | None = None
    is_priority_phase: bool | None = None
    release_retention_policy: RetentionPeriod | None = None
    tentacle_retention_policy: RetentionPeriod | None = None


class Lifecycle(OctopusResource):
    """A lifecycle (``LifecycleResource``)."""

    space_id: str | None = None
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    phases: list[Phase] | None = None
    release_retention_policy: RetentionPeriod | None = None
    tentacle_retention_policy: RetentionPeriod | None = None


class Environment(OctopusResource):
    """An environment (``EnvironmentResource``)."""

    space_id: str | None = None
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    sort_order: int | None = None
    use_guided_failure: bool | None = None
    allow_dynamic_infrastructure: bool | None = None
    extension_settings: list[ExtensionSettingsValues] | None = None


# ---------------------------------------------------------------------------------------------------------
# Releases and deployments
# ---------------------------------------------------------------------------------------------------------


class SelectedPackage(OctopusModel):
    """A package version chosen for a release step."""

    action_name: str | None = None
    package_reference_name: str | None = None
    step_name: str | None = None
    version: str | None = None


class Release(OctopusResource):
    """A release (``ReleaseResource``)."""

    space_id: str | None = None
    project_id: str | None = None
    channel_id: str | None = None
    version: str | None = None
    release_notes: str | None = None
    assembled: str | None = None
    ignore_channel_rules: bool | None = None
    selected_packages: list[SelectedPackage] | None = None
    selected_git_resources: list[dict[str, Any]] | None = None
    build_information: list[dict[str, Any]] | None = None
    project_deployment_process_snapshot_id: str | None = None
    project_variable_set_snapshot_id: str | None = None
    library_variable_set_snapshot_ids: list[str] | None = None
    version_control_reference: dict[str, Any] | None = None


class Deployment(OctopusResource):
    """A deployment (``DeploymentResource``); its ``TaskId`` is the server task that ran it."""

    space_id: str | None = None
    project_id: str | None = None
    release_id: str | None = None
    channel_id: str | None = None
    environment_id: str | None = None
    tenant_id: str | None = None
    task_id: str | None = None
    deployment_process_id: str | None = None
    manifest_variable_set_id: str | None = None
    name: str | None = None
    created: str | None = None
    deployed_by: str | None = None
    deployed_by_id: str | None = None
    failure_encountered: bool | None = None
    changes: list[dict[str, Any]] | None = None
    changes_markdown: str | None = None
    skip_actions: list[str] | None = None
    specific_machine_ids: list[str] | None = None
    excluded_machine_ids: list[str] | None = None
    deployed_to_machine_ids: list[str] | None = None
    force_package_download: bool | None = None
    force_package_redeployment: bool | None = None
    use_guided_failure: bool | None = None
    comments: str | None = None
    form_values: dict[str, Any] | None = None
    queue_time: str | None = None
    queue_time_expiry: str | None = None
    priority: str | None = None
    tentacle_retention_period: RetentionPeriod | None = None
    change_request_settings: dict[str, Any] | None = None
    execution_plan_log_context: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------------------------------
# Deployment and runbook processes
# ---------------------------------------------------------------------------------------------------------


class DeploymentActionContainer(OctopusModel):
    """The execution container image of an action (or a Kubernetes endpoint's health-check container)."""

    image: str | None = None
    feed_id: str | None = None


class PackageReference(OctopusModel):
    """A package an action uses (``PackageReference``)."""

    id: str | None = None
    name: str | None = None
    package_id: str | None = None
    feed_id: str | None = None
    acquisition_location: str | None = None
    properties: dict[str, Any] | None = None


class DeploymentAction(OctopusModel):
    """An action of a step (``DeploymentActionResource``).

    Attributes:
        properties: action properties; values are strings or ``{Value, IsSensitive, SensitiveValue}``.
        worker_pool_id: the pool the action runs on; empty means the default pool.
        worker_pool_variable: a variable naming the pool, overriding ``worker_pool_id``.
    """

    id: str | None = None
    name: str | None = None
    slug: str | None = None
    action_type: str | None = None
    notes: str | None = None
    is_disabled: bool | None = None
    is_required: bool | None = None
    can_be_used_for_project_versioning: bool | None = None
    condition: str | None = None
    worker_pool_id: str | None = None
    worker_pool_variable: str | None = None
    container: DeploymentActionContainer | None = None
    environments: list[str] | None = None
    excluded_environments: list[str] | None = None
    channels: list[str] | None = None
    tenant_tags: list[str] | None = None
    packages: list[PackageReference] | None = None
    properties: dict[str, Any] | None = None
    last_modified_on: str | None = None
    last_modified_by: str | None = None
    links: dict[str, str] | None = None

    def property_value(self, name: str) -> str | None:
        """Return the plain value of property ``name`` (unwrapping ``{"Value": ...}``), or None."""
        raw = (self.properties or {}).get(name)
        if isinstance(raw, dict):
            raw = raw.get("Value")
        return raw if isinstance(raw, str) else None

    @property
    def run_on_server(self) -> bool:
        """True when the action runs once on a worker/the server (``Octopus.Action.RunOnServer``)."""
        return (self.property_value("Octopus.Action.RunOnServer") or "").lower() == "true"


class DeploymentStep(OctopusModel):
    """A step of a deployment or runbook process (``DeploymentStepResource``)."""

    id: str | None = None
    name: str | None = None
    slug: str | None = None
    package_requirement: str | None = None
    condition: str | None = None
    start_trigger: str | None = None
    properties: dict[str, Any] | None = None
    actions: list[DeploymentAction] | None = None


class DeploymentProcess(OctopusResource):
    """A project's deployment process (``DeploymentProcessResource``)."""

    space_id: str | None = None
    project_id: str | None = None
    version: int | None = None
    last_snapshot_id: str | None = None
    steps: list[DeploymentStep] | None = None


class RunbookProcess(OctopusResource):
    """A runbook's process (``RunbookProcessResource``); same step shape as a deployment process."""

    space_id: str | None = None
    project_id: str | None = None
    runbook_id: str | None = None
    version: int | None = None
    last_snapshot_id: str | None = None
    steps: list[DeploymentStep] | None = None


class Runbook(OctopusResource):
    """A runbook (``RunbookResource``)."""

    space_id: str | None = None
    project_id: str | None = None
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    runbook_process_id: str | None = None
    published_runbook_snapshot_id: str | None = None
    multi_tenancy_mode: str | None = None
    connectivity_policy: DeploymentConnectivityPolicy | None = None
    environment_scope: str | None = None
    environments: list[str] | None = None
    default_guided_failure_mode: str | None = None
    run_retention_policy: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------------------------------
# Variables, tenants, accounts, certificates
# ---------------------------------------------------------------------------------------------------------


class VariablePromptOptions(OctopusModel):
    """How a prompted variable is asked for (``VariablePromptOptions``)."""

    label: str | None = None
    description: str | None = None
    required: bool | None = None
    display_settings: dict[str, Any] | None = None


class Variable(OctopusModel):
    """A variable (``VariableResource``); sensitive values come back as null.

    Attributes:
        scope: scope kind (``Environment``, ``Role``, ``Machine``, ``Channel``...) to ids or names.
    """

    id: str | None = None
    name: str | None = None
    value: str | None = None
    description: str | None = None
    type: str | None = None
    is_sensitive: bool | None = None
    is_editable: bool | None = None
    scope: dict[str, list[str]] | None = None
    prompt: VariablePromptOptions | None = None


class VariableSet(OctopusResource):
    """A variable set (``VariableSetResource``) of a project or library variable set."""

    space_id: str | None = None
    owner_id: str | None = None
    version: int | None = None
    variables: list[Variable] | None = None
    scope_values: dict[str, Any] | None = None


class LibraryVariableSet(OctopusResource):
    """A library variable set or script module (``LibraryVariableSetResource``)."""

    space_id: str | None = None
    name: str | None = None
    description: str | None = None
    variable_set_id: str | None = None
    content_type: str | None = None
    templates: list[ActionTemplateParameter] | None = None


class Tenant(OctopusResource):
    """A tenant (``TenantResource``); ``ProjectEnvironments`` maps project id to environment ids."""

    space_id: str | None = None
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    cloned_from_tenant_id: str | None = None
    is_disabled: bool | None = None
    tenant_tags: list[str] | None = None
    project_environments: dict[str, list[str]] | None = None


class Account(OctopusResource):
    """An account of any ``AccountType``; type-specific fields (keys, secrets) stay as extras."""

    space_id: str | None = None
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    account_type: str | None = None
    environment_ids: list[str] | None = None
    tenant_ids: list[str] | None = None
    tenant_tags: list[str] | None = None
    tenanted_deployment_participation: str | None = None


class Certificate(OctopusResource):
    """A certificate (``CertificateResource``); the certificate data and password are write-only."""

    space_id: str | None = None
    name: str | None = None
    notes: str | None = None
    thumbprint: str | None = None
    certificate_data: SensitiveValue | None = None
    certificate_data_format: str | None = None
    password: SensitiveValue | None = None
    has_private_key: bool | None = None
    is_expired: bool | None = None
    archived: str | None = None
    replaced_by: str | None = None
    not_after: str | None = None
    not_before: str | None = None
    subject_common_name: str | None = None
    subject_distinguished_name: str | None = None
    subject_organization: str | None = None
    subject_alternative_names: list[str] | None = None
    issuer_common_name: str | None = None
    issuer_distinguished_name: str | None = None
    issuer_organization: str | None = None
    self_signed: bool | None = None
    serial_number: str | None = None
    signature_algorithm_name: str | None = None
    certificate_chain: list[dict[str, Any]] | None = None
    environment_ids: list[str] | None = None
    tenant_ids: list[str] | None = None
    tenant_tags: list[str] | None = None
    tenanted_deployment_participation: str | None = None
    version: int | None = None


# ---------------------------------------------------------------------------------------------------------
# Machines, endpoints, workers, worker pools
# ---------------------------------------------------------------------------------------------------------


class MachinePolicy(OctopusResource):
    """A machine policy (``MachinePolicyResource``); the nested policies stay as dicts."""

    space_id: str | None = None
    name: str | None = None
    description: str | None = None
    is_default: bool | None = None
    connection_connect_timeout: str | None = None
    connection_retry_count_limit: int | None = None
    connection_retry_sleep_interval: str | None = None
    connection_retry_time_limit: str | None = None
    polling_request_queue_timeout: str | None = None
    polling_request_maximum_message_processing_timeout: str | None = None
    machine_cleanup_policy: dict[str, Any] | None = None
    machine_connectivity_policy: dict[str, Any] | None = None
    machine_health_check_policy: dict[str, Any] | None = None
    machine_update_policy: dict[str, Any] | None = None


class TentacleVersionDetails(OctopusModel):
    """The Tentacle version a listening or polling endpoint reported."""

    version: str | None = None
    upgrade_locked: bool | None = None
    upgrade_suggested: bool | None = None
    upgrade_required: bool | None = None


class EndpointBase(OctopusModel):
    """Fields every endpoint has. Subclasses fix ``CommunicationStyle`` and always send it."""

    id: str | None = None
    last_modified_on: str | None = None
    last_modified_by: str | None = None
    links: dict[str, str] | None = None

    _always_dump: ClassVar[frozenset[str]] = frozenset({"communication_style"})


class ListeningTentacleEndpoint(EndpointBase):
    """A listening Tentacle (``TentaclePassive``): the server connects to ``Uri`` (port 10933)."""

    communication_style: Literal["TentaclePassive"] = "TentaclePassive"
    uri: str | None = None
    thumbprint: str | None = None
    proxy_id: str | None = None
    tentacle_version_details: TentacleVersionDetails | None = None
    certificate_signature_algorithm: str | None = None


class PollingTentacleEndpoint(EndpointBase):
    """A polling Tentacle (``TentacleActive``): ``Uri`` is ``poll://<subscription id>/``."""

    communication_style: Literal["TentacleActive"] = "TentacleActive"
    uri: str | None = None
    thumbprint: str | None = None
    tentacle_version_details: TentacleVersionDetails | None = None
    certificate_signature_algorithm: str | None = None


class SshEndpoint(EndpointBase):
    """An SSH target or worker (``Ssh``)."""

    communication_style: Literal["Ssh"] = "Ssh"
    host: str | None = None
    port: int | None = None
    fingerprint: str | None = None
    account_id: str | None = None
    uri: str | None = None
    proxy_id: str | None = None
    dot_net_core_platform: str | None = None


class KubernetesAuthentication(OctopusModel):
    """How Octopus authenticates to a cluster; type-specific fields stay as extras."""

    authentication_type: str | None = None
    account_id: str | None = None


class KubernetesEndpoint(EndpointBase):
    """A Kubernetes cluster reached through its API (``Kubernetes``).

    Attributes:
        skip_tls_verification: a boolean, though some servers write the string ``"True"``; kept as sent.
    """

    communication_style: Literal["Kubernetes"] = "Kubernetes"
    cluster_url: str | None = None
    cluster_certificate: str | None = None
    cluster_certificate_path: str | None = None
    namespace: str | None = None
    skip_tls_verification: bool | str | None = None
    proxy_id: str | None = None
    default_worker_pool_id: str | None = None
    container: DeploymentActionContainer | None = None
    authentication: KubernetesAuthentication | None = None
    running_in_container: bool | None = None


class KubernetesTentacleEndpoint(EndpointBase):
    """The Kubernetes agent, a Tentacle running in the cluster (``KubernetesTentacle``)."""

    communication_style: Literal["KubernetesTentacle"] = "KubernetesTentacle"
    tentacle_endpoint_configuration: dict[str, Any] | None = None
    kubernetes_agent_details: dict[str, Any] | None = None
    upgrade_locked: bool | None = None
    default_namespace: str | None = None


class AzureWebAppEndpoint(EndpointBase):
    """An Azure Web App target (``AzureWebApp``)."""

    communication_style: Literal["AzureWebApp"] = "AzureWebApp"
    account_id: str | None = None
    resource_group_name: str | None = None
    web_app_name: str | None = None
    web_app_slot_name: str | None = None
    default_worker_pool_id: str | None = None


class AzureCloudServiceEndpoint(EndpointBase):
    """A legacy Azure Cloud Service target (``AzureCloudService``)."""

    communication_style: Literal["AzureCloudService"] = "AzureCloudService"
    account_id: str | None = None
    cloud_service_name: str | None = None
    storage_account_name: str | None = None
    slot: str | None = None
    swap_if_possible: bool | None = None
    use_current_instance_count: bool | None = None
    default_worker_pool_id: str | None = None


class AzureServiceFabricEndpoint(EndpointBase):
    """An Azure Service Fabric cluster target (``AzureServiceFabricCluster``)."""

    communication_style: Literal["AzureServiceFabricCluster"] = "AzureServiceFabricCluster"
    connection_endpoint: str | None = None
    security_mode: str | None = None
    server_cert_thumbprint: str | None = None
    client_cert_variable: str | None = None
    certificate_store_location: str | None = None
    certificate_store_name: str | None = None
    aad_credential_type: str | None = None
    aad_client_credential_secret: str | None = None
    aad_user_credential_username: str | None = None
    aad_user_credential_password: SensitiveValue | None = None
    default_worker_pool_id: str | None = None


class CloudRegionEndpoint(EndpointBase):
    """A Cloud Region target (``CommunicationStyle`` is the string ``"None"``)."""

    communication_style: Literal["None"] = "None"
    default_worker_pool_id: str | None = None


class OfflineDropDestination(OctopusModel):
    """Where an offline package drop writes (``DestinationType`` is ``Artifact`` or ``FileSystem``)."""

    destination_type: str | None = None
    drop_folder_path: str | None = None


class OfflineDropEndpoint(EndpointBase):
    """An offline package drop target (``OfflineDrop``)."""

    communication_style: Literal["OfflineDrop"] = "OfflineDrop"
    destination: OfflineDropDestination | None = None
    sensitive_variables_encryption_password: SensitiveValue | None = None
    applications_directory: str | None = None
    octopus_working_directory: str | None = None
    drop_folder_path: str | None = None


class StepPackageEndpoint(EndpointBase):
    """A step-package target such as AWS ECS (``StepPackage``)."""

    communication_style: Literal["StepPackage"] = "StepPackage"
    deployment_target_type_id: str | None = None
    step_package_id: str | None = None
    step_package_version: str | None = None
    inputs: dict[str, Any] | None = None
    default_worker_pool_id: str | None = None


class GenericEndpoint(EndpointBase):
    """Any endpoint whose ``CommunicationStyle`` octowiz does not model (``Ftp``, future styles).

    Everything but the common fields is kept as extras, so it round-trips like the others.
    """

    communication_style: str | None = None
    _always_dump: ClassVar[frozenset[str]] = frozenset()


#: The endpoints octowiz models, chosen by ``CommunicationStyle`` in pydantic-core itself: each class
#: fixes the field to one literal. A Python discriminator function did the same at about 7 us per
#: machine, a fifth of validating a page of 30 targets (profiled on the large scenario's listing).
_TaggedEndpoint: TypeAlias = Annotated[
    ListeningTentacleEndpoint
    | PollingTentacleEndpoint
    | SshEndpoint
    | KubernetesEndpoint
    | KubernetesTentacleEndpoint
    | AzureWebAppEndpoint
    | AzureCloudServiceEndpoint
    | AzureServiceFabricEndpoint
    | CloudRegionEndpoint
    | OfflineDropEndpoint
    | StepPackageEndpoint,
    Field(discriminator="communication_style"),
]

#: Any endpoint, parsed into its class by ``CommunicationStyle``. A style octowiz does not model, a
#: missing one, or a body its class refuses is kept as a ``GenericEndpoint``: no endpoint ever fails
#: to parse. Left to right: the tagged classes first, the generic one only when they refuse.
Endpoint: TypeAlias = Annotated[_TaggedEndpoint | GenericEndpoint, Field(union_mode="left_to_right")]

#: Validates and dumps a bare endpoint body (``ENDPOINT_ADAPTER.validate_python(body)``).
ENDPOINT_ADAPTER: TypeAdapter[Endpoint] = TypeAdapter(Endpoint)


class MachineBase(OctopusResource):
    """Fields shared by deployment targets and workers (``MachineResource``).

    Attributes:
        thumbprint: top-level copy of a Tentacle's certificate thumbprint; null for other styles.
        uri: top-level copy of a Tentacle's URI; null for other styles.
        endpoint: how Octopus reaches the machine, parsed by ``CommunicationStyle``.
    """

    space_id: str | None = None
    name: str | None = None
    slug: str | None = None
    thumbprint: str | None = None
    uri: str | None = None
    is_disabled: bool | None = None
    machine_policy_id: str | None = None
    health_status: str | None = None
    status: str | None = None
    status_summary: str | None = None
    has_latest_calamari: bool | None = None
    is_in_process: bool | None = None
    operating_system: str | None = None
    shell_name: str | None = None
    shell_version: str | None = None
    architecture: str | None = None
    endpoint: Endpoint | None = None

    @property
    def communication_style(self) -> str | None:
        """The endpoint's ``CommunicationStyle`` (``TentaclePassive``, ``None``...), or None without one."""
        return self.endpoint.communication_style if self.endpoint is not None else None


class Machine(MachineBase):
    """A deployment target (``DeploymentTargetResource``, ``/machines``)."""

    environment_ids: list[str] | None = None
    roles: list[str] | None = None
    tenant_ids: list[str] | None = None
    tenant_tags: list[str] | None = None
    tenanted_deployment_participation: str | None = None


#: The Octopus name of a ``Machine``.
DeploymentTarget = Machine


class Worker(MachineBase):
    """A worker (``WorkerResource``)."""

    worker_pool_ids: list[str] | None = None


class WorkerPool(OctopusResource):
    """A worker pool (``WorkerPoolResource``); ``WorkerType`` is set on dynamic pools only."""

    space_id: str | None = None
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    sort_order: int | None = None
    is_default: bool | None = None
    can_add_workers: bool | None = None
    worker_pool_type: str | None = None
    worker_type: str | None = None

    @property
    def is_dynamic(self) -> bool:
        """True for an Octopus Cloud dynamic worker pool."""
        return self.worker_pool_type == WorkerPoolType.DYNAMIC


# ---------------------------------------------------------------------------------------------------------
# Feeds and packages
# ---------------------------------------------------------------------------------------------------------


class Feed(OctopusResource):
    """A package feed of any ``FeedType``; secrets come back as ``{"HasValue": true}`` only."""

    space_id: str | None = None
    name: str | None = None
    slug: str | None = None
    feed_type: str | None = None
    feed_uri: str | None = None
    package_acquisition_location_options: list[str] | None = None
    username: str | None = None
    password: SensitiveValue | None = None
    download_attempts: int | None = None
    download_retry_backoff_seconds: int | None = None
    enhanced_mode: bool | None = None
    api_version: str | None = None
    registry_path: str | None = None
    region: str | None = None
    access_key: str | None = None
    secret_key: SensitiveValue | None = None
    is_built_in_repo_sync_enabled: bool | None = None
    delete_unreleased_packages_after_days: int | None = None


class Package(OctopusResource):
    """A package in the built-in feed (``PackageFromBuiltInFeedResource``); ``Links.Raw`` downloads it."""

    package_id: str | None = None
    version: str | None = None
    feed_id: str | None = None
    file_extension: str | None = None
    hash: str | None = None
    package_size_bytes: int | None = None
    published: str | None = None
    release_notes: str | None = None
    summary: str | None = None
    title: str | None = None
    description: str | None = None
    nu_get_package_id: str | None = None
    nu_get_feed_id: str | None = None
    package_version_build_information: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------------------------------
# Triggers
# ---------------------------------------------------------------------------------------------------------


class TriggerFilter(OctopusModel):
    """A trigger's filter; fields beyond ``FilterType`` depend on the type and are kept as extras."""

    filter_type: str | None = None
    id: str | None = None
    links: dict[str, str] | None = None


class TriggerAction(OctopusModel):
    """A trigger's action; fields beyond ``ActionType`` depend on the type and are kept as extras."""

    action_type: str | None = None
    id: str | None = None
    links: dict[str, str] | None = None


class ProjectTrigger(OctopusResource):
    """A project or runbook trigger (``ProjectTriggerResource``); not carried by Export/Import."""

    space_id: str | None = None
    project_id: str | None = None
    name: str | None = None
    description: str | None = None
    is_disabled: bool | None = None
    filter: TriggerFilter | None = None
    action: TriggerAction | None = None


class BuildInformation(OctopusResource):
    """Build information pushed for a package version.

    ``OctopusPackageVersionBuildInformationMappedResource`` in the Swagger document.
    """

    package_id: str | None = None
    version: str | None = None
    branch: str | None = None
    build_environment: str | None = None
    build_number: str | None = None
    build_url: str | None = None
    vcs_type: str | None = None
    vcs_root: str | None = None
    vcs_commit_number: str | None = None
    vcs_commit_url: str | None = None
    commits: list[dict[str, Any]] | None = None
    work_items: list[dict[str, Any]] | None = None
    issue_tracker_name: str | None = None
    incomplete_data_warning: str | None = None
    created: str | None = None


# ---------------------------------------------------------------------------------------------------------
# Server tasks
# ---------------------------------------------------------------------------------------------------------


class ServerTask(OctopusResource):
    """A server task (``TaskResource``): deployments, exports, imports, health checks, scripts.

    Attributes:
        state: one of :class:`TaskState`, kept as the server's string.
        is_completed_flag: the server's ``IsCompleted``; prefer the :attr:`is_completed` property.
        completed: human-readable completion time, not a timestamp.
    """

    space_id: str | None = None
    name: str | None = None
    description: str | None = None
    arguments: dict[str, Any] | None = None
    state: str | None = None
    is_completed_flag: bool | None = Field(default=None, alias="IsCompleted")
    finished_successfully: bool | None = None
    error_message: str | None = None
    has_warnings_or_errors: bool | None = None
    has_pending_interruptions: bool | None = None
    has_been_picked_up_by_processor: bool | None = None
    can_rerun: bool | None = None
    queue_time: str | None = None
    queue_time_expiry: str | None = None
    start_time: str | None = None
    last_updated_time: str | None = None
    completed_time: str | None = None
    completed: str | None = None
    duration: str | None = None
    server_node: str | None = None
    project_id: str | None = None
    estimated_remaining_queue_duration_seconds: float | None = None
    pending_interruption_types: list[str] | None = None

    @property
    def is_completed(self) -> bool:
        """True once the task has stopped for good (``IsCompleted``, else derived from ``State``)."""
        if self.is_completed_flag is not None:
            return self.is_completed_flag
        return self.state in TERMINAL_TASK_STATES

    @property
    def succeeded(self) -> bool:
        """True only for a task that finished successfully (``State == "Success"``)."""
        if self.state is not None:
            return self.state == TaskState.SUCCESS
        return bool(self.finished_successfully)


class TaskProgress(OctopusModel):
    """A task's progress (``TaskProgress``)."""

    progress_percentage: int | None = None
    estimated_time_remaining: str | None = None


class ActivityLogElement(OctopusModel):
    """One log line of an activity (``ActivityLogEntry``)."""

    category: str | None = None
    occurred_at: str | None = None
    message_text: str | None = None
    detail: str | None = None


class ActivityElement(OctopusModel):
    """A node of a task's activity-log tree (``ActivityLogTreeNode``)."""

    id: str | None = None
    name: str | None = None
    started: str | None = None
    ended: str | None = None
    status: str | None = None
    children: list[ActivityElement] | None = None
    show_at_summary_level: bool | None = None
    log_elements: list[ActivityLogElement] | None = None
    progress_percentage: int | None = None
    progress_message: str | None = None


class TaskDetails(OctopusResource):
    """A task with its progress and log tree (``TaskDetailsResource``, ``GET /api/tasks/{id}/details``)."""

    task: ServerTask | None = None
    progress: TaskProgress | None = None
    physical_log_size: int | None = None
    activity_logs: list[ActivityElement] | None = None


class CreateServerTask(OctopusModel):
    """The body of ``POST /api/tasks``: a task name and its arguments."""

    name: str | None = None
    description: str | None = None
    space_id: str | None = None
    arguments: dict[str, Any] | None = None
    queue_time: str | None = None
    queue_time_expiry: str | None = None


class AdHocScriptArguments(OctopusModel):
    """Arguments of an ``AdHocScript`` task (the script console).

    Attributes:
        syntax: ``PowerShell`` or ``Bash``.
        target_type: ``Machines``, ``Environments``, ``Workers``, ``WorkerPools`` or ``OctopusServer``.
    """

    script_body: str | None = None
    syntax: str | None = None
    target_type: str | None = None
    machine_ids: list[str] | None = None
    environment_ids: list[str] | None = None
    target_roles: list[str] | None = None
    worker_ids: list[str] | None = None
    worker_pool_ids: list[str] | None = None
    action_template_id: str | None = None
    properties: dict[str, Any] | None = None


class AdHocScriptTask(OctopusModel):
    """The body of ``POST /api/tasks`` that runs a script console task; ``Name`` is always sent."""

    name: str = "AdHocScript"
    description: str | None = None
    space_id: str | None = None
    arguments: AdHocScriptArguments | None = None

    _always_dump: ClassVar[frozenset[str]] = frozenset({"name"})


class Artifact(OctopusResource):
    """A file attached to a task (``ArtifactResource``); ``Links.Content`` downloads it."""

    space_id: str | None = None
    filename: str | None = None
    source: str | None = None
    server_task_id: str | None = None
    created: str | None = None
    log_correlation_id: str | None = None


# ---------------------------------------------------------------------------------------------------------
# Server configuration, nodes, authentication
# ---------------------------------------------------------------------------------------------------------


class OctopusServerNode(OctopusResource):
    """An Octopus Server node; ``MaxConcurrentTasks`` is its task cap, ``IsInMaintenanceMode`` drains it."""

    name: str | None = None
    max_concurrent_tasks: int | None = None
    is_in_maintenance_mode: bool | None = None
    rank: str | None = None


class OctopusServerNodeSummary(OctopusResource):
    """One node of ``GET /api/octopusservernodes/summary``."""

    name: str | None = None
    max_concurrent_tasks: int | None = None
    is_in_maintenance_mode: bool | None = None
    last_seen: str | None = None
    is_offline: bool | None = None
    running_task_count: int | None = None
    rank: str | None = None


class OctopusServerClusterSummary(OctopusResource):
    """The body of ``GET /api/octopusservernodes/summary``."""

    nodes: list[OctopusServerNodeSummary] | None = None


#: The name the brief and the .NET client use for the cluster summary.
ClusterSummary = OctopusServerClusterSummary


class OctopusServerNodeDetails(OctopusResource):
    """The body of ``GET /api/octopusservernodes/{id}/details``."""

    running_tasks: int | None = None


class MaintenanceConfiguration(OctopusResource):
    """Global maintenance mode (``GET/PUT /api/maintenanceconfiguration``)."""

    is_in_maintenance_mode: bool | None = None


class FeaturesConfiguration(OctopusResource):
    """Server feature switches (``GET/PUT /api/featuresconfiguration``)."""

    is_built_in_worker_enabled: bool | None = None
    is_community_action_templates_enabled: bool | None = None
    is_configuration_as_code_enabled: bool | None = None
    is_action_containers_enabled: bool | None = None
    is_azure_zip_deploy_enabled: bool | None = None
    is_help_sidebar_enabled: bool | None = None
    is_kubernetes_enabled: bool | None = None
    is_step_ui_framework_enabled: bool | None = None
    help_sidebar_support_link: str | None = None


class AuthenticationProviderElement(OctopusModel):
    """An enabled login provider (``AuthenticationProviderElement``)."""

    name: str | None = None
    display_name: str | None = None
    identity_type: str | None = None
    forms_login_enabled: bool | None = None
    links: dict[str, str] | None = None
    javascript_links: list[str] | None = None
    css_links: list[str] | None = Field(default=None, alias="CSSLinks")


class AuthenticationResource(OctopusResource):
    """The enabled authentication providers (``GET /api/authentication``)."""

    any_authentication_providers_support_password_management: bool | None = None
    auto_login_enabled: bool | None = None
    authentication_providers: list[AuthenticationProviderElement] | None = None
    api_key_default_expiry_days: int | None = None
    api_key_max_expiry_days: int | None = None
    remember_me_enabled: bool | None = None
    user_api_keys_enabled: bool | None = None


class UserAuthentication(OctopusResource):
    """Providers and edit rights for a user's logins (``GET /api/users/authentication/{userId}``)."""

    authentication_providers: list[AuthenticationProviderElement] | None = None
    can_current_user_edit_identities_for_user: bool | None = None


class ConfigurationSection(OctopusResource):
    """An item of ``GET /api/configuration`` (``ConfigurationSectionMetadata``); see ``Links.Values``."""

    name: str | None = None
    description: str | None = None


class OctopusErrorBody(OctopusModel):
    """The body of an Octopus error response, whatever the status code (``Error``)."""

    error_message: str | None = None
    errors: list[str] | None = None
    full_exception: str | None = None
    help_text: str | None = None
    help_link: str | None = None
    parsed_help_links: list[str] | None = None
    details: Any = None


# ---------------------------------------------------------------------------------------------------------
# Collections and events
# ---------------------------------------------------------------------------------------------------------

ItemT = TypeVar("ItemT")


class ResourceCollection(OctopusResource, Generic[ItemT]):
    """One page of a collection (``ResourceCollection<T>``).

    Attributes:
        last_page_number: zero-based.
        links: ``Self``, ``Template``, ``Page.All``, ``Page.Current``, ``Page.Last`` and ``Page.Next`` (only
            when there is a next page).
        is_stale: RavenDB-era servers only.
    """

    item_type: str | None = None
    total_results: int | None = None
    items_per_page: int | None = None
    number_of_pages: int | None = None
    last_page_number: int | None = None
    items: list[ItemT] = Field(default_factory=list)
    is_stale: bool | None = None

    @property
    def next_page(self) -> str | None:
        """The ``Page.Next`` link, or None on the last page."""
        return self.link("Page.Next")


class Event(OctopusResource):
    """An audit event (``EventResource``); loosely typed, for counting and display."""

    space_id: str | None = None
    category: str | None = None
    occurred: str | None = None
    message: str | None = None
    message_html: str | None = None
    message_references: list[dict[str, Any]] | None = None
    related_document_ids: list[str] | None = None
    user_id: str | None = None
    username: str | None = None
    is_service: bool | None = None
    identity_established_with: str | None = None
    user_agent: str | None = None
    ip_address: str | None = None
    comments: str | None = None
    details: str | None = None
    change_details: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------------------------------
# Project Export/Import contracts (octopus-api.md §5.2) and the export archive
# ---------------------------------------------------------------------------------------------------------


class ProjectExportRequest(OctopusModel):
    """The body of ``POST /api/{spaceId}/projects/import-export/export``."""

    included_project_ids: list[str] | None = None
    password: SensitiveValue | None = None


class ProjectExportResponse(OctopusModel):
    """The answer to an export request: the server task that builds the archive."""

    task_id: str | None = None
    project_ids: list[str] | None = None


class ProjectImportSource(OctopusModel):
    """Where an import reads the archive: ``Type`` is ``upload`` (with ``UploadedFileId``) or ``space``.

    The ``Type`` values must be lower case.
    """

    type: str | None = None
    uploaded_file_id: str | None = None
    space_id: str | None = None
    task_id: str | None = None

    @classmethod
    def upload(cls, uploaded_file_id: str) -> ProjectImportSource:
        """An archive uploaded through ``ProjectImportFiles``."""
        return cls(type="upload", uploaded_file_id=uploaded_file_id)

    @classmethod
    def from_space(cls, space_id: str, task_id: str) -> ProjectImportSource:
        """The archive of export task ``task_id`` in another space of the same instance."""
        return cls(type="space", space_id=space_id, task_id=task_id)


class ProjectImportRequest(OctopusModel):
    """The body of ``POST /api/{spaceId}/projects/import-export/import``."""

    import_source: ProjectImportSource | None = None
    password: SensitiveValue | None = None


class ProjectImportPreviewRequest(ProjectImportRequest):
    """The body of ``POST .../import-export/import/preview``: same shape as an import request."""


class ProjectImportResponse(OctopusModel):
    """The answer to an import request: the server task that imports."""

    task_id: str | None = None


class ProjectImportFile(OctopusModel):
    """An uploaded archive waiting to be imported."""

    id: str | None = None
    file_name: str | None = None


class ProjectImportFileListResponse(OctopusModel):
    """The body of ``GET .../import-export/import-files``."""

    project_import_files: list[ProjectImportFile] | None = None


class DocumentSummary(OctopusModel):
    """A shared document an import would create or match (accounts, feeds)."""

    name: str | None = None
    type: str | None = None


class WorkerPoolSummary(DocumentSummary):
    """A worker pool an import would create or match; ``IsDynamic`` for Cloud dynamic pools."""

    is_dynamic: bool | None = None


class ImportProjectSummary(OctopusModel):
    """A project an import would create, with its channels and runbooks."""

    name: str | None = None
    channels: list[str] | None = None
    runbooks: list[str] | None = None


class ProjectImportPreviewResponse(OctopusModel):
    """What an import would create or match on the destination."""

    accounts: list[DocumentSummary] | None = None
    certificates: list[str] | None = None
    environments: list[str] | None = None
    feeds: list[DocumentSummary] | None = None
    lifecycles: list[str] | None = None
    projects: list[ImportProjectSummary] | None = None
    worker_pools: list[WorkerPoolSummary] | None = None


class ManifestEntry(OctopusModel):
    """One document listed in an export archive's ``manifest.json``."""

    id: str | None = None
    name: str | None = None
    document_type: str | None = None
    export_type: str | None = None
    document_source: str | None = None
    parent_id: str | None = None
    hash: str | None = None


class ExportManifest(OctopusModel):
    """An export archive's ``manifest.json``.

    Attributes:
        schema_versions: the database migration scripts of the exporting server.
        hello: two base64 parts; apparently a password check value (unconfirmed).
    """

    schema_versions: list[str] | None = None
    entries: list[ManifestEntry] | None = None
    hello: str | None = None


class ArchiveDocument(OctopusModel):
    """Any document file inside an export archive; ids carry a 32-hex suffix, everything else is kept."""

    id: str | None = None
    space_id: str | None = None
    name: str | None = None
    slug: str | None = None
    last_modified: str | None = None
    data_version: str | None = None
