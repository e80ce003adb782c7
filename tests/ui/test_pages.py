"""The web UI in a real Chromium on the embedded stack: sign in, the runs page, a run going live, cancel."""

from __future__ import annotations

import asyncio
import json
import os
import re

import pytest
from playwright.async_api import Locator, Page, Route, expect

from tests.support.inputs import TEST_INPUTS
from tests.support.platform import Running
from tests.ui.browser import base_url, screenshots, sign_in

SAMPLESHEET = (
    "sample,fastq_1,fastq_2,expected_cells\n"
    f"s1,{TEST_INPUTS}/s1_L001_R1.fastq.gz,{TEST_INPUTS}/s1_L001_R2.fastq.gz,5000\n"
    f"s2,{TEST_INPUTS}/s2_R1.fastq.gz,{TEST_INPUTS}/s2_R2.fastq.gz,3000\n"
)
ALICE = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}
BOB = {"X-Goog-Authenticated-User-Email": "accounts.google.com:bob@example.com"}


def body(**overrides: object) -> dict:
    params = {"genome": "GRCh38", "protocol": "10XV3", "aligner": "star"}
    return {
        "pipeline": "nf-core/scrnaseq",
        "pipeline_version": "2.7.1",
        "samplesheet_csv": SAMPLESHEET,
        "params": params,
        **overrides,
    }


async def create(platform: Running, headers: dict[str, str], **overrides: object) -> dict:
    response = await platform.http.post("/api/runs", json=body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def run_link(page: Page, run: dict) -> Locator:
    return page.locator(f'a[href="/runs/{run["run_id"]}"]')


async def wait_status(
    platform: Running, run_id: str, wanted: set[str], headers: dict[str, str] = ALICE, timeout: float = 30
) -> str:
    async with asyncio.timeout(timeout):
        while True:
            status = (await platform.http.get(f"/api/runs/{run_id}", headers=headers)).json()["status"]
            if status in wanted:
                return status
            await asyncio.sleep(0.1)


async def test_signin_page_sets_the_identity(page: Page, platform: Running) -> None:
    await page.goto(base_url(platform) + "/signin")
    await expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Sign in as"))
    await screenshots(page, "signin")
    await sign_in(page, platform, "carol@example.com")
    await expect(page.get_by_test_id("viewer")).to_have_text("carol@example.com")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "arc_dev_email")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"


async def test_runs_page_lists_mine_and_not_others(page: Page, platform: Running) -> None:
    mine = await create(platform, ALICE, name="alice-listed")
    theirs = await create(platform, BOB, name="bob-hidden")
    await sign_in(page, platform, "alice@example.com")
    await expect(page.get_by_role("heading", name="Runs", level=1)).to_be_visible()
    for landmark in ("banner", "navigation", "main", "search", "contentinfo"):
        await expect(page.get_by_role(landmark)).to_have_count(1)
    mine_link = page.get_by_role("link", name=mine["name"] or mine["run_id"]).and_(run_link(page, mine))
    await expect(mine_link).to_be_visible()
    await expect(run_link(page, theirs)).to_have_count(0)
    # Filters go in the query string; the status select is named by its label.
    await page.get_by_label("Status").select_option("cancelled")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_text("No runs match.")).to_be_visible()
    await page.goto(base_url(platform) + "/")
    await wait_status(platform, mine["run_id"], {"completed", "failed"})
    await wait_status(platform, theirs["run_id"], {"completed", "failed"}, headers=BOB)
    await page.reload()
    await expect(page.get_by_role("row").filter(has=run_link(page, mine))).to_contain_text("completed")
    await screenshots(page, "runs")


async def test_a_run_goes_to_completed_live(page: Page, platform: Running) -> None:
    await sign_in(page, platform, "alice@example.com")
    run = await create(platform, ALICE, name="live-run")
    await page.goto(f"{base_url(platform)}/runs/{run['run_id']}")
    await page.evaluate("window.__noReload = true")
    status = page.get_by_role("status")
    await expect(status).to_have_text("completed", timeout=30_000)
    assert await page.evaluate("window.__noReload === true"), "the page reloaded"
    await expect(page.get_by_role("log")).to_contain_text("Execution complete", timeout=15_000)
    tasks = page.get_by_role("region", name="Tasks table")
    await expect(tasks.get_by_role("row").nth(1)).to_be_visible()
    await expect(page.get_by_role("progressbar").first).to_be_visible()
    await expect(page.get_by_role("button", name="Cancel run")).to_be_hidden()
    results = page.locator('ul[data-group="results"] a').first
    async with page.expect_download() as info:
        await results.click()
    download = await info.value
    assert await download.path() is not None and download.suggested_filename
    await screenshots(page, "run-completed")


