"""A deterministic 30-project wave on the demo Server, for the chaos runs.

The demo scenario has 13 projects, and only some of them migrate cleanly (others use external feeds,
version control, a 6 GiB package, 2,150 releases). :func:`chaos_sim` takes the demo on the fast clock
the engine tests use, adds 27 projects built with the simulator's own factory (processes with built-in
feed packages and script steps, variable sets with sensitive and scoped values, channels, releases that
select package versions, logos, triggers of two kinds, runbooks) and six Tentacle targets on their own
hosts that the new projects deploy to, and prepares the lab the way its admins would before a cut-over
(every Tentacle up, the SSH host reachable, run-on-server steps moved to a worker pool), so every stage
of migrate, targets and cutover has work to do and an uninterrupted run ends with everything verified,
healthy and disabled.
"""

from __future__ import annotations

from typing import Any

from octowiz.sim import factory as f
from octowiz.sim.simulator import Simulator
from tests.engine.test_migrate import WAVE, fast_sim, steps_to_workers
from tests.test_cli_cutover import ready

#: How many projects the chaos wave holds.
PROJECTS = 30
#: The seed of the added projects' random values (ids come from the store, in order).
WORLD_SEED = 3011
#: The demo projects known to migrate and verify (tests/engine/test_migrate.py's wave).
DEMO_PROJECTS = tuple(WAVE)
#: Names of the added projects, in the order they are created.
NAMES = (
    "Northwind Orders", "Northwind Payments", "Northwind Catalog", "Northwind Search", "Northwind Invoicing",
    "Contoso Intranet", "Contoso Timesheets", "Contoso Expenses", "Contoso Directory", "Contoso Wiki",
    "Fabrikam Shipping", "Fabrikam Tracking", "Fabrikam Returns", "Fabrikam Labels", "Fabrikam Rates",
    "Tailspin Booking", "Tailspin Loyalty", "Tailspin Pricing", "Tailspin Notifications",
    "Woodgrove Ledger", "Woodgrove Statements", "Woodgrove Fraud Rules", "Woodgrove Reconciliation",
    "Litware Reports", "Litware Exports", "Litware Scheduler", "Litware Archive",
)  # fmt: skip
#: The Tentacles the added projects reach: name, endpoint (listening URI or polling), environment, roles,
#: OS, and a machine policy other than the default (its copy is created on Cloud when the first is cloned).
MACHINES = (
    ("orders-test-01", "https://10.0.7.21:10933/", "Test", ("orders-api",), "windows", None),
    ("orders-prod-01", "https://10.0.7.31:10933/", "Production", ("orders-api",), "windows", None),
    ("payments-test-01", "poll", "Test", ("payments",), "linux", None),
    ("payments-prod-01", "poll", "Production", ("payments",), "linux", None),
    ("batch-dev-01", "poll", "Development", ("batch", "reports"), "linux", "Transient Machines"),
    ("reports-prod-01", "https://10.0.7.41:10933/", "Production", ("reports",), "windows", None),
)
#: Roles each added project deploys to, in turn (the demo's own roles reach the demo's machines).
ROLES = (("orders-api",), ("payments",), ("reports",), ("batch",), ("web-server",), ("db-server",))
#: Packages in the built-in feed the added projects deploy (some shared, some the demo's own).
PACKAGES = {
    "Northwind.Services": ["2.0.0", "2.1.0", "2.2.0"],
    "Contoso.Portal": ["5.0.1", "5.0.2"],
    "Fabrikam.Logistics": ["1.4.0", "1.5.0"],
    "Tailspin.Travel": ["0.9.0", "1.0.0"],
    "Woodgrove.Finance": ["7.1.0", "7.2.0"],
    "Litware.Batch": ["3.0.0", "3.0.1"],
}
#: A project whose test deployment the cut-over runs (besides the demo's Acme Web), and its environment.
TESTED = ("Acme Web", "Northwind Orders")


def _by_name(sim: Simulator, coll: str) -> dict[str, str]:
    return {str(d["Name"]): str(d["Id"]) for d in sim.server.store.all(coll)}


def _add_machines(g: f.Gen, sim: Simulator) -> None:
    envs, policies = _by_name(sim, "environments"), _by_name(sim, "machinepolicies")
    for name, uri, env, roles, os_kind, policy in MACHINES:
        endpoint = f.polling_endpoint(g) if uri == "poll" else f.listening_endpoint(g, uri)
        g.add(
            "machines",
            f.target_doc(
                g.id("machines"),
                name,
                endpoint,
                environment_ids=[envs[env]],
                roles=roles,
                os_kind=os_kind,
                policy_id=policies[policy] if policy else f.DEFAULT_MACHINE_POLICY_ID,
            ),
        )


