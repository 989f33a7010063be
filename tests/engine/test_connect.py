"""What the Connect step says about an instance: only what octowiz does today."""

from __future__ import annotations

import pytest

from octowiz.engine.prepare.connect import InstanceCheck, describe


@pytest.mark.parametrize("administer_system", [True, False])
def test_administer_system_is_described_as_a_permission_not_a_step_octowiz_takes(
    administer_system: bool,
) -> None:
    check = InstanceCheck(
        "source",
        "https://octopus.example.internal",
        export_import=True,
        user="Ada (ada)",
        administer_system=administer_system,
    )
    [line] = [(status, text) for status, text in describe(check) if "AdministerSystem" in text]
    status, text = line
    # Retiring the Server (maintenance mode, task cap 0) is not built yet: no line may promise it.
    assert "octowiz can" not in text and "at the end" not in text
    if administer_system:
        assert line == ("ok", "AdministerSystem: the key can retire this Server later")
    else:
        assert line == (
            "warn",
            "No AdministerSystem: not needed to migrate, only to retire this Server later "
            "(maintenance mode, task cap 0)",
        )
