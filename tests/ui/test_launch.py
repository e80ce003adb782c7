"""The Launch page in a real Chromium on the embedded stack: the form generated from the pipeline's schema, the
samplesheet uploaded or built from Benchling into the grid, problems marked where they are, validate, launch,
and a launch file imported into the form."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect

from tests.support.inputs import TEST_INPUTS
from tests.support.platform import Running
from tests.ui.browser import base_url, screenshots, sign_in
from tests.ui.test_pages import ALICE, SAMPLESHEET, create, wait_status

SCRNASEQ = "/launch?pipeline=nf-core/scrnaseq&version=2.7.1"


async def open_launch(
    page: Page, platform: Running, path: str = SCRNASEQ, first_group: str = "Mandatory arguments"
) -> None:
    await sign_in(page, platform, "alice@example.com")
    await page.goto(base_url(platform) + path)
    await expect(page.get_by_role("heading", name="Launch a run", level=1)).to_be_visible()
    await expect(page.get_by_role("group", name=first_group)).to_be_visible()


async def fill_mandatory(page: Page) -> None:
    await page.get_by_label("genome", exact=True).fill("GRCh38")
    await page.get_by_label("protocol", exact=True).fill("10XV3")
    await page.get_by_label("aligner", exact=True).select_option("star")


async def test_launch_from_the_form_with_an_uploaded_samplesheet(page: Page, platform: Running, tmp_path) -> None:
    await open_launch(page, platform)
    # The schema's sections, help text, defaults, enums as choices and booleans are the form.
    aligner = page.get_by_label("aligner", exact=True)
    await expect(aligner.locator("option")).to_contain_text(["Default (alevin)", "kallisto", "star"])
    await expect(page.get_by_role("checkbox", name="skip_fastqc")).not_to_be_checked()
    await expect(page.get_by_text("Help: aligner")).to_be_visible()
    await expect(page.get_by_label("input", exact=True)).to_have_count(0)  # set by the platform
    # A number is checked as it is typed.
    rlen = page.get_by_label("simpleaf_rlen")
    await rlen.fill("ninety")
    await expect(page.get_by_text("simpleaf_rlen must be a whole number")).to_be_visible()
    await expect(rlen).to_have_attribute("aria-invalid", "true")
    await rlen.fill("")
    await fill_mandatory(page)
    sheet = tmp_path / "samplesheet.csv"
    sheet.write_text(SAMPLESHEET)
    await page.get_by_label("Samplesheet file (CSV)").set_input_files(str(sheet))
    await expect(page.get_by_label("sample, row 2")).to_have_value("s2")
    await expect(page.get_by_text("2 samples", exact=True)).to_be_visible()
    await page.get_by_label("Run name (optional)").fill("launched-from-the-form")
    await page.get_by_role("button", name="Validate").click()
    await expect(page.get_by_text("Valid: 2 samples")).to_be_visible()
    await screenshots(page, "launch")
    await page.get_by_role("button", name="Launch run").click()
    await page.wait_for_url(f"{base_url(platform)}/runs/run-*")
    await expect(page.get_by_role("heading", name="launched-from-the-form", level=1)).to_be_visible()
    await expect(page.locator("#run-status")).to_have_text("completed", timeout=30_000)
    await expect(page.get_by_role("log")).to_contain_text("Execution complete", timeout=15_000)
    await expect(page.get_by_role("region", name="Tasks table").get_by_role("row").nth(1)).to_be_visible()
    async with page.expect_download() as info:
        await page.locator('ul[data-group="results"] a').first.click()
    assert (await info.value).suggested_filename


async def test_a_bad_samplesheet_cell_is_marked_before_submit(page: Page, platform: Running) -> None:
    await open_launch(page, platform)
    await fill_mandatory(page)
    await page.get_by_label("sample, row 1").fill("s 1")
    await page.get_by_label("fastq_1, row 1").fill(f"{TEST_INPUTS}/s1_L001_R1.fastq.gz")
    await page.get_by_label("fastq_2, row 1").fill(f"{TEST_INPUTS}/s1_L001_R2.txt")
    cell = page.get_by_label("fastq_2, row 1")
    await expect(cell).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_text("FastQ file for reads 2 cannot contain spaces")).to_be_visible()
    await expect(page.get_by_label("sample, row 1")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_text("2 problems marked in the grid")).to_be_visible()
    created = []
    page.on("request", lambda r: created.append(r.url) if r.method == "POST" and r.url.endswith("/api/runs") else None)
    await page.get_by_role("button", name="Launch run").click()
    alert = page.locator("#launch-problems")
    await expect(alert).to_contain_text("Fix these 2 problems first")
    await expect(alert).to_contain_text("samplesheet[row 1].fastq_2")
    assert not created, "a samplesheet with marked cells was sent"
    await screenshots(page, "launch-bad-cell")
    # Fixing the cells clears their marks.
    await page.get_by_label("sample, row 1").fill("s1")
    await cell.fill(f"{TEST_INPUTS}/s1_L001_R2.fastq.gz")
    await expect(cell).to_have_attribute("aria-invalid", "false")
    await expect(page.get_by_text("1 sample", exact=True)).to_be_visible()


async def test_the_servers_problems_land_on_their_fields_and_config_lines(page: Page, platform: Running) -> None:
    await open_launch(page, platform)
    await fill_mandatory(page)
    await page.get_by_label("sample, row 1").fill("s1")
    await page.get_by_label("fastq_1, row 1").fill(f"{TEST_INPUTS}/s1_L001_R1.fastq.gz")
    await page.get_by_label("fastq_2, row 1").fill(f"{TEST_INPUTS}/s1_L001_R2.fastq.gz")
    await page.get_by_label("Config (optional)").fill("process {\n  cpus = 2\n  executor = 'slurm'\n}\n")
    await page.get_by_role("button", name="Validate").click()
    problems = page.get_by_role("list", name="Config problems")
    await expect(problems).to_contain_text("executor")
    await expect(page.locator("#config-gutter .bad")).to_have_text("3")
    await page.get_by_role("button", name="Line 3, column 3").click()
    selected = await page.get_by_label("Config (optional)").evaluate(
        "t => t.value.slice(t.selectionStart, t.selectionEnd)"
    )
    assert selected == "  executor = 'slurm'"
    await expect(page.get_by_label("Config (optional)")).to_have_attribute("aria-invalid", "true")
    await screenshots(page, "launch-config-error")


async def test_the_benchling_flow_builds_a_samplesheet_and_launches(page: Page, platform: Running) -> None:
    await open_launch(page, platform)
    await fill_mandatory(page)
    await page.get_by_text("From Benchling").click()
    await page.get_by_label("Benchling project").select_option("Comet Organoids")
    await page.get_by_role("checkbox", name="NGS-2024-005").check()
    await expect(page.get_by_role("heading", name="Samples of NGS-2024-005")).to_be_visible()
    await expect(page.get_by_role("cell", name="COMET5_ORG_1", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Build the samplesheet").click()
    await expect(page.get_by_text("4 samples from NGS-2024-005 are in the grid")).to_be_visible()
    await expect(page.get_by_label("sample, row 4")).to_have_value("COMET5_ORG_4")
    await screenshots(page, "launch-benchling")
    await page.get_by_role("button", name="Launch run").click()
    await page.wait_for_url(f"{base_url(platform)}/runs/run-*")
    run_id = page.url.rsplit("/", 1)[-1]
    run = (await platform.http.get(f"/api/runs/{run_id}", headers=ALICE)).json()
    assert run["sample_count"] == 4
    assert run["source_ngs_runs"] == ["NGS-2024-005"] and run["source_project"] == "Comet Organoids"
    await wait_status(platform, run_id, {"completed", "failed"})


async def test_a_launch_file_fills_the_form(page: Page, platform: Running, tmp_path) -> None:
    source = await create(platform, ALICE, name="exported", labels={"team": "onc"}, config_content="")
    await wait_status(platform, source["run_id"], {"completed", "failed"})
    exported = await platform.http.get(f"/api/runs/{source['run_id']}/launch", params={"format": "yaml"}, headers=ALICE)
    launch_file = tmp_path / "run.launch.yaml"
    launch_file.write_bytes(exported.content)
    # The page opens on the catalog's first pipeline, the demo.
    await open_launch(page, platform, "/launch", first_group="Greeting options")
    await page.get_by_label("Import a launch file (YAML or JSON)").set_input_files(str(launch_file))
    await expect(page.get_by_text("Filled from run.launch.yaml.")).to_be_visible()
    await expect(page.get_by_role("combobox", name="Pipeline", exact=True)).to_have_value("nf-core/scrnaseq")
    await expect(page.get_by_label("aligner", exact=True)).to_have_value("star")
    await expect(page.get_by_label("genome", exact=True)).to_have_value("GRCh38")
    await expect(page.get_by_label("sample, row 2")).to_have_value("s2")
    await expect(page.get_by_label("Run name (optional)")).to_have_value("exported")
    await expect(page.get_by_label("Labels (optional): key=value, comma-separated")).to_have_value("team=onc")
    await page.get_by_role("button", name="Validate").click()
    await expect(page.get_by_text("Valid: 2 samples")).to_be_visible()
    # Not a launch document: said so, nothing changes.
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n")
    await page.get_by_label("Import a launch file (YAML or JSON)").set_input_files(str(bad))
    await expect(page.get_by_text("Could not read list.yaml")).to_be_visible()
    await expect(page.get_by_label("Run name (optional)")).to_have_value("exported")


async def test_an_unknown_pipeline_in_the_query_is_said(page: Page, platform: Running) -> None:
    await sign_in(page, platform, "alice@example.com")
    await page.goto(base_url(platform) + "/launch?pipeline=acme/nothing")
    await expect(page.get_by_role("alert")).to_have_text("The catalog has no pipeline acme/nothing.")
    await asyncio.sleep(0)


async def test_launch_from_an_ngs_run_link_fills_the_grid(page: Page, platform: Running) -> None:
    """The Benchling page links `/launch?ngs_run=NAME`: the samplesheet is built from that run at once."""
    await open_launch(page, platform, SCRNASEQ + "&ngs_run=NGS-2024-005")
    await expect(page.get_by_text("4 samples from NGS-2024-005 are in the grid")).to_be_visible()
    await expect(page.get_by_label("fastq_1, row 1")).to_have_value(
        re.compile(r"COMET5_ORG_1_S1_L001_R1_001\.fastq\.gz$")
    )
    await open_launch(page, platform, SCRNASEQ + "&ngs_run=NGS-1999-404")
    await expect(page.get_by_text("Could not build the samplesheet")).to_be_visible()