def _add_packages(g: f.Gen) -> None:
    age = 300.0
    for package_id, versions in PACKAGES.items():
        for version in versions:
            f.add_builtin_package(g, package_id, version, published=f.stamp(days=age))
            age -= 11


def _add_project(g: f.Gen, sim: Simulator, n: int, name: str) -> str:
    """One project, its parts and its history, built as the demo builds its own."""
    store = sim.server.store
    envs, groups = _by_name(sim, "environments"), _by_name(sim, "projectgroups")
    lifecycles, pools = _by_name(sim, "lifecycles"), _by_name(sim, "workerpools")
    library = _by_name(sim, "libraryvariablesets")
    dev, test, prod = envs["Development"], envs["Test"], envs["Production"]
    pid = g.id("projects")
    roles = list(ROLES[n % len(ROLES)])
    package_id = list(PACKAGES)[n % len(PACKAGES)] if n % 7 else "Acme.Web"  # a version the demo ships too
    versions = PACKAGES.get(package_id) or ["1.1.0", "1.2.0"]
    slug = f.slugify(name)
    package_step = f.step(
        g,
        "Deploy package",
        f.action(
            g,
            "Deploy package",
            "Octopus.TentaclePackage",
            {"Octopus.Action.Package.AutomaticallyRunConfigurationTransformationFiles": "True"},
            packages=[f.package_ref(g, package_id, f.BUILTIN_FEED_ID)],
        ),
        roles=roles,
    )
    steps = [
        # Run on the Server here; moved to a worker pool before the migration, as the guide says.
        f.step(
            g,
            "Announce",
            f.action(
                g,
                "Announce",
                "Octopus.Script",
                f.script_props(f"Write-Host 'Deploying {name}'", run_on_server=True),
            ),
        ),
        package_step,
        f.step(
            g,
            "Smoke test",
            f.action(
                g,
                "Smoke test",
                "Octopus.Script",
                f.script_props(
                    f"curl -fsS https://{slug}.corp.local/health", run_on_server=False, syntax="Bash"
                ),
            ),
            roles=roles,
        ),
    ]
    logo = None
    if n % 3 == 0:
        store.blob_put(f"logo/{pid}", f.png_bytes((40 + 7 * n, 200 - 5 * n, 90 + 3 * n)))
        logo = f"logo-{g.hex(12).lower()}"
    lifecycle = lifecycles["Hotfix"] if n % 9 == 4 else lifecycles["Standard"]
    g.add(
        "projects",
        f.project_doc(
            pid,
            name,
            group_id=groups[("Web Applications", "Back Office", "Platform")[n % 3]],
            lifecycle_id=lifecycle,
            description=f"{name}, moved to Octopus Cloud in the chaos wave",
            library_sets=[library["Common Settings"]] if n % 2 == 0 else [],
            logo_stamp=logo,
        ),
    )
    default = g.add("channels", f.channel_doc(g.id("channels"), pid, "Default", default=True))
    channels = [default]
    if n % 4 == 1:
        rule = {
            "Id": g.guid(),
            "ActionPackages": [{"DeploymentAction": "Deploy package", "PackageReference": ""}],
            "VersionRange": "",
            "Tag": "^hotfix",
        }
        channels.append(
            g.add(
                "channels",
                f.channel_doc(
                    g.id("channels"),
                    pid,
                    "Hotfix",
                    default=False,
                    lifecycle_id=lifecycles["Hotfix"],
                    rules=[rule],
                ),
            )
        )
    g.add("deploymentprocesses", f.process_doc(f"deploymentprocess-{pid}", pid, steps))
    runbooks: list[dict[str, Any]] = []
    if n % 4 == 2:
        rb = g.add("runbooks", f.runbook_doc(g.id("runbooks"), pid, "Restart service", f"Restart {name}"))
        body = f.script_props(f"systemctl restart {slug}", run_on_server=False, syntax="Bash")
        act = f.action(g, "Restart service", "Octopus.Script", body, worker_pool_id=pools["Linux Workers"])
        g.add(
            "runbookprocesses",
            f.process_doc(
                rb["RunbookProcessId"], pid, [f.step(g, "Restart service", act)], runbook_id=rb["Id"]
            ),
        )
        runbooks.append(rb)
    actions = [a for s in steps for a in s["Actions"]]
    variables = [
        f.variable(g, "App.Url", f"https://test.{slug}.corp.local", scope={"Environment": [test]}),
        f.variable(g, "App.Url", f"https://{slug}.example.com", scope={"Environment": [prod]}),
        f.variable(g, "App.LogLevel", "Debug", scope={"Environment": [dev, test], "Role": roles}),
        f.variable(g, "App.LogLevel", "Warning"),
        f.variable(g, "App.ApiKey", f"{slug}-key-{g.hex(8)}", sensitive=True, scope={"Environment": [prod]}),
        f.variable(g, "App.StepTimeoutSeconds", "600", scope={"Action": [actions[1]["Id"]]}),
    ]
    if len(channels) > 1:
        variables.append(f.variable(g, "App.ReleaseRing", "hotfix", scope={"Channel": [channels[1]["Id"]]}))
    processes = [{"ProcessType": "Deployment", "Id": pid, "Name": name}]
    processes += [{"ProcessType": "Runbook", "Id": rb["Id"], "Name": rb["Name"]} for rb in runbooks]
    all_roles = sorted({r for m in store.all("machines") for r in m.get("Roles") or []})
    g.add(
        "variables",
        f.variable_set_doc(
            pid,
            variables,
            {
                "Environments": [{"Id": e, "Name": k} for k, e in envs.items()],
                "Machines": [],
                "Actions": [{"Id": a["Id"], "Name": a["Name"]} for a in actions],
                "Roles": [{"Id": r, "Name": r} for r in all_roles],
                "Channels": [{"Id": c["Id"], "Name": c["Name"]} for c in channels],
                "TenantTags": [],
                "Processes": processes,
            },
        ),
    )
    for i, version in enumerate(versions[-2:]):
        selected = [
            {
                "ActionName": "Deploy package",
                "PackageReferenceName": "",
                "StepName": "Deploy package",
                "Version": version,
            }
        ]
        g.add(
            "releases",
            f.release_doc(
                g.id("releases"),
                pid,
                default["Id"],
                f"{1 + n // 10}.{n % 10}.{i}",
                assembled=f.stamp(days=40 - 10 * i + n / 10),
                selected=selected,
                snapshot=f"{i + 1}-{g.letters(5)}",
            ),
        )
    _add_triggers(g, pid, n, test, prod, default["Id"])
    return pid