async def test_cancel_from_the_run_page_by_keyboard(page: Page, platform: Running) -> None:
    await sign_in(page, platform, "alice@example.com")
    slow = os.environ.get("NXF_FAKE_TASK_SECONDS")
    os.environ["NXF_FAKE_TASK_SECONDS"] = "5"  # the orchestrator the executor starts inherits it
    try:
        run = await create(platform, ALICE, name="slow-run")
        await wait_status(platform, run["run_id"], {"running"})
    finally:
        os.environ["NXF_FAKE_TASK_SECONDS"] = slow or "0.05"
    await page.goto(f"{base_url(platform)}/runs/{run['run_id']}")
    await expect(page.get_by_role("status")).to_have_text("running")
    cancel = page.get_by_role("button", name="Cancel run")
    for _ in range(20):  # Tab from the top of the page until the cancel button has the focus
        await page.keyboard.press("Tab")
        if await cancel.evaluate("b => b === document.activeElement"):
            break
    else:
        pytest.fail("the cancel button is not reachable by Tab")
    await screenshots(page, "run-running")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("cancelled", timeout=20_000)
    await expect(cancel).to_be_hidden()


async def test_a_strangers_run_is_a_404_page(page: Page, platform: Running) -> None:
    run = await create(platform, ALICE, name="private-run")
    await sign_in(page, platform, "bob@example.com")
    response = await page.goto(f"{base_url(platform)}/runs/{run['run_id']}")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await expect(page.get_by_text(run["run_id"])).to_have_count(0)
    await screenshots(page, "not-found")


async def test_pages_with_private_data_are_never_cached(platform: Running) -> None:
    """A page shows its viewer's runs: no shared cache or back button may show it to the next person."""
    run = await create(platform, ALICE, name="uncached-run")
    for path in ("/", f"/runs/{run['run_id']}", "/runs/run-00000000"):
        response = await platform.http.get(path, headers=ALICE)
        assert response.headers["cache-control"] == "no-store", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path


async def test_the_name_search_finds_a_run(page: Page, platform: Running) -> None:
    run = await create(platform, ALICE, name="needle-in-haystack")
    await create(platform, ALICE, name="other-straw")
    await sign_in(page, platform, "alice@example.com")
    await page.get_by_label("Name").fill("needle")
    await page.get_by_role("button", name="Filter").click()
    await expect(run_link(page, run)).to_be_visible()
    await expect(page.get_by_role("link", name="other-straw")).to_have_count(0)
    await page.get_by_label("Name").fill("no-such-run-name")
    await page.get_by_label("Name").press("Enter")
    await expect(page.get_by_text("No runs match.")).to_be_visible()


async def test_the_log_keeps_a_window_of_the_last_lines(page: Page, platform: Running) -> None:
    """5,000 lines arrive; the page keeps the last 2,000 in the DOM and says how many it dropped."""
    run = await create(platform, ALICE)
    await wait_status(platform, run["run_id"], {"completed", "failed"})
    entries = [{"offset": i, "end_offset": i + 1, "level": "INFO", "message": f"line {i}"} for i in range(5000)]
    batches = [{"entries": entries[i : i + 500], "next_offset": i + 500} for i in range(0, 5000, 500)]
    events = "".join(f"event: entries\nid: {b['next_offset']}\ndata: {json.dumps(b)}\n\n" for b in batches)
    events += 'event: done\ndata: {"next_offset": 5000}\n\n'

    async def fulfil(route: Route) -> None:
        await route.fulfill(status=200, content_type="text/event-stream", body=events)

    await page.route("**/logs/stream*", fulfil)
    await sign_in(page, platform, "alice@example.com")
    await page.goto(f"{base_url(platform)}/runs/{run['run_id']}")
    log = page.get_by_role("log")
    await expect(log).to_contain_text("line 4999")
    await expect(page.get_by_text("3,000 earlier lines are not shown")).to_be_visible()
    assert await log.evaluate("node => node.childElementCount") == 2000
    assert await log.evaluate("node => node.firstElementChild.textContent.endsWith('line 3000')")
