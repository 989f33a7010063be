"""Connect: the source Server and the destination Cloud instance, checked the way an admin would."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Header, Input, Label, LoadingIndicator, Select, Static

from octowiz.engine.context import Context
from octowiz.engine.prepare.connect import (
    InstanceCheck,
    check_instance,
    check_pair,
    connection_settings,
    describe,
)
from octowiz.journal import Journal
from octowiz.octopus.client import check_api_key
from octowiz.octopus.errors import OctopusError
from octowiz.octopus.urls import normalise_base_url
from octowiz.secrets import KeyStoreError
from octowiz.tui.messages import ConnectChecked, ConnectSaved, KeysLoaded
from octowiz.tui.screens.welcome import demo_banner
from octowiz.tui.widgets.footer import Footer
from octowiz.tui.widgets.steps import StepList
from octowiz.tui.workers import work

_STYLE = {"ok": ("✔", "green"), "warn": ("▲", "yellow"), "error": ("✘", "red")}


@dataclass(frozen=True)
class Connection:
    """What the connect step settled: URLs and spaces (the keys stay in memory and the keyring)."""

    source_url: str
    source_space: str
    destination_url: str
    destination_space: str


def _render(title: str, lines: list[tuple[str, str]]) -> Text:
    text = Text()
    text.append(title + "\n", style="bold")
    for status, line in lines:
        mark, colour = _STYLE[status]
        text.append(f"{mark} ", style=colour)
        text.append(line + "\n")
    return text


class ConnectScreen(Screen[Connection]):
    """Enter both instances, check them, and continue once both can play their role."""

    BINDINGS = [
        Binding("ctrl+t", "check", "Check", tooltip="Check both connections", id="connect.check"),
        Binding("escape", "cancel", "Cancel check", tooltip="Stop the running check", id="connect.cancel"),
        Binding("ctrl+n", "continue", "Continue", tooltip="On to the next step", id="connect.continue"),
        Binding("ctrl+b", "back", "Back", tooltip="Back to the welcome screen", id="connect.back"),
    ]

    def __init__(
        self, context: Context, journal: Journal, statuses: dict[str, str], settings: dict[str, object]
    ) -> None:
        super().__init__()
        self.context = context
        self.journal = journal
        self.statuses = statuses
        self.settings = settings
        self.checking = False
        self.result: ConnectChecked | None = None
        self.keyring_usable = False

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        if self.context.demo:
            yield demo_banner()
        with Horizontal(id="connect-layout"):
            yield StepList(self.statuses, "connect", id="steps")
            with VerticalScroll(id="connect-body"):
                intro = Text("Migration ")
                intro.append(str(self.settings.get("name", "")), style="bold")
                intro.append(
                    ": connect the Octopus Server you are leaving and the Octopus Cloud instance you are "
                    "moving to."
                )
                yield Static(
                    intro,
                    id="connect-intro",
                )
                with Horizontal(id="connect-forms"):
                    for role, title in (
                        ("source", "Octopus Server (source)"),
                        ("destination", "Octopus Cloud (destination)"),
                    ):
                        with Vertical(classes="instance-form", id=f"{role}-form"):
                            yield Label(title, classes="form-title")
                            yield Label("URL")
                            yield Input(
                                placeholder="https://octopus.example.com"
                                if role == "source"
                                else "https://your-company.octopus.app",
                                id=f"{role}-url",
                            )
                            yield Label("API key")
                            yield Input(password=True, placeholder="API-…", id=f"{role}-key")
                            yield Label("Space")
                            yield Select(
                                [("Default", "Default")],
                                value="Default",
                                allow_blank=False,
                                id=f"{role}-space",
                            )
                            yield Static("", id=f"{role}-result", classes="check-result")
                yield Checkbox("Remember the API keys in the OS keyring", value=False, id="remember")
                yield Static("", id="keyring-note")
                yield Static("", id="pair-result")
                with Horizontal(id="connect-actions"):
                    yield Button("Check connections", id="check", variant="primary")
                    yield LoadingIndicator(id="checking")
                    yield Button("Continue", id="continue", variant="success", disabled=True)
                    yield Button("Back", id="back")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "octowiz — Connect"
        self.query_one("#checking", LoadingIndicator).display = False
        settings = self.settings
        for role in ("source", "destination"):
            url = settings.get(f"{role}_url")
            if url:
                self.query_one(f"#{role}-url", Input).value = str(url)
            space = settings.get(f"{role}_space_name")
            if space:
                select = self.query_one(f"#{role}-space", Select)
                select.set_options([(str(space), str(space))])
                select.value = str(space)
        self.load_keys(settings.get("source_url"), settings.get("destination_url"))
        self.query_one("#source-url", Input).focus()

    # -- keys ------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="connect-keys", exit_on_error=False)
    def load_keys(self, source_url: object, destination_url: object) -> None:
        """Look up stored keys and the keyring's state (blocking) off the UI thread."""
        status = self.context.keystore.status() if self.context.keystore else None
        src, src_from = (
            self.context.key_for(str(source_url or ""), "source") if source_url else (None, "none")
        )
        dst, dst_from = (
            self.context.key_for(str(destination_url or ""), "destination")
            if destination_url
            else (None, "none")
        )
        self.post_message(KeysLoaded(src, src_from, dst, dst_from, status))

    def on_keys_loaded(self, message: KeysLoaded) -> None:
        if message.source_key and not self.query_one("#source-key", Input).value:
            self.query_one("#source-key", Input).value = message.source_key
        if message.destination_key and not self.query_one("#destination-key", Input).value:
            self.query_one("#destination-key", Input).value = message.destination_key
        remember = self.query_one("#remember", Checkbox)
        note = self.query_one("#keyring-note", Static)
        if self.context.demo:
            remember.value = False
            remember.disabled = True
            note.update("The demo's simulated keys are filled in for you and are not stored anywhere.")
            return
        status = message.keyring
        self.keyring_usable = bool(status and status.usable)
        remember.value = self.keyring_usable
        remember.disabled = not self.keyring_usable
        found = [
            f"{r} key from the {src}"
            for r, src in (("source", message.source_from), ("destination", message.destination_from))
            if src in ("keyring", "environment")
        ]
        if self.keyring_usable:
            note.update(
                "Keys are stored only in the OS keyring, under the instance's URL."
                + (f" Using the {' and '.join(found)}." if found else "")
            )
        else:
            reason = status.reason if status else "no keyring"
            note.update(
                Text(
                    f"▲ No usable OS keyring ({reason}): the keys will be kept for this session only and "
                    "will NOT be remembered. Set OCTOWIZ_SOURCE_API_KEY / OCTOWIZ_DESTINATION_API_KEY to "
                    "avoid typing them.",
                    style="yellow",
                )
            )

    # -- checking --------------------------------------------------------------------------------

    def _form(self, role: str) -> tuple[str, str, str]:
        url = self.query_one(f"#{role}-url", Input).value
        key = self.query_one(f"#{role}-key", Input).value.strip()
        space = self.query_one(f"#{role}-space", Select).value
        return url, key, str(space) if isinstance(space, str) else ""

    def action_check(self) -> None:
        if self.checking:
            return
        problems: dict[str, str] = {}
        for role in ("source", "destination"):
            url, key, _ = self._form(role)
            try:
                normalise_base_url(url)
                check_api_key(key)
            except OctopusError as exc:
                problems[role] = str(exc)
        self.result = None
        self.query_one("#continue", Button).disabled = True
        if problems:
            for role in ("source", "destination"):
                result = self.query_one(f"#{role}-result", Static)
                result.update(_render("Not checked", [("error", problems[role])]) if role in problems else "")
            self.query_one("#pair-result", Static).update("")
            return
        self._set_checking(True)
        self.run_check()

    def _set_checking(self, on: bool) -> None:
        self.checking = on
        self.query_one("#checking", LoadingIndicator).display = on
        self.query_one("#check", Button).disabled = on
        self.query_one("#back", Button).disabled = on
        if on:
            for role in ("source", "destination"):
                self.query_one(f"#{role}-result", Static).update(Text("Checking…", style="italic"))
            self.query_one("#pair-result", Static).update("")

    @work(exclusive=True, group="connect-check", exit_on_error=False)
    async def run_check(self) -> None:
        """Check both instances concurrently; post the outcome."""
        (s_url, s_key, s_space), (d_url, d_key, d_space) = self._form("source"), self._form("destination")
        source, destination = await asyncio.gather(
            check_instance("source", s_url, s_key, s_space or None, self.context.transport),
            check_instance("destination", d_url, d_key, d_space or None, self.context.transport),
        )
        problems = check_pair(source, destination) if not (source.error or destination.error) else []
        self.post_message(ConnectChecked(source, destination, problems))

    def action_cancel(self) -> None:
        if self.checking:
            self.workers.cancel_group(self, "connect-check")
            self._set_checking(False)
            for role in ("source", "destination"):
                self.query_one(f"#{role}-result", Static).update(Text("Check cancelled.", style="italic"))

    def on_connect_checked(self, message: ConnectChecked) -> None:
        self._set_checking(False)
        self.result = message
        for check in (message.source, message.destination):
            title = "Source" if check.role == "source" else "Destination"
            self.query_one(f"#{check.role}-result", Static).update(_render(title, describe(check)))
            self._fill_spaces(check)
        pair = self.query_one("#pair-result", Static)
        if message.problems:
            pair.update(_render("Both together", [("error", p) for p in message.problems]))
        elif message.source.ok and message.destination.ok:
            pair.update(
                _render(
                    "Both together",
                    [
                        (
                            "ok",
                            f"Ready: Octopus {message.source.version} → "
                            f"Octopus {message.destination.version}",
                        )
                    ],
                )
            )
        else:
            pair.update("")
        ready = message.source.ok and message.destination.ok and not message.problems
        self.query_one("#continue", Button).disabled = not ready
        self.refresh_bindings()
        if ready:
            self.query_one("#continue", Button).focus()
        status = "in progress" if ready else "needs attention"
        self.record_step(status)

    def _fill_spaces(self, check: InstanceCheck) -> None:
        if not check.spaces:
            return
        select = self.query_one(f"#{check.role}-space", Select)
        current = next((name for sid, name in check.spaces if sid == check.space_id), None)
        select.set_options([(name, name) for _, name in check.spaces])
        if current:
            select.value = current

    @work(thread=True, exclusive=True, group="connect-journal", exit_on_error=False)
    def record_step(self, status: str) -> None:
        self.journal.set_step("connect", status)

    # -- continue --------------------------------------------------------------------------------

    def action_continue(self) -> None:
        if self.result is None or self.checking:
            return
        self.query_one("#continue", Button).disabled = True
        self.save(self.query_one("#remember", Checkbox).value)

    @work(thread=True, exclusive=True, group="connect-save", exit_on_error=False)
    def save(self, remember: bool) -> None:
        """Record the connection in the journal and, if asked, the keys in the keyring (blocking)."""
        assert self.result is not None
        source, destination = self.result.source, self.result.destination
        warning = ""
        for check, role in ((source, "source"), (destination, "destination")):
            key = self._form(role)[1]
            if self.context.demo:
                continue
            if remember and self.context.keystore is not None:
                try:
                    self.context.keystore.set(check.url, key)
                    continue
                except KeyStoreError as exc:
                    warning = str(exc)
            self.context.session_keys[check.url] = key
        self.journal.set_settings(**connection_settings(source, destination))
        self.journal.set_step("connect", "done")
        self.post_message(ConnectSaved(warning))

    def on_connect_saved(self, message: ConnectSaved) -> None:
        if message.warning:
            self.notify(message.warning, title="Keys not remembered", severity="warning", timeout=10)
        assert self.result is not None
        s, d = self.result.source, self.result.destination
        self.dismiss(Connection(s.url, s.space_id, d.url, d.space_id))

    def action_back(self) -> None:
        if not self.checking:
            self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return not self.checking
        if action == "cancel":
            return self.checking
        if action == "continue":
            return not self.query_one("#continue", Button).disabled
        return True

    @on(Button.Pressed)
    async def _pressed(self, event: Button.Pressed) -> None:
        await self.run_action(str(event.button.id))

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_check()

    @on(Input.Blurred, "#source-url, #destination-url")
    def _url_entered(self, event: Input.Blurred) -> None:
        """Look up a stored key for a URL once it is typed (a migration from a known Server finds its key)."""
        role = "source" if event.input.id == "source-url" else "destination"
        if event.value.strip() and not self.query_one(f"#{role}-key", Input).value:
            urls = {r: self.query_one(f"#{r}-url", Input).value for r in ("source", "destination")}
            self.load_keys(urls["source"] or None, urls["destination"] or None)