def _add_triggers(g: f.Gen, pid: str, n: int, test: str, prod: str, channel: str) -> None:
    triggers: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = []
    if n % 3 == 1:
        triggers.append(
            (
                "Nightly deploy to Test",
                {
                    "FilterType": "OnceDailySchedule",
                    "StartTime": "2026-01-01T02:00:00.000+00:00",
                    "DaysOfWeek": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
                    "Timezone": "UTC",
                },
                {
                    "ActionType": "DeployNewRelease",
                    "EnvironmentId": test,
                    "ChannelId": None,
                    "TenantIds": [],
                    "TenantTags": [],
                    "Variables": None,
                },
                False,
            )
        )
    if n % 5 == 3:
        # Disabled on the Server: it stays disabled on Cloud through the cut-over.
        triggers.append(
            (
                "Weekly promotion",
                {
                    "FilterType": "CronExpressionSchedule",
                    "CronExpression": "0 0 6 * * Mon",
                    "Timezone": "UTC",
                },
                {
                    "ActionType": "DeployLatestRelease",
                    "SourceEnvironmentIds": [test],
                    "DestinationEnvironmentId": prod,
                    "ShouldRedeployWhenReleaseIsCurrent": False,
                    "Variables": None,
                    "TenantIds": [],
                    "TenantTags": [],
                },
                True,
            )
        )
    for name, flt, act, disabled in triggers:
        g.add(
            "projecttriggers",
            {
                "Id": g.id("projecttriggers"),
                "SpaceId": f.SPACE_ID,
                "ProjectId": pid,
                "Name": name,
                "Description": "",
                "IsDisabled": disabled,
                "Filter": flt,
                "Action": act,
            },
        )


def chaos_sim(projects: int = PROJECTS) -> tuple[Simulator, list[str]]:
    """The demo on the fast clock with ``projects`` - 3 projects added: the simulator and the wave's ids."""
    if not len(DEMO_PROJECTS) <= projects <= len(DEMO_PROJECTS) + len(NAMES):
        raise ValueError(
            f"a chaos wave holds {len(DEMO_PROJECTS)} to {len(DEMO_PROJECTS) + len(NAMES)} projects"
        )
    sim = fast_sim()
    store = sim.server.store
    g = f.Gen(store, "server", sim.server.config.version, WORLD_SEED)
    added: list[str] = []
    with store.batch():
        _add_machines(g, sim)
        _add_packages(g)
        for n, name in enumerate(NAMES[: projects - len(DEMO_PROJECTS)]):
            added.append(_add_project(g, sim, n, name))
    steps_to_workers(sim)
    ready(sim)
    return sim, [*DEMO_PROJECTS, *added]
