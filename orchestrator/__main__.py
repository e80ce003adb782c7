"""``python -m orchestrator``: the container's entrypoint (see orchestrator/main.py)."""

from __future__ import annotations

from orchestrator.main import main

raise SystemExit(main())
