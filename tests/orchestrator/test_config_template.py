"""The reference config shipped in the orchestrator image says what the Pipelines service renders for Batch."""

from __future__ import annotations

from pathlib import Path

from services.pipelines.config_render import BatchConfigSettings, render_config

TEMPLATE = Path(__file__).resolve().parents[2] / "orchestrator" / "nextflow.config.template"
# The renderer does not override the pipeline's errorStrategy / maxRetries (nf-core retries only exit codes
# 130-145 and 104 through its base.config): neither does the reference template.
STALE_TEMPLATE_LINES = ("process.errorStrategy = ", "process.maxRetries = ")


def settings_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("//")]


def _filled_template() -> str:
    values = {
        "run_id": "run-1a2b3c4d",
        "pipeline_label": "nf-core_scrnaseq",
        "version_label": "2_7_1",
        "project": "my-project",
        "location": "europe-west1",
        "tasks_service_account": "tasks@my-project.iam.gserviceaccount.com",
    }
    template = TEMPLATE.read_text()
    for name, value in values.items():
        template = template.replace("{{ " + name + " }}", value)
    assert "{{" not in template
    return template


def _rendered() -> str:
    return render_config(
        pipeline="nf-core/scrnaseq",
        version="2.7.1",
        params={},
        user_config="",
        run_id="run-1a2b3c4d",
        settings=BatchConfigSettings(
            project="my-project", location="europe-west1", service_account="tasks@my-project.iam.gserviceaccount.com"
        ),
        resource_caps="resource_limits",
    )


def test_template_settings_are_rendered() -> None:
    """Every setting of the reference template, bar the stale retry lines, is in the rendered config."""
    rendered = set(settings_lines(_rendered()))
    wanted = [line for line in settings_lines(_filled_template()) if not line.startswith(STALE_TEMPLATE_LINES)]
    assert [line for line in wanted if line not in rendered] == []


def test_template_matches_the_rendered_batch_config() -> None:
    assert sorted(settings_lines(_filled_template())) == sorted(settings_lines(_rendered()))
