"""The simulated Tentacle hosts: golden clone scripts run there, script console tasks, health checks."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from octowiz.engine.cutover.scripts import (
    API_KEY_ENV,
    CloudTarget,
    HostPlan,
    Registration,
    clone_instance_name,
    parse_console_report,
    script,
)
from octowiz.octopus.client import OctopusClient
from octowiz.octopus.errors import TaskFailed
from octowiz.sim.keys import CLOUD_MANAGER, CLOUD_READER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator
from tests.conftest import FakeTime

GOLDEN = Path(__file__).parents[1] / "engine" / "golden" / "scripts"
KEY = {API_KEY_ENV: CLOUD_MANAGER.api_key}
#: A Windows host (web01's) and a Linux host (app-dev-01's) of the demo Server.
HOST = {"windows": "web01", "linux": "app-dev-01"}


def seed_cloud(sim: Simulator) -> None:
    """What the golden registrations name on Cloud: an environment, a tenant, a tag, a worker pool."""
    store = sim.cloud.store
    store.insert(
        "environments",
        {"SpaceId": "Spaces-1", "Name": "Production", "Slug": "production"},
        prefix="Environments",
    )
    store.insert("tenants", {"SpaceId": "Spaces-1", "Name": "Contoso", "Slug": "contoso"}, prefix="Tenants")
    store.insert(
        "tagsets",
        {"SpaceId": "Spaces-1", "Name": "Customer Tier", "Tags": [{"Id": "TagSets-9-1", "Name": "Gold"}]},
        prefix="TagSets",
    )
    store.insert(
        "workerpools",
        {"SpaceId": "Spaces-1", "Name": "Windows Workers", "Slug": "windows-workers"},
        prefix="WorkerPools",
    )


@pytest.fixture
def sim(fake_time: FakeTime) -> Iterator[Simulator]:
    simulator = Simulator(None, "demo", clock=fake_time)
    seed_cloud(simulator)
    yield simulator
    simulator.close()


@pytest.fixture
async def clients(sim: Simulator, fake_time: FakeTime) -> AsyncIterator[tuple[OctopusClient, OctopusClient]]:
    transport = sim.transport()
    server = OctopusClient(sim.server_url, SERVER_ADMIN.api_key, transport=transport, sleep=fake_time.sleep)
    cloud = OctopusClient(sim.cloud_url, CLOUD_MANAGER.api_key, transport=transport, sleep=fake_time.sleep)
    await server.discover()
    await cloud.discover()
    yield server, cloud
    await server.aclose()
    await cloud.aclose()


def original(sim: Simulator, host: str) -> dict[str, Any]:
    doc = sim.hosts.host(host)
    return copy.deepcopy(next(i for i in doc["Instances"] if i["Name"] == "Tentacle"))


def cloud_named(sim: Simulator, name: str) -> dict[str, Any]:
    docs = [*sim.cloud.store.all("machines"), *sim.cloud.store.all("workers")]
    return next(d for d in docs if d["Name"] == name)


async def health(sim: Simulator, cloud: OctopusClient, doc_id: str) -> dict[str, Any]:
    task = await cloud.create_task(
        {
            "Name": "Health",
            "Description": "Check the clone",
            "Arguments": {"MachineIds": [doc_id], "Timeout": "00:05:00"},
        }
    )
    await cloud.wait_for_task(task.id or "", poll_interval=1)
    coll = "workers" if doc_id.startswith("Workers") else "machines"
    return dict(sim.cloud.store.get(coll, doc_id) or {})


DOWNLOADS = sorted(p.name for p in GOLDEN.glob("*-download.*"))
CONSOLES = sorted(p.name for p in GOLDEN.glob("*-console.*"))


def test_the_golden_files_are_there() -> None:
    assert len(DOWNLOADS) == 10 and len(CONSOLES) == 10


@pytest.mark.parametrize("filename", DOWNLOADS)
async def test_each_downloaded_golden_script_registers_its_clone_on_cloud(
    sim: Simulator, clients: tuple[OctopusClient, OctopusClient], filename: str
) -> None:
    os_name, comms, kind = filename.split("-")[:3]
    host = HOST[os_name]
    before = original(sim, host)
    code, out = sim.run_on_host(host, (GOLDEN / filename).read_text(), KEY)
    assert code == 0, out
    assert CLOUD_MANAGER.api_key not in out
    assert original(sim, host) == before  # the original instance is untouched
    name = f"{'polling' if comms.startswith('polling') else comms}-{kind}"
    doc = cloud_named(sim, name)
    endpoint = doc["Endpoint"]
    if kind == "target":
        assert doc["EnvironmentIds"] and doc["Roles"] == ["web-server", "app-server"]
        assert (
            doc["TenantTags"] == ["Customer Tier/Gold"]
            and doc["TenantedDeploymentParticipation"] == "TenantedOrUntenanted"
        )
    else:
        assert len(doc["WorkerPoolIds"]) == 1
    clone = next(i for i in sim.hosts.host(host)["Instances"] if i["Thumbprint"] == doc["Thumbprint"])
    if comms == "listening":
        assert endpoint["CommunicationStyle"] == "TentaclePassive"
        assert endpoint["Uri"] == f"https://web01.example.com:{clone['Port']}/"
    else:
        assert endpoint["CommunicationStyle"] == "TentacleActive" and endpoint["Uri"].startswith("poll://")
        assert any(t["SubscriptionId"] == endpoint["Uri"] for t in clone["Trusted"])
    checked = await health(sim, clients[1], doc["Id"])
    assert checked["HealthStatus"] == "Healthy", checked["StatusSummary"]


@pytest.mark.parametrize("filename", CONSOLES)
async def test_each_console_golden_script_runs_through_the_servers_script_console(
    sim: Simulator, clients: tuple[OctopusClient, OctopusClient], filename: str
) -> None:
    server, cloud = clients
    os_name, comms, kind = filename.split("-")[:3]
    machine = next(m for m in sim.server.store.all("machines") if m["Name"] == HOST[os_name])
    before = original(sim, HOST[os_name])
    body = (GOLDEN / filename).read_text()
    task = await server.run_script(
        {
            "Name": "AdHocScript",
            "Description": "octowiz: clone the Tentacle for Octopus Cloud",
            "SpaceId": "Spaces-1",
            "Arguments": {
                "MachineIds": [machine["Id"]],
                "TargetType": "Machines",
                "Syntax": "PowerShell" if os_name == "windows" else "Bash",
                "ScriptBody": body,
            },
        }
    )
    await server.wait_for_task(task.id or "", poll_interval=1)
    log = await server.task_log(task.id or "")
    reports = parse_console_report(log)
    assert len(reports) == 1, log
    report = next(iter(reports.values()))
    assert original(sim, HOST[os_name]) == before
    # octowiz registers it through the REST API with its own key, exactly as the flags would.
    name = f"{'polling' if comms.startswith('polling') else comms}-{kind}"
    if comms.startswith("polling"):
        assert report.subscription_id is not None
        endpoint = {
            "CommunicationStyle": "TentacleActive",
            "Uri": report.subscription_id,
            "Thumbprint": report.thumbprint,
        }
    else:
        assert report.subscription_id is None
        port = 10934 if kind == "target" else 10935
        endpoint = {
            "CommunicationStyle": "TentaclePassive",
            "Uri": f"https://web01.example.com:{port}/",
            "Thumbprint": report.thumbprint,
        }
    env = sim.cloud.store.first("environments", lambda d: d["Name"] == "Production")
    pool = sim.cloud.store.first("workerpools", lambda d: d["Name"] == "Windows Workers")
    assert env is not None and pool is not None
    if kind == "target":
        payload = {"Name": name, "Endpoint": endpoint, "EnvironmentIds": [env["Id"]], "Roles": ["web-server"]}
        created = (await cloud.request("POST", cloud.space_path("machines"), json=payload)).json()
    else:
        payload = {"Name": name, "Endpoint": endpoint, "WorkerPoolIds": [pool["Id"]]}
        created = (await cloud.request("POST", cloud.space_path("workers"), json=payload)).json()
    checked = await health(sim, cloud, created["Id"])
    assert checked["HealthStatus"] == "Healthy", checked["StatusSummary"]


def bash_plan(name: str = "web-clone", comms: str = "polling") -> HostPlan:
    reg = Registration(
        "Machines-9",
        name,
        "target",
        comms,  # type: ignore[arg-type]
        ("Production",),
        ("web-server",),
        listening_port=10950 if comms == "listening" else None,
        public_hostname="web01.example.com",
    )
    return HostPlan("app-dev-01", "linux", (reg,))


def cloud_target(sim: Simulator) -> CloudTarget:
    thumb = (sim.cloud.store.get("config", "certificate-global") or {})["Thumbprint"]
    return CloudTarget(sim.cloud_url, "Default", thumbprint=thumb)


def test_unknown_commands_and_flags_are_refused(sim: Simulator) -> None:
    code, out = sim.run_on_host(
        "app-dev-01", "set -e\n/opt/octopus/tentacle/Tentacle configure --instance Tentacle --bogus 1\n"
    )
    assert code == 1 and "Unrecognized command line arguments: --bogus 1" in out
    code, out = sim.run_on_host("app-dev-01", "/opt/octopus/tentacle/Tentacle frobnicate\n")
    assert code == 1 and "Command 'frobnicate' is not supported" in out
    # service has no --config (Startup/ServiceCommand.cs), so the table refuses it there.
    code, out = sim.run_on_host("app-dev-01", "/opt/octopus/tentacle/Tentacle service --config /x --start\n")
    assert code == 1 and "Unrecognized command line arguments: --config" in out


def test_an_existing_name_on_cloud_is_refused_with_or_without_force(sim: Simulator) -> None:
    text = script(bash_plan(), cloud_target(sim), via="download")
    assert sim.run_on_host("app-dev-01", text, KEY)[0] == 0
    for n, extra in enumerate(("", " --force")):
        again = text.replace("OctopusCloud-web-clone", f"Second{n}").replace(
            "--comms-style 'TentacleActive'", "--comms-style 'TentacleActive'" + extra
        )
        code, out = sim.run_on_host("app-dev-01", again, KEY)
        assert code == 1, out
        assert (
            "A machine named 'web-clone' already exists in the environment. Use the 'force' parameter" in out
        )
    assert len([m for m in sim.cloud.store.all("machines") if m["Name"] == "web-clone"]) == 1


def test_a_duplicate_instance_or_config_path_is_refused(sim: Simulator) -> None:
    code, out = sim.run_on_host(
        "app-dev-01",
        "/opt/octopus/tentacle/Tentacle create-instance --instance Tentacle --config /tmp/x.config\n",
    )
    assert code == 1 and "An instance named 'Tentacle' already exists" in out
    config = original(sim, "app-dev-01")["ConfigPath"]
    code, out = sim.run_on_host(
        "app-dev-01", f"/opt/octopus/tentacle/Tentacle create-instance --instance Other --config {config}\n"
    )
    assert code == 1 and "is already used by the instance 'Tentacle'" in out


def test_a_listening_port_in_use_is_refused(sim: Simulator) -> None:
    text = (
        "set -e\n"
        "/opt/octopus/tentacle/Tentacle create-instance --instance B --config /etc/b.config\n"
        "/opt/octopus/tentacle/Tentacle configure --instance B --port 10933 --noListen False\n"
        "echo never\n"
    )
    result = sim.hosts.run("web01", text, syntax="Bash")  # web01's original listens on 10933
    assert (
        result.code == 1 and "Port 10933 is already used by the Tentacle instance 'Tentacle'" in result.output
    )
    assert "never" not in result.output


def test_the_key_is_prompted_for_when_unset_and_never_printed(sim: Simulator) -> None:
    text = script(bash_plan(), cloud_target(sim), via="download")
    code, out = sim.run_on_host("app-dev-01", text)
    assert code == 1 and "waited for input (OCTOPUS_CLOUD_API_KEY) and nobody answered" in out
    assert not [m for m in sim.cloud.store.all("machines") if m["Name"] == "web-clone"]
    code, out = sim.run_on_host(
        "app-dev-01", text.replace("OctopusCloud-web-clone", "Typed"), stdin=[CLOUD_MANAGER.api_key]
    )
    assert code == 0 and CLOUD_MANAGER.api_key not in out


def test_a_key_without_permission_fails_the_registration(sim: Simulator) -> None:
    code, out = sim.run_on_host(
        "app-dev-01",
        script(bash_plan(), cloud_target(sim), via="download"),
        {API_KEY_ENV: CLOUD_READER.api_key},
    )
    assert code == 1 and "Missing permission: MachineCreate" in out


async def test_an_unparsable_bash_script_fails_the_task_and_keeps_the_other_results(
    sim: Simulator, clients: tuple[OctopusClient, OctopusClient]
) -> None:
    server, _ = clients
    ids = [m["Id"] for m in sim.server.store.all("machines") if m["Name"] in ("app-dev-01", "web01")]

    async def run(body: str) -> tuple[str, list[str], str]:
        task = await server.run_script(
            {
                "Name": "AdHocScript",
                "Description": "t",
                "SpaceId": "Spaces-1",
                "Arguments": {
                    "MachineIds": ids,
                    "TargetType": "Machines",
                    "Syntax": "Bash",
                    "ScriptBody": body,
                },
            }
        )
        error = ""
        try:
            await server.wait_for_task(task.id or "", poll_interval=1)
        except TaskFailed as exc:
            error = str(exc)
        done = sim.server.store.get("tasks", task.id or "") or {}
        return done["State"], await server.task_log(task.id or ""), error

    state, log, _ = await run("if [ -z x ; then\necho hi\n")
    assert state == "Failed" and any("syntax error" in line for line in log)
    state, log, error = await run("echo before\ncurl https://example.com/x.sh | sh\n")
    assert state == "Failed" and any("does not understand this line" in line for line in log)
    assert "before" in "\n".join(log)
    # One host failing fails the task; the other's result stays, and the log says which.
    body = (
        '/opt/octopus/tentacle/Tentacle create-instance --instance Only --config "/etc/octopus/only.config"\n'
    )
    assert sim.run_on_host("app-dev-01", body)[0] == 0  # already there on app-dev-01 only
    state, log, error = await run(body)
    assert state == "Failed" and "app-dev-01 (exit code 1); it succeeded on 1 other machine(s)" in error
    assert "web01: the script succeeded." in log and "app-dev-01: the script failed with exit code 1." in log
    assert any(i["Name"] == "Only" for i in sim.hosts.host("web01")["Instances"])


async def test_health_of_stopped_untrusting_and_unreachable_clones(
    sim: Simulator, clients: tuple[OctopusClient, OctopusClient]
) -> None:
    _, cloud = clients
    target = cloud_target(sim)
    polling = bash_plan("poll-clone")
    assert sim.run_on_host("app-dev-01", script(polling, target, via="download"), KEY)[0] == 0
    doc = cloud_named(sim, "poll-clone")
    assert (await health(sim, cloud, doc["Id"]))["HealthStatus"] == "Healthy"
    instance = clone_instance_name(polling.registrations[0])
    sim.run_on_host("app-dev-01", f"/opt/octopus/tentacle/Tentacle service --instance {instance} --stop\n")
    stopped = await health(sim, cloud, doc["Id"])
    assert stopped["HealthStatus"] == "Unavailable" and "not running" in stopped["StatusSummary"]

    # A listening clone Cloud reaches but that does not trust Cloud: Unhealthy.
    listening = bash_plan("listen-clone", "listening")
    text = script(listening, target, via="console").replace(f"--trust '{target.thumbprint}'", "--trust 'AB'")
    code, out = sim.run_on_host("app-dev-01", text)
    assert code == 0, out
    thumb = next(
        i
        for i in sim.hosts.host("app-dev-01")["Instances"]
        if i["Name"] == clone_instance_name(listening.registrations[0])
    )["Thumbprint"]
    env = sim.cloud.store.first("environments", lambda d: d["Name"] == "Production") or {}
    payload: dict[str, Any] = {
        "Name": "listen-clone",
        "EnvironmentIds": [env["Id"]],
        "Roles": ["web-server"],
        "Endpoint": {
            "CommunicationStyle": "TentaclePassive",
            "Uri": "https://web01.example.com:10950/",
            "Thumbprint": thumb,
        },
    }
    created = (await cloud.request("POST", cloud.space_path("machines"), json=payload)).json()
    untrusting = await health(sim, cloud, created["Id"])
    assert untrusting["HealthStatus"] == "Unhealthy" and "does not trust" in untrusting["StatusSummary"]
    # The same Tentacle behind a private name Cloud cannot reach: Unavailable.
    payload = {
        **payload,
        "Name": "private-clone",
        "Endpoint": {**payload["Endpoint"], "Uri": "https://app-dev-01.corp.local:10950/"},
    }
    private = (await cloud.request("POST", cloud.space_path("machines"), json=payload)).json()
    assert (await health(sim, cloud, private["Id"]))["HealthStatus"] == "Unavailable"
    sim.hosts.set_reachable("app-dev-01.corp.local", True)
    assert (await health(sim, cloud, private["Id"]))["HealthStatus"] == "Unhealthy"


async def test_health_of_other_kinds_and_disabled_machines(
    sim: Simulator, clients: tuple[OctopusClient, OctopusClient]
) -> None:
    _, cloud = clients
    env = sim.cloud.store.first("environments", lambda d: d["Name"] == "Production") or {}
    sim.cloud.store.insert(
        "accounts", {"Id": "Accounts-1", "SpaceId": "Spaces-1", "Name": "ssh", "AccountType": "SshKeyPair"}
    )
    made = {}
    for name, endpoint, disabled in [
        (
            "ssh-private",
            {
                "CommunicationStyle": "Ssh",
                "Host": "10.0.5.10",
                "Port": 22,
                "Fingerprint": "SHA256:x",
                "AccountId": "Accounts-1",
            },
            False,
        ),
        (
            "ssh-public",
            {
                "CommunicationStyle": "Ssh",
                "Host": "lx.example.com",
                "Port": 22,
                "Fingerprint": "SHA256:y",
                "AccountId": "Accounts-1",
            },
            False,
        ),
        ("region", {"CommunicationStyle": "None"}, False),
        ("off", {"CommunicationStyle": "None"}, True),
    ]:
        payload = {
            "Name": name,
            "EnvironmentIds": [env["Id"]],
            "Roles": ["r"],
            "Endpoint": endpoint,
            "IsDisabled": disabled,
        }
        made[name] = (await cloud.request("POST", cloud.space_path("machines"), json=payload)).json()["Id"]
    task = await cloud.create_task(
        {"Name": "Health", "Description": "all", "Arguments": {"EnvironmentId": env["Id"]}}
    )
    await cloud.wait_for_task(task.id or "", poll_interval=1)
    state = {n: (sim.cloud.store.get("machines", i) or {}).get("HealthStatus") for n, i in made.items()}
    assert state == {
        "ssh-private": "Unavailable",
        "ssh-public": "Healthy",
        "region": "Healthy",
        "off": "Unknown",
    }
    log = await cloud.task_log(task.id or "")
    assert any("off: skipped" in line for line in log)


def test_delete_instance_only_removes_the_index_entry(sim: Simulator) -> None:
    code, out = sim.run_on_host(
        "app-dev-01", "/opt/octopus/tentacle/Tentacle delete-instance --instance Tentacle\n"
    )
    assert code == 0 and "Deleted instance: Tentacle" in out
    left = next(i for i in sim.hosts.host("app-dev-01")["Instances"] if i["Name"] == "Tentacle")
    assert left["Indexed"] is False and left["ServiceRunning"] is True
    code, out = sim.run_on_host("app-dev-01", "/opt/octopus/tentacle/Tentacle list-instances\n")
    assert out.strip() == "No instances installed"


def test_hosts_persist_in_the_servers_store(tmp_path: Path) -> None:
    sim = Simulator(tmp_path, "demo")
    seed_cloud(sim)
    text = script(bash_plan(), cloud_target(sim), via="download")
    assert sim.run_on_host("app-dev-01", text, KEY)[0] == 0
    sim.close()
    again = Simulator(tmp_path, "demo")
    names = [i["Name"] for i in again.hosts.host("app-dev-01")["Instances"]]
    assert names == ["Tentacle", "OctopusCloud-web-clone"]
    again.close()


# -- running a script again ---------------------------------------------------------------------------


def clones(sim: Simulator, host: str) -> list[dict[str, Any]]:
    return [
        copy.deepcopy(i)
        for i in sim.hosts.host(host)["Instances"]
        if i["Name"].startswith("OctopusCloud") and i.get("Indexed")
    ]


def golden_name(filename: str) -> tuple[str, str, str]:
    """(os, comms, kind) of a golden file, and the Server name its registration uses."""
    os_name, comms, kind = filename.split("-")[:3]
    return os_name, ("polling" if comms.startswith("polling") else comms), kind


async def register_by_rest(
    sim: Simulator, cloud: OctopusClient, name: str, kind: str, comms: str, log: str
) -> dict[str, Any]:
    """What octowiz does after a console run: register the reported clone on Cloud with its own key."""
    report = next(iter(parse_console_report(log.splitlines()).values()))
    if comms == "polling":
        endpoint = {"CommunicationStyle": "TentacleActive", "Uri": report.subscription_id}
    else:
        port = 10934 if kind == "target" else 10935
        endpoint = {"CommunicationStyle": "TentaclePassive", "Uri": f"https://web01.example.com:{port}/"}
    endpoint["Thumbprint"] = report.thumbprint
    env = sim.cloud.store.first("environments", lambda d: d["Name"] == "Production") or {}
    pool = sim.cloud.store.first("workerpools", lambda d: d["Name"] == "Windows Workers") or {}
    if kind == "target":
        payload = {"Name": name, "Endpoint": endpoint, "EnvironmentIds": [env["Id"]], "Roles": ["web-server"]}
        return dict((await cloud.request("POST", cloud.space_path("machines"), json=payload)).json())
    payload = {"Name": name, "Endpoint": endpoint, "WorkerPoolIds": [pool["Id"]]}
    return dict((await cloud.request("POST", cloud.space_path("workers"), json=payload)).json())


@pytest.mark.parametrize("filename", DOWNLOADS + CONSOLES)
async def test_each_golden_script_run_twice_converges(
    sim: Simulator, clients: tuple[OctopusClient, OctopusClient], filename: str
) -> None:
    _, cloud = clients
    os_name, comms, kind = golden_name(filename)
    host, name = HOST[os_name], f"{comms}-{kind}"
    body = (GOLDEN / filename).read_text()
    before = original(sim, host)
    download = "-download." in filename
    code, first = sim.run_on_host(host, body, KEY if download else None)
    assert code == 0, first
    if not download:
        await register_by_rest(sim, cloud, name, kind, comms, first)
    after_first = clones(sim, host)
    code, second = sim.run_on_host(host, body, KEY if download else None)
    assert code == 0, second
    # The rerun kept what the first run made and said so; it never reached for --force.
    assert "already exists; keeping it" in second and "A certificate already exists" in second
    assert "already trusts Octopus Cloud" in second and "Removing all trusted" not in second
    if download:
        assert (
            "is already registered with Octopus Cloud" in second and "Registering the tentacle" not in second
        )
    else:
        assert parse_console_report(second.splitlines()) == parse_console_report(first.splitlines())
    assert original(sim, host) == before  # the original instance is untouched
    after_second = clones(sim, host)
    assert len(after_second) == 1
    # Same certificate, same trusted servers (a polling clone keeps the subscription Cloud knows it by).
    assert after_second[0]["Thumbprint"] == after_first[0]["Thumbprint"]
    key = lambda t: (t["Thumbprint"], str(t.get("Address")))  # noqa: E731
    assert sorted(after_second[0]["Trusted"], key=key) == sorted(after_first[0]["Trusted"], key=key)
    assert after_second[0]["ServiceRunning"] and after_second[0]["ServiceInstalled"]
    named = [
        d for d in [*sim.cloud.store.all("machines"), *sim.cloud.store.all("workers")] if d["Name"] == name
    ]
    assert len(named) == 1
    if os_name == "windows" and comms == "listening":
        rules = sim.hosts.host(host)["FirewallRules"]
        assert len(rules) == 1 and "already there" in second
    checked = await health(sim, cloud, named[0]["Id"])
    assert checked["HealthStatus"] == "Healthy", checked["StatusSummary"]


BLOCKER = (
    "set -e\n"
    "/opt/octopus/tentacle/Tentacle create-instance --instance Blocker --config /etc/blocker.config\n"
    "/opt/octopus/tentacle/Tentacle new-certificate --instance Blocker\n"
    "/opt/octopus/tentacle/Tentacle configure --instance Blocker --port {port} --noListen False\n"
    "/opt/octopus/tentacle/Tentacle service --instance Blocker --install\n"
)


@pytest.mark.parametrize(
    "filename",
    [
        "windows-listening-target-download.ps1",
        "linux-listening-worker-download.sh",
        "windows-listening-worker-console.ps1",
        "linux-listening-target-console.sh",
    ],
)
async def test_a_script_that_failed_half_way_succeeds_when_run_again(
    sim: Simulator, clients: tuple[OctopusClient, OctopusClient], filename: str
) -> None:
    _, cloud = clients
    os_name, comms, kind = golden_name(filename)
    host, name = HOST[os_name], f"{comms}-{kind}"
    port = 10934 if kind == "target" else 10935
    download = "-download." in filename
    body = (GOLDEN / filename).read_text()
    # Another instance already listens on the clone's port: configure fails after create-instance.
    assert sim.hosts.run(host, BLOCKER.format(port=port), syntax="Bash").code == 0
    code, failed = sim.run_on_host(host, body, KEY if download else None)
    assert code == 1 and f"Port {port} is already used by the Tentacle instance 'Blocker'" in failed
    assert "Done:" not in failed
    made = clones(sim, host)
    assert len(made) == 1 and made[0]["Thumbprint"] and not made[0]["ServiceInstalled"]
    assert not [
        d for d in [*sim.cloud.store.all("machines"), *sim.cloud.store.all("workers")] if d["Name"] == name
    ]
    # Free the port, run the same script again.
    freed = sim.hosts.run(
        host, "/opt/octopus/tentacle/Tentacle configure --instance Blocker --port 10999\n", syntax="Bash"
    )
    assert freed.code == 0, freed.output
    code, again = sim.run_on_host(host, body, KEY if download else None)
    assert code == 0, again
    assert "already exists; keeping it" in again and "Done:" in again
    assert clones(sim, host)[0]["Thumbprint"] == made[0]["Thumbprint"]  # the certificate was kept
    if not download:
        await register_by_rest(sim, cloud, name, kind, comms, again)
    named = [
        d for d in [*sim.cloud.store.all("machines"), *sim.cloud.store.all("workers")] if d["Name"] == name
    ]
    assert len(named) == 1
    checked = await health(sim, cloud, named[0]["Id"])
    assert checked["HealthStatus"] == "Healthy", checked["StatusSummary"]


async def test_a_registration_that_failed_is_made_on_the_rerun(
    sim: Simulator, clients: tuple[OctopusClient, OctopusClient]
) -> None:
    _, cloud = clients
    text = script(bash_plan(), cloud_target(sim), via="download")
    code, out = sim.run_on_host("app-dev-01", text, {API_KEY_ENV: CLOUD_READER.api_key})
    assert code == 1 and "Missing permission: MachineCreate" in out
    code, out = sim.run_on_host("app-dev-01", text, KEY)
    assert code == 0, out
    assert "already exists; keeping it" in out and "Machine registered successfully" in out
    doc = cloud_named(sim, "web-clone")
    assert (await health(sim, cloud, doc["Id"]))["HealthStatus"] == "Healthy"


def test_tentacle_outputs_the_rerun_checks_read(sim: Simulator) -> None:
    # list-instances --format json: Newtonsoft's indented array of {InstanceName, ConfigurationFilePath}.
    code, out = sim.run_on_host("app-dev-01", "/opt/octopus/tentacle/Tentacle list-instances --format json\n")
    assert code == 0 and '    "InstanceName": "Tentacle",' in out.splitlines()
    # configure --trust twice keeps one entry; a polling entry of the same server keeps its subscription.
    thumb = "AB" * 20
    text = (
        "set -e\n"
        "/opt/octopus/tentacle/Tentacle create-instance --instance C --config /etc/c.config\n"
        "/opt/octopus/tentacle/Tentacle new-certificate --instance C\n"
        f"/opt/octopus/tentacle/Tentacle configure --instance C --trust {thumb}\n"
        f"/opt/octopus/tentacle/Tentacle server-comms --instance C --thumbprint {thumb}"
        " --style TentacleActive --host octowiz-demo.octopus.app\n"
    )
    assert sim.run_on_host("app-dev-01", text)[0] == 0
    instance = next(i for i in sim.hosts.host("app-dev-01")["Instances"] if i["Name"] == "C")
    subscription = next(t["SubscriptionId"] for t in instance["Trusted"] if t["Address"])
    again = text.split("\n", 3)[3]
    assert sim.run_on_host("app-dev-01", "set -e\n" + again)[0] == 0
    instance = next(i for i in sim.hosts.host("app-dev-01")["Instances"] if i["Name"] == "C")
    assert len(instance["Trusted"]) == 2 and subscription in [
        t["SubscriptionId"] for t in instance["Trusted"]
    ]
    code, out = sim.run_on_host(
        "app-dev-01", "/opt/octopus/tentacle/Tentacle show-configuration --instance C\n"
    )
    assert f'"Thumbprint": "{thumb}"' in out and '"CertificateThumbprint"' in out
    # service --install on an existing service: Windows reconfigures it, Linux rewrites the unit.
    line = "/opt/octopus/tentacle/Tentacle service --instance Tentacle --install --start\n"
    code, out = sim.run_on_host("app-dev-01", line)
    assert code == 0 and "Service installed: Tentacle" in out
    result = sim.hosts.run("web01", line, syntax="Bash")
    assert result.code == 0 and "Service reconfigured" in result.output
    assert "Service started" not in result.output  # a running Windows service is left alone


@pytest.mark.parametrize(
    ("syntax", "text"),
    [
        ("Bash", 'x="$(curl https://example.com)"\n'),
        ("Bash", 'x="$(/opt/octopus/tentacle/Tentacle list-instances | tee y)"\n'),
        ("Bash", 'x=""\nif [[ "$x" == *abc* ]]; then\necho y\nfi\n'),
        ("Bash", "x=''\nif [[ \"$x\" =~ 'abc' ]]; then\necho y\nfi\n"),
        ("PowerShell", "$X = & curl.exe https://example.com\n"),
        ("PowerShell", "$X = 'a'\nif ($X -like '[a]*') {\n    Write-Host y\n}\n"),
        ("PowerShell", "$X = 'a'\nif ($X -match 'a') {\n    Write-Host y\n}\n"),
        ("PowerShell", "$null = & netsh advfirewall firewall delete rule 'name=x'\n"),
    ],
)
def test_constructs_beyond_the_rerun_checks_are_refused(sim: Simulator, syntax: str, text: str) -> None:
    result = sim.hosts.run("web01", text, syntax=syntax)
    assert result.code == 2 and "does not understand this line" in result.output, result.output
    assert "y" not in result.lines


def test_the_rerun_checks_run_as_the_shells_would(sim: Simulator) -> None:
    bash = (
        'x="$(/opt/octopus/tentacle/Tentacle list-instances --format json)"\n'
        'if [[ "$x" == *\'"InstanceName": "Tentacle"\'* ]]; then\necho yes\nelse\necho no\nfi\n'
        'if [[ "$x" == *\'"InstanceName": "Tent"\'* ]]; then\necho prefix\nfi\n'
    )
    assert sim.hosts.run("web01", bash, syntax="Bash").lines == ["yes"]
    exe = '& "C:\\Program Files\\Octopus Deploy\\Tentacle\\Tentacle.exe"'
    ps = (
        f"$Instances = {exe} list-instances --format json --console\n"
        "if ($Instances -like '*\"instancename\": \"TENTACLE\"*') {\n    Write-Host 'yes'\n} else {\n"
        "    Write-Host 'no'\n}\n"
        "$null = & netsh advfirewall firewall show rule 'name=nothing'\n"
        "Write-Host $LASTEXITCODE\n"
    )
    result = sim.hosts.run("web01", ps, syntax="PowerShell")
    assert result.lines == ["yes", "1"], result.lines  # -like ignores case; netsh's output was discarded
    # set -e: a failing command in a capture ends the script, and its sentence reaches the log.
    failing = 'set -e\nx="$(/opt/octopus/tentacle/Tentacle show-configuration --instance Nope)"\necho after\n'
    result = sim.hosts.run("web01", failing, syntax="Bash")
    assert result.code == 1 and "after" not in result.lines and "has not been configured" in result.output
