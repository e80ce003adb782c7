"""The embedded platform (with the Nextflow stand-in) and a real headless Chromium driven by Playwright.

Debian's ``chromium`` is required (``.ci/run`` installs it): without it these tests fail, they never skip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from tests.support.platform import Running, standin_platform
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    dsn = await make_database()
    async with standin_platform(database_url=dsn, data_dir=tmp_path_factory.mktemp("arc")) as running:
        yield running


@pytest.fixture(scope="module")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrowserContext]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORTS["desktop"],
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def page(browser: BrowserContext, platform: Running) -> AsyncIterator[Page]:
    """A fresh tab with no cookies (no one signed in yet)."""
    await browser.clear_cookies()
    tab = await browser.new_page()
    tab.set_default_timeout(15_000)
    try:
        yield tab
    finally:
        await tab.close()
