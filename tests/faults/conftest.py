"""Fixtures the fault tests borrow: a migrated demo wave for Targets, and the cut-over's (engine tests)."""

from tests.engine.test_cutover import cut, journal  # noqa: F401
from tests.engine.test_targets import setup, sim  # noqa: F401
