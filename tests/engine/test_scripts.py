"""The Tentacle clone scripts: golden files, shell syntax, quoting, no key, Tentacle's flags, the report."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from octowiz.engine.cutover.scripts import (
    API_KEY_ENV,
    LINUX_TENTACLE,
    TENTACLE_COMMANDS,
    CloudTarget,
    HostPlan,
    Registration,
    clone_instance_name,
    command_options,
    parse_console_report,
    script,
    script_file_name,
    syntax,
)

GOLDEN = Path(__file__).parent / "golden" / "scripts"
BASH = shutil.which("bash") or "/bin/bash"
#: The demo simulator's Cloud instance, so the golden scripts also run unchanged in tests/sim.
CLOUD = CloudTarget(
    "https://octowiz-demo.octopus.app", "Default", thumbprint="77C14CD01A123FB9803F1F7BB3DCC2394CE96434"
)
CLOUD_443 = CloudTarget(CLOUD.url, CLOUD.space, polling_over_443=True, thumbprint=CLOUD.thumbprint)


def registration(kind: str, comms: str, name: str = "") -> Registration:
    """The registration each golden file clones (names that exist in the demo simulator)."""
    if kind == "target":
        return Registration(
            "Machines-1",
            name or f"{comms}-target",
            "target",
            comms,  # type: ignore[arg-type]
            environments=("Production",),
            roles=("web-server", "app-server"),
            tenants=("Contoso",),
            tenant_tags=("Customer Tier/Gold",),
            participation="TenantedOrUntenanted",
            policy="Default Machine Policy",
            listening_port=10934 if comms == "listening" else None,
            public_hostname="web01.example.com" if comms == "listening" else None,
            environments_are_production=True,
        )
    return Registration(
        "Workers-1",
        name or f"{comms}-worker",
        "worker",
        comms,  # type: ignore[arg-type]
        worker_pools=("Windows Workers",),
        policy="Default Machine Policy",
        listening_port=10935 if comms == "listening" else None,
        public_hostname="web01.example.com" if comms == "listening" else None,
    )


def golden_cases() -> list[tuple[str, HostPlan, CloudTarget, str]]:
    cases = []
    for os_name in ("windows", "linux"):
        ext = "ps1" if os_name == "windows" else "sh"
        for comms in ("listening", "polling"):
            for kind in ("target", "worker"):
                plan = HostPlan("web01.corp.local", os_name, (registration(kind, comms),))
                for via in ("download", "console"):
                    cases.append((f"{os_name}-{comms}-{kind}-{via}.{ext}", plan, CLOUD, via))
        plan = HostPlan("app-dev-01", os_name, (registration("target", "polling"),))
        for via in ("download", "console"):
            cases.append((f"{os_name}-polling443-target-{via}.{ext}", plan, CLOUD_443, via))
    return cases


CASES = golden_cases()


@pytest.mark.parametrize(("filename", "plan", "cloud", "via"), CASES, ids=[c[0] for c in CASES])
def test_scripts_match_their_reviewed_golden_files(
    filename: str, plan: HostPlan, cloud: CloudTarget, via: str
) -> None:
    text = script(plan, cloud, via=via)  # type: ignore[arg-type]
    golden = GOLDEN / filename
    if os.environ.get("OCTOWIZ_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8", newline="\n")
    assert golden.exists(), f"{golden} is missing: run with OCTOWIZ_UPDATE_GOLDEN=1 and review it"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{filename} changed: review the difference, then OCTOWIZ_UPDATE_GOLDEN=1 rewrites it"
    )


def test_every_script_says_what_it_does_and_that_the_original_is_untouched() -> None:
    for _, plan, cloud, via in CASES:
        text = script(plan, cloud, via=via)  # type: ignore[arg-type]
        header = text.split("\n\n", 1)[0]
        assert "SECOND Tentacle instance" in header
        assert clone_instance_name(plan.registrations[0]) in header
        assert "The original instance 'Tentacle' is untouched" in header
        assert "--force" not in text


HOSTILE = [
    "O'Brien's box $(rm -rf ~) `id`",
    "‘quoted’ $HOME ${PATH} \\ back",
    "--help",
    "semi; colon & amp | pipe > out",
]


def hostile_plan(os_name: str, name: str, comms: str = "polling") -> HostPlan:
    reg = Registration(
        "Machines-7",
        name,
        "target",
        comms,  # type: ignore[arg-type]
        environments=(name, "Production"),
        roles=(name,),
        tenants=(name,),
        tenant_tags=(f"Set/{name}",),
        policy=name,
        listening_port=10940 if comms == "listening" else None,
        public_hostname="web01.example.com",
    )
    return HostPlan(name, os_name, (reg,))  # type: ignore[arg-type]


def bash_scripts() -> list[str]:
    out = [script(plan, cloud, via=via) for _, plan, cloud, via in CASES if plan.os == "linux"]  # type: ignore[arg-type]
    for name in HOSTILE:
        for comms in ("polling", "listening"):
            for via in ("download", "console"):
                out.append(script(hostile_plan("linux", name, comms), CLOUD, via=via))
    return out


def test_every_bash_script_passes_bash_n_and_shellcheck(shellcheck: str) -> None:
    for text in bash_scripts():
        subprocess.run([BASH, "-n"], input=text, text=True, check=True)
        checked = subprocess.run([shellcheck, "-s", "bash", "-"], input=text, text=True, capture_output=True)
        assert checked.returncode == 0, checked.stdout + text


def _ps_unquote(token: str) -> str:
    assert token[0] in "'‘’‚‛" and token[-1] in "'‘’‚‛", token
    return re.sub(r"(['‘’‚‛])\1", r"\1", token[1:-1])


_PS_TOKEN = re.compile(r"""'(?:[^'‘’‚‛]|['‘’‚‛]{2})*'|[‘’‚‛](?:[^'‘’‚‛]|['‘’‚‛]{2})*['‘’‚‛]|\S+""")


def tentacle_calls(text: str, os_name: str) -> list[list[str]]:
    """Every Tentacle command line in a script, as the shell would pass its arguments."""
    calls = []
    for raw in text.splitlines():
        # Calls sit inside if/else blocks (indented) and in captures: $X = & "…" … / x="$(… )".
        line = re.sub(r"^\$[A-Za-z]+ = ", "", raw.strip())
        capture = re.fullmatch(r'[a-z]+="\$\((.*)\)"', line)
        if capture:
            line = capture.group(1)
        if os_name == "linux" and line.startswith(LINUX_TENTACLE + " "):
            calls.append(shlex.split(line)[1:])
        elif os_name == "windows" and line.startswith(
            '& "C:\\Program Files\\Octopus Deploy\\Tentacle\\Tentacle.exe" '
        ):
            rest = line.split('Tentacle.exe" ', 1)[1]
            words = _PS_TOKEN.findall(rest)
            calls.append([_ps_unquote(w) if w[0] in "'‘’‚‛" else w for w in words])
    return calls


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("os_name", ["windows", "linux"])
def test_hostile_names_reach_tentacle_exactly_as_written(name: str, os_name: str) -> None:
    text = script(hostile_plan(os_name, name), CLOUD, via="download")
    register = next(c for c in tentacle_calls(text, os_name) if c[0] == "register-with")
    values = {
        register[i]: register[i + 1] for i in range(1, len(register) - 1) if register[i].startswith("--")
    }
    assert values["--name"] == name
    assert values["--policy"] == name
    assert values["--tenanttag"] == f"Set/{name}"
    assert register.count(name) >= 4  # name, environment, role, tenant, policy: never split or expanded


def test_names_that_cannot_be_passed_safely_are_refused_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="line break"):
        script(hostile_plan("linux", "two\nlines"), CLOUD, via="download")
    with pytest.raises(ValueError, match="double quote"):
        script(hostile_plan("windows", 'say "hi"'), CLOUD, via="download")
    # Bash passes a double quote intact.
    assert 'say "hi"' in script(hostile_plan("linux", 'say "hi"'), CLOUD, via="download")


def test_the_api_key_never_appears_in_a_script(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = "API-FAKEKEYFORTESTS0123456789ABCD"
    monkeypatch.setenv(API_KEY_ENV, fake)
    for _, plan, cloud, via in CASES:
        text = script(plan, cloud, via=via)  # type: ignore[arg-type]
        assert fake not in text and "API-" not in text
        if via == "console":
            assert "apiKey" not in text and API_KEY_ENV not in text
        elif plan.os == "windows":
            assert "--apiKey $ApiKey" in text and f"$env:{API_KEY_ENV}" in text
            assert "Read-Host -AsSecureString" in text
        else:
            assert (
                f'--apiKey "${API_KEY_ENV}"' in text
                and f"read -rs -p 'Octopus Cloud API key: ' {API_KEY_ENV}" in text
            )


def test_every_emitted_command_and_flag_is_one_tentacle_defines() -> None:
    seen: set[tuple[str, str]] = set()
    plans = [(plan, cloud, via) for _, plan, cloud, via in CASES]
    plans += [
        (hostile_plan(o, n, c), CLOUD, v)
        for o in ("windows", "linux")
        for n in HOSTILE[:1]
        for c in ("polling", "listening")
        for v in ("download", "console")
    ]
    for plan, cloud, via in plans:
        for call in tentacle_calls(script(plan, cloud, via=via), plan.os):  # type: ignore[arg-type]
            command = call[0]
            assert command in TENTACLE_COMMANDS, command
            known = command_options(command)
            for word in call[1:]:
                if word.startswith("--"):
                    assert word[2:] in known, f"{command} has no option {word}"
                    seen.add((command, word))
            if command not in ("list-instances",):
                assert "--instance" in call, f"{command} must name its instance"
    # The generator really uses what the contracts describe.
    for pair in [
        ("register-with", "--server-comms-address"),
        ("register-with", "--server-comms-port"),
        ("register-with", "--publicHostName"),
        ("register-worker", "--workerpool"),
        ("server-comms", "--host"),
        ("configure", "--trust"),
        ("configure", "--reset-trust"),
        ("service", "--install"),
    ]:
        assert pair in seen, pair


def test_polling_addresses_follow_the_cutover_doc() -> None:
    plan = HostPlan("h", "linux", (registration("target", "polling"),))
    assert "--server-comms-port '10943'" in script(plan, CLOUD, via="download")
    over_443 = script(plan, CLOUD_443, via="download")
    assert "--server-comms-address 'https://polling.octowiz-demo.octopus.app'" in over_443
    assert "--server-comms-port" not in over_443
    console = script(plan, CLOUD_443, via="console")
    assert "--host 'polling.octowiz-demo.octopus.app' --port '443'" in console


def test_listening_clones_need_a_free_port_and_open_the_windows_firewall() -> None:
    reg = registration("target", "listening")
    win = script(HostPlan("h", "windows", (reg,)), CLOUD, via="download")
    assert "& netsh advfirewall firewall add rule" in win and "localport=10934" in win
    lin = script(HostPlan("h", "linux", (reg,)), CLOUD, via="download")
    assert "netsh" not in lin and "does not change the firewall" in lin
    for port in (None, 10933, 0):
        bad = Registration("M", "x", "target", "listening", ("E",), ("r",), listening_port=port)
        with pytest.raises(ValueError, match="free TCP port"):
            script(HostPlan("h", "linux", (bad,)), CLOUD, via="download")
    twice = HostPlan(
        "h",
        "linux",
        (reg, Registration("M2", "y", "target", "listening", ("E",), ("r",), listening_port=10934)),
    )
    with pytest.raises(ValueError, match="both use port 10934"):
        script(twice, CLOUD, via="download")


def test_console_runs_need_the_cloud_thumbprint() -> None:
    plan = HostPlan("h", "linux", (registration("target", "polling"),))
    with pytest.raises(ValueError, match="thumbprint"):
        script(plan, CloudTarget(CLOUD.url, "Default"), via="console")


def test_names_files_and_syntax() -> None:
    reg = registration("target", "polling", "web01")
    assert clone_instance_name(reg) == "OctopusCloud-web01"
    worker = registration("worker", "polling", "web01")
    assert clone_instance_name(worker) == "OctopusCloudWorker-web01"
    odd = [clone_instance_name(registration("target", "polling", n)) for n in ("web 01", "web/01", "web-01")]
    assert len(set(odd)) == 3 and all(re.fullmatch(r"[A-Za-z0-9._-]+", n) for n in odd)
    assert script_file_name(HostPlan("web01.corp.local", "windows", (reg,))) == "web01.corp.local.ps1"
    assert script_file_name(HostPlan("../etc/passwd", "linux", (reg,))) == "_etc_passwd.sh"
    assert syntax(HostPlan("h", "windows", (reg,))) == "PowerShell"
    assert syntax(HostPlan("h", "linux", (reg,))) == "Bash"


SAMPLE_LOG = """\
Running the Bash script on app-dev-01 (app-dev-01)
  OCTOWIZ-CLONE-BEGIN OctopusCloud-app-dev-01
  {"Thumbprint":"4e1c8613bff4573a11db829d9c8facd5f97c40a7"}
  {
    "Tentacle": {
      "CertificateThumbprint": "4E1C8613BFF4573A11DB829D9C8FACD5F97C40A7",
      "Communication": {
        "TrustedOctopusServers": [
          {"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434", "SubscriptionId": null},
          {"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434", "SubscriptionId": "poll://abcdefghij0123456789/"}
        ]
      }
    }
  }
  OCTOWIZ-CLONE-END OctopusCloud-app-dev-01
09:15:02  Info  |  OCTOWIZ-CLONE-BEGIN OctopusCloud-web01
09:15:02  Info  |  {"Thumbprint":"56FC4B07DA20D342E7823ADA6CB5503166E9A62E"}
09:15:03  Info  |  OCTOWIZ-CLONE-END OctopusCloud-web01
OCTOWIZ-CLONE-BEGIN OctopusCloud-nothing
Instance OctopusCloud-nothing of tentacle has not been configured on this machine.
OCTOWIZ-CLONE-END OctopusCloud-nothing
OCTOWIZ-CLONE-BEGIN OctopusCloud-cut
{"Thumbprint":"1111111111222222222233333333334444444444"}
"""


def test_parse_console_report_reads_thumbprints_and_subscriptions_tolerantly() -> None:
    reports = parse_console_report(SAMPLE_LOG.splitlines())
    assert set(reports) == {"OctopusCloud-app-dev-01", "OctopusCloud-web01", "OctopusCloud-cut"}
    polling = reports["OctopusCloud-app-dev-01"]
    assert polling.thumbprint == "4E1C8613BFF4573A11DB829D9C8FACD5F97C40A7"
    assert polling.subscription_id == "poll://abcdefghij0123456789/"
    listening = reports["OctopusCloud-web01"]
    assert (
        listening.thumbprint == "56FC4B07DA20D342E7823ADA6CB5503166E9A62E"
        and listening.subscription_id is None
    )
    assert reports["OctopusCloud-cut"].thumbprint == "1111111111222222222233333333334444444444"
    assert parse_console_report([]) == {}
