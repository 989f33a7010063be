"""``python -m octowiz``."""

from octowiz.cli import main

raise SystemExit(main())
