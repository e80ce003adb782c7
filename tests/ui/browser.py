"""Helpers of the browser tests: where Chromium is, its flags, signing in, screenshots."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page

from tests.support.platform import Running

CHROMIUM = os.environ.get("ARC_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def base_url(platform: Running) -> str:
    return str(platform.http.base_url).rstrip("/")


async def sign_in(page: Page, platform: Running, email: str) -> None:
    await page.goto(base_url(platform) + "/signin")
    await page.get_by_label("Email").fill(email)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(base_url(platform) + "/")


async def screenshots(page: Page, name: str) -> None:
    """The page as it is now, at desktop and at phone width, under test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in VIEWPORTS.items():
        await page.set_viewport_size(size)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(VIEWPORTS["desktop"])
