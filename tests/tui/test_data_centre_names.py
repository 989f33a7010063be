"""The team names data centres: a rename is remembered, applied at the next measurement, and merges."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, TabbedContent

from octowiz.engine.prepare.connectivity import DataCentre
from octowiz.engine.prepare.scanning import latest_connectivity, name_data_centres
from octowiz.journal import Journal
from octowiz.sim.simulator import Simulator
from octowiz.tui.app import make_app
from octowiz.tui.screens.connectivity import ConnectivityScreen
from octowiz.tui.screens.dialogs import TextDialog
from tests.tui.tuikit import demo_context, settle


def test_names_apply_and_the_same_name_merges() -> None:
    suggested = [
        DataCentre("corp.local", ["Machines-1"], ["web01.corp.local"], "DNS domain corp.local"),
        DataCentre("Private network 10.0.0.0/16", ["Machines-2"], ["10.0.4.21"], "private /16"),
        DataCentre("example.com", ["Machines-5"], ["app1.example.com"], "DNS domain example.com"),
    ]
    named = name_data_centres(suggested, {"corp.local": "Omaha", "Private network 10.0.0.0/16": "Omaha"})
    assert [dc.name for dc in named] == ["Omaha", "example.com"]
    assert named[0].machine_ids == ["Machines-1", "Machines-2"]
    assert named[0].basis == "merged: corp.local; Private network 10.0.0.0/16"


async def test_renaming_in_the_wizard_is_remembered_and_reflected(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    with Journal.create(ctx.journal_path("dc"), {"name": "dc"}) as j:
        j.set_settings(
            source_url=sim.server_url,
            source_space="Spaces-1",
            destination_url=sim.cloud_url,
            destination_space="Spaces-1",
        )
        for step in ("connect", "differences"):
            j.set_step(step, "done")
    app = make_app(ctx)
    async with app.run_test(size=(130, 44)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConnectivityScreen) and screen.report is not None
        screen.query_one("#connectivity-tabs", TabbedContent).active = "tab-dcs"
        await settle(pilot)
        first = screen.report.data_centres[0].name
        await pilot.click("#rename-dc")
        await settle(pilot)
        assert isinstance(app.screen, TextDialog)
        app.screen.query_one("#text", Input).value = "Omaha DC"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConnectivityScreen)
        names = [dc.name for dc in app.screen.report.data_centres]  # type: ignore[union-attr]
        assert "Omaha DC" in names and first not in names
        table = app.screen.query_one("#data-centres", DataTable)
        assert any(str(table.get_row_at(i)[0]) == "Omaha DC" for i in range(table.row_count))
    with Journal.open(ctx.journal_path("dc"), lock=False) as j:
        assert j.settings["data_centre_names"] == {first: "Omaha DC"}
        report = latest_connectivity(j)
    assert report is not None and "Omaha DC" in [dc.name for dc in report.data_centres]
    assert any(v.marker == "octowiz-probe-omaha-dc" for v in report.verifications)
