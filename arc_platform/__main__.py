"""``python -m arc_platform serve --target …`` / ``python -m arc_platform migrate``."""

from arc_platform.cli import main

raise SystemExit(main())
