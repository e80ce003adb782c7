"""The reference config shipped in the orchestrator image says what the Pipelines service renders for Batch."""

from __future__ import annotations

from pathlib import Path

from services.pipelines.config_render import BatchConfigSettings, render_config

TEMPLATE = Path(__file__).resolve().parents[2] / "orchestrator" / "nextflow.config.template"


def settings_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("//")]


def test_template_matches_the_rendered_batch_config() -> None:
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
    rendered = render_config(
        pipeline="nf-core/scrnaseq",
        version="2.7.1",
        params={},
        user_config="",
        run_id="run-1a2b3c4d",
        settings=BatchConfigSettings(
            project="my-project", location="europe-west1", service_account="tasks@my-project.iam.gserviceaccount.com"
        ),
    )
    assert settings_lines(template) == settings_lines(rendered)
