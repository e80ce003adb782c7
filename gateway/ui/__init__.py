"""The web UI: server-rendered pages (Jinja2) whose live parts use only the public REST and SSE routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from arc_core.settings import Settings
from gateway.ui.launch import router as launch_router
from gateway.ui.pages import router

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the pages and ``/static``; in dev mode the gateway reads the "sign in as" cookie."""
    app.state.dev_identity_cookie = settings.auth_mode == "dev"
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
    app.include_router(launch_router)
