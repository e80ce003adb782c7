"""Every page, as Chromium's accessibility tree gives it to a screen reader: each control named, the
landmarks there, one h1 and no skipped heading level."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.support.platform import Running
from tests.ui.accessibility import accessibility_problems
from tests.ui.browser import base_url, sign_in
from tests.ui.test_pages import ALICE, create, wait_status

PAGES = [
    "/",
    "/launch?pipeline=nf-core/scrnaseq",
    "/launch?pipeline=demo/hello",
    "/launch?pipeline=nf-core/scrnaseq&ngs_run=NGS-2024-005",
]


@pytest.mark.parametrize("path", PAGES)
async def test_the_page_is_accessible(page: Page, platform: Running, path: str) -> None:
    await sign_in(page, platform, "alice@example.com")
    await page.goto(base_url(platform) + path)
    await page.wait_for_load_state("networkidle")
    assert await accessibility_problems(page) == []


async def test_a_run_page_is_accessible(page: Page, platform: Running) -> None:
    run = await create(platform, ALICE, name="accessible-run")
    await wait_status(platform, run["run_id"], {"completed", "failed"})
    await sign_in(page, platform, "alice@example.com")
    await page.goto(f"{base_url(platform)}/runs/{run['run_id']}")
    await page.wait_for_load_state("networkidle")
    assert await accessibility_problems(page) == []


async def test_the_signin_page_is_accessible(page: Page, platform: Running) -> None:
    await page.goto(base_url(platform) + "/signin")
    assert await accessibility_problems(page) == []


async def test_the_check_finds_what_a_screen_reader_would_miss(page: Page) -> None:
    await page.set_content(
        "<header>x</header><main><h1>T</h1><h3>skipped</h3><button></button><input type=text><a href='/x'></a></main>"
    )
    problems = await accessibility_problems(page)
    assert "a button without an accessible name" in " ".join(problems)
    assert any(p.startswith("a textbox without") for p in problems)
    assert any(p.startswith("a link without") for p in problems)
    assert "heading level 1 followed by level 3" in problems
    assert "no navigation landmark" in problems and "no contentinfo landmark" in problems
