"""RenderConfig: the google-batch block, the local variant, Groovy quoting of hostile values, determinism,
the user's config re-rendered from what the parser accepted, and the platform's block last."""

from __future__ import annotations

import re
from typing import Any

import pytest

from arc_core.contracts.labels import label_key, label_value
from arc_core.errors import InvalidArgument
from services.pipelines.config_render import (
    MAX_USER_CONFIG_BYTES,
    BatchConfigSettings,
    cap_param_problems,
    duration_seconds,
    groovy_literal,
    groovy_string,
    memory_bytes,
    render_config,
)

BATCH = BatchConfigSettings(
    project="lab-prod",
    location="europe-west4",
    service_account="nextflow@lab-prod.iam.gserviceaccount.com",
)
HOSTILE = [
    "'; System.exit(1); //",
    "${'$'}{\"rm -rf /\".execute()}",
    "$HOME ${params.outdir} \\${x}",
    "line1\nline2\r\n'''\"\"\"",
    "back\\slash\\' and \\\\'",
    "tab\tnul\x00 bell\x07 ls\u2028ps\u2029 nel\x85",
    "\\u0027; System.exit(1); //",
    "ünïcødé 🧬 ok",
    "*/ /* // #!",
    "",
]


def render(**overrides: Any) -> str:
    args: dict[str, Any] = {
        "pipeline": "nf-core/scrnaseq",
        "version": "2.7.1",
        "params": {"genome": "GRCh38", "protocol": "10XV3", "aligner": "star"},
        "user_config": "",
        "run_id": "run-0a1b2c3d",
        "settings": BATCH,
    }
    args.update(overrides)
    return render_config(**args)


_GROOVY_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "$": "$",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
}


def parse_groovy_single_quoted(text: str, start: int) -> tuple[str, int]:
    """Read the single-quoted Groovy string at ``text[start]``; return (value, index after the literal).

    A small model of Groovy's lexer for '...' strings, used to prove a value cannot leave its literal.
    """
    assert text[start] == "'", text[start : start + 20]
    out: list[str] = []
    i = start + 1
    while True:
        ch = text[i]
        assert ch not in "\r\n", "raw line break inside a single-quoted string"
        if ch == "'":
            return "".join(out), i + 1
        if ch == "\\":
            nxt = text[i + 1]
            if nxt == "u":
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            assert nxt in _GROOVY_ESCAPES, f"invalid escape \\{nxt}"
            out.append(_GROOVY_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1


def assignments(config: str) -> dict[str, str]:
    """Top-level ``name = value`` lines (comments and ``process { }`` blocks excluded), raw right-hand sides;
    a later line of the same name wins, as in Nextflow."""
    found, depth = {}, 0
    for line in config.splitlines():
        if line.startswith("//") or not line.strip():
            continue
        if depth or line.endswith("{") or line == "}":
            depth += line.count("{") - line.count("}")
            continue
        name, _, value = line.partition(" = ")
        found[name] = value
    return found


# ---------------------------------------------------------------------------------------------- layout


def test_google_batch_block() -> None:
    config = render()
    a = assignments(config)
    assert a["process.executor"] == "'google-batch'"
    assert a["google.project"] == "'lab-prod'"
    assert a["google.location"] == "'europe-west4'"
    assert a["google.batch.serviceAccountEmail"] == "'nextflow@lab-prod.iam.gserviceaccount.com'"
    assert a["google.batch.spot"] == "true"
    assert a["google.batch.maxSpotAttempts"] == "3"
    assert a["google.batch.bootDiskSize"] == "'100 GB'"
    assert a["process.resourceLimits"] == "[cpus: 36, memory: '500 GB', time: '48h']"
    # The pipeline's own errorStrategy / maxRetries are left alone (nf-core retries 130-145 and 104 only).
    assert "process.errorStrategy" not in a and "process.maxRetries" not in a
    assert "errorStrategy" not in config and "maxRetries" not in config
    assert a["process.scratch"] == "true"
    assert a["process.resourceLabels"] == (
        "['run-id': 'run-0a1b2c3d', app: 'arc-reactor', pipeline: 'nf-core_scrnaseq', 'pipeline-version': '2_7_1']"
    )
    assert a["params.aligner"] == "'star'" and a["params.genome"] == "'GRCh38'"
    assert config.endswith("\n") and not config.endswith("\n\n")


def test_settings_drive_the_values() -> None:
    settings = BatchConfigSettings(
        project="p",
        location="us-east1",
        service_account="",
        spot=False,
        max_spot_attempts=0,
        boot_disk_size="200 GB",
        max_cpus=8,
        max_memory="64 GB",
        max_time="12h",
        scratch=False,
        extra_labels=(("Team", "Single Cell"), ("cost-centre", "42")),
    )
    a = assignments(render(settings=settings))
    assert "google.batch.serviceAccountEmail" not in a  # unset: Batch uses the default service account
    assert a["google.batch.spot"] == "false" and a["google.batch.maxSpotAttempts"] == "0"
    assert a["process.resourceLimits"] == "[cpus: 8, memory: '64 GB', time: '12h']"
    assert a["process.scratch"] == "false"
    assert a["process.resourceLabels"].endswith("'cost-centre': '42', team: 'single_cell']")


def test_local_executor_when_no_project() -> None:
    config = render(settings=BatchConfigSettings())
    a = assignments(config)
    assert a["process.executor"] == "'local'"
    assert not any(k.startswith("google.") for k in a)
    assert "process.resourceLimits" in a and "process.errorStrategy" not in a


USER_SECTION = "// ---- the run's config: the accepted settings, re-rendered as literals ----\n"
PLATFORM_SECTION = "// ---- platform (last: nothing above can change it) ----\n"


def test_the_accepted_user_config_is_re_rendered_before_the_platform_block() -> None:
    user = (
        "// the user's comment\nprocess {\n    withName: STAR_ALIGN { memory = 64.GB; cpus = 8 }\n"
        "  withLabel:'process_low'{ext { args = \"--fast\" }}\n}\nprocess.time = '2h' /* done */\n\n"
    )
    config = render(user_config=user)
    head, tail = config.split(USER_SECTION)
    user_part, platform_part = tail.split(PLATFORM_SECTION)
    assert "process.executor" not in head and "process.executor" not in user_part
    assert user_part.rstrip("\n").splitlines() == [
        "process.time = '2h'",
        "process {",
        "    withName: 'STAR_ALIGN' {",
        "        memory = '64 GB'",
        "        cpus = 8",
        "    }",
        "    withLabel: 'process_low' {",
        "        ext.args = '--fast'",
        "    }",
        "}",
    ]
    assert "the user's comment" not in config and "done" not in config  # the text itself is never emitted
    assert "process.executor = 'google-batch'" in platform_part
    assert platform_part.splitlines()[-1].startswith("process.resourceLabels = ")
    assert "re-rendered" not in render(user_config="") and "re-rendered" not in render(user_config="// only\n")


def test_no_params_no_params_section() -> None:
    assert "params." not in render(params={})


# ------------------------------------------------------------------------------------------ hostility


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_param_values_stay_inside_their_string(value: str) -> None:
    config = render(params={"genome": value, "z_after": "sentinel"})
    line_start = config.index("params.genome = ") + len("params.genome = ")
    parsed, end = parse_groovy_single_quoted(config, line_start)
    assert parsed == value  # the literal means exactly the value, nothing more
    assert config[end] == "\n"  # and nothing follows it on the line
    assert "\nparams.z_after = 'sentinel'\n" in config
    literal = config[line_start:end]
    assert re.search(r"(?<!\\)(\\\\)*\$", literal) is None  # every $ is escaped: no GString interpolation


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_settings_and_run_id_stay_inside_their_strings(value: str) -> None:
    settings = BatchConfigSettings(
        project=value or "p",
        location=value,
        service_account=value or "sa",
        boot_disk_size=value,
        network=value,
        subnetwork=value,
    )
    config = render(settings=settings, run_id=value, pipeline=value, version=value)
    for name, raw in assignments(config).items():
        assert name in {"params.aligner", "params.genome", "params.protocol"} or not name.startswith("params")
        if raw.startswith("'"):
            parsed, end = parse_groovy_single_quoted(raw, 0)
            assert end == len(raw), (name, raw)
    for line in config.splitlines():
        if line.startswith("//"):
            continue
        assert " = " in line or not line.strip(), line  # no line was injected


def test_nested_values_are_quoted_too() -> None:
    value = {"b'; x": ["'; System.exit(1) //", 1.5, True, None], "a": {"${x}": 2}}
    literal = groovy_literal(value)
    assert literal == "[a: ['\\${x}': 2], 'b\\'; x': ['\\'; System.exit(1) //', 1.5, true, null]]"


def test_groovy_literals() -> None:
    assert groovy_string("it's $5") == "'it\\'s \\$5'"
    assert groovy_literal(3.0) == "3" and groovy_literal(2.5) == "2.5" and groovy_literal(-7) == "-7"
    assert groovy_literal([]) == "[]" and groovy_literal({}) == "[:]"
    assert groovy_literal({"class": 1, "ok_key": 2}) == "['class': 1, ok_key: 2]"
    with pytest.raises(ValueError):
        groovy_literal(float("nan"))
    with pytest.raises(ValueError):
        groovy_literal(object())


@pytest.mark.parametrize("name", ["bad-name", "x; System.exit(1)", "1abc", "class", "a b", ""])
def test_param_names_must_be_identifiers(name: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        render(params={name: "x"})
    assert exc.value.violations[0].field == f"params.{name}"


def test_unrenderable_values_and_oversized_user_config() -> None:
    with pytest.raises(InvalidArgument) as exc:
        render(params={"x": float("inf")}, user_config="x" * (MAX_USER_CONFIG_BYTES + 1))
    assert [v.field for v in exc.value.violations] == ["params.x", "user_config"]


# ---------------------------------------------------------------------------------------- determinism


def test_rendering_is_deterministic() -> None:
    params = {"genome": "GRCh38", "aligner": "star", "protocol": "10XV3", "extra": {"b": 1, "a": [2, 3]}}
    reordered = dict(reversed(list(params.items())))
    reordered["extra"] = {"a": [2, 3], "b": 1}
    user = "process { withName: 'B' { cpus = 2 }; withName: 'A' { cpus = 1 } }"
    first = render(params=params, user_config=user)
    assert first == render(params=reordered, user_config=user)
    assert first == render(params=params, user_config=user)
    assert first.index("withName: 'B'") < first.index("withName: 'A'")  # selectors keep their order
    names = [line.split(" = ")[0] for line in first.splitlines() if line.startswith("params.")]
    assert names == sorted(names)


def test_gcp_labels() -> None:
    # The one rule of arc_core.contracts.labels (accents folded to ASCII, as on the Batch job's labels).
    assert label_value("nf-core/scrnaseq") == "nf-core_scrnaseq"
    assert label_value("Run-ABC_1.2 ü") == "run-abc_1_2_u"
    assert len(label_value("x" * 100)) == 63
    assert label_key("1st") == "x_1st" and label_key("") == "x_"
    config = render(run_id="RUN 'X'; $y", pipeline="Nf-Core/ScRNAseq")
    labels = assignments(config)["process.resourceLabels"]
    assert "'run-id': 'run__x____y'" in labels and "pipeline: 'nf-core_scrnaseq'" in labels


# ------------------------------------------------------------------------- the platform's lines win


def _last(config: str, name: str) -> str:
    """The value of the last ``name = ...`` line (what Nextflow ends up with for a plain assignment)."""
    return assignments(config)[name]


def _last_index(config: str, prefix: str) -> int:
    return max(i for i, line in enumerate(config.splitlines()) if line.startswith(prefix))


LABELS = "['run-id': 'run-0a1b2c3d', app: 'arc-reactor', pipeline: 'nf-core_scrnaseq', 'pipeline-version': '2_7_1']"


@pytest.mark.parametrize(
    "user",
    [
        "process.cpus = 2\nprocess.memory = '4 GB'",
        "process { withName: '.*' { cpus = 2; time = 1.h } }\nparams.aligner = 'star'",
    ],
)
def test_platform_lines_come_after_the_user_config(user: str) -> None:
    settings = BatchConfigSettings(project="lab-prod", location="europe-west4", network="n", use_private_address=True)
    config = render(user_config=user, settings=settings, params={"genome": "GRCh38"})
    lines = config.splitlines()
    platform_start = lines.index(PLATFORM_SECTION.rstrip("\n"))
    user_end = max(i for i, line in enumerate(lines) if "cpus = 2" in line)
    assert platform_start > user_end
    for name in ("process.resourceLabels", "process.executor", "google.project", "process.resourceLimits"):
        assert all(not line.startswith(name) for line in lines[:platform_start]), name
    assert _last(config, "process.resourceLabels") == LABELS
    assert _last(config, "process.executor") == "'google-batch'"
    assert _last(config, "google.project") == "'lab-prod'"
    assert _last(config, "google.batch.network") == "'n'"
    assert _last(config, "google.batch.usePrivateAddress") == "true"
    assert _last(config, "process.resourceLimits") == "[cpus: 36, memory: '500 GB', time: '48h']"
    assert lines[-1] == "process.resourceLabels = " + LABELS  # the very last line of the file


def test_local_executor_block_is_last_too() -> None:
    config = render(user_config="process.cpus = 2", settings=BatchConfigSettings())
    assert _last(config, "process.executor") == "'local'"
    assert config.index("process.cpus = 2") < config.index("process.executor = 'local'")
    assert config.splitlines()[-1].startswith("process.resourceLabels = ")


@pytest.mark.parametrize(
    ("user", "line", "column"),
    [
        ("process.resourceLabels = [:]", 1, 1),
        ("process.resourceLabels = ['run-id': 'someone-else', app: 'x']", 1, 1),
        ("process.executor = 'local'", 1, 1),
        ("process {\n    cpus = 2\n    executor = 'local'\n}", 3, 5),
        # A selector wins over process-wide values: the parser refuses these wherever they are written.
        ("process {\n    withName: 'FASTQC' {\n        resourceLabels = [:]\n    }\n}", 3, 9),
        ("process {\n    withLabel: 'process_low' { executor = 'local' }\n}", 2, 32),
        ("process.resourceLimits = [:]", 1, 1),
        ("google.project = 'other'", 1, 1),
        ("docker.enabled = false", 1, 1),
    ],
)
def test_platform_owned_settings_in_the_user_config_are_refused(user: str, line: int, column: int) -> None:
    with pytest.raises(InvalidArgument) as err:
        render(user_config=user, settings=BatchConfigSettings(project="lab-prod"))
    messages = [v.description for v in err.value.violations if v.field == "user_config"]
    assert messages and messages[0].startswith(f"line {line}, column {column}: "), messages


def test_a_comment_naming_a_platform_setting_is_fine() -> None:
    config = render(user_config="process.cpus = 2 // not the executor", settings=BatchConfigSettings())
    assert "process.cpus = 2" in config and "not the executor" not in config


def test_config_params_are_rendered_with_the_others_and_never_twice() -> None:
    config = render(params={"genome": "GRCh38"}, user_config="params { aligner = 'star'; skip = [1, 'a', true] }")
    a = assignments(config)
    assert a["params.genome"] == "'GRCh38'" and a["params.aligner"] == "'star'"
    assert a["params.skip"] == "[1, 'a', true]"
    with pytest.raises(InvalidArgument) as err:
        render(params={"genome": "GRCh38"}, user_config="\nparams.genome = 'GRCm39'")
    [violation] = err.value.violations
    assert violation.field == "params.genome"
    assert violation.description.startswith("set both in params and in the config's params block")
    assert "line 2, column 8" in violation.description
    with pytest.raises(InvalidArgument) as err:
        render(params={}, user_config="params.class = 1")
    assert [v.field for v in err.value.violations] == ["params.class"]


# -------------------------------------------------------------------------------------- networks


def test_google_batch_network_options() -> None:
    # Option names from Nextflow v24.04.4, plugins/nf-google/src/main/nextflow/cloud/google/batch/client/
    # BatchConfig.groovy: config.navigate('google.batch.network'), ('google.batch.subnetwork'),
    # ('google.batch.usePrivateAddress', false).
    settings = BatchConfigSettings(
        project="lab-prod",
        network="projects/lab-prod/global/networks/arc",
        subnetwork="projects/lab-prod/regions/europe-west4/subnetworks/arc-tasks",
        use_private_address=True,
    )
    a = assignments(render(settings=settings))
    assert a["google.batch.network"] == "'projects/lab-prod/global/networks/arc'"
    assert a["google.batch.subnetwork"] == "'projects/lab-prod/regions/europe-west4/subnetworks/arc-tasks'"
    assert a["google.batch.usePrivateAddress"] == "true"
    plain = assignments(render(settings=BatchConfigSettings(project="lab-prod")))
    assert "google.batch.network" not in plain and "google.batch.subnetwork" not in plain
    assert plain["google.batch.usePrivateAddress"] == "false"
    local = render(settings=BatchConfigSettings(network="n", subnetwork="s", use_private_address=True))
    assert "google." not in local  # the local executor has no network options


def test_server_fills_the_network_settings_from_arc_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from arc_core.settings import Settings
    from services.pipelines import server

    monkeypatch.setenv("ARC_BATCH_NETWORK", "projects/p/global/networks/n")
    monkeypatch.setenv("ARC_BATCH_SUBNETWORK", "projects/p/regions/r/subnetworks/s")
    monkeypatch.setenv("ARC_BATCH_NO_EXTERNAL_IP", "true")
    settings = Settings(_env_file=None)
    _, service = asyncio.run(server.build(settings, database_url=None))
    assert service.batch.network == "projects/p/global/networks/n"
    assert service.batch.subnetwork == "projects/p/regions/r/subnetworks/s"
    assert service.batch.use_private_address is True
    assert service.batch.maxima.cpus == 36 and service.batch.max_disk == "2 TB"


def test_server_takes_the_task_maxima_from_settings_and_refuses_bad_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from arc_core.settings import Settings
    from services.pipelines import server

    monkeypatch.setenv("ARC_TASK_MAX_CPUS", "8")
    monkeypatch.setenv("ARC_TASK_MAX_MEMORY", "64 GB")
    monkeypatch.setenv("ARC_TASK_MAX_TIME", "12h")
    monkeypatch.setenv("ARC_TASK_MAX_DISK", "500 GB")
    _, service = asyncio.run(server.build(Settings(_env_file=None), database_url=None))
    assert (service.batch.max_cpus, service.batch.max_memory, service.batch.max_time) == (8, "64 GB", "12h")
    assert service.batch.max_disk == "500 GB"
    monkeypatch.setenv("ARC_TASK_MAX_MEMORY", "0 GB")
    with pytest.raises(ValueError, match="max_memory"):  # at start-up, not as a 500 on every request
        asyncio.run(server.build(Settings(_env_file=None), database_url=None))


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_cpus": 0},
        {"max_cpus": -4},
        {"max_cpus": float("nan")},
        {"max_cpus": True},
        {"max_memory": "0 GB"},
        {"max_memory": "nan GB"},
        {"max_memory": "lots"},
        {"max_time": "0h"},
        {"max_time": "-1h"},
        {"max_time": ""},
        {"max_disk": "0.1 B"},
        {"max_disk": "x"},
    ],
)
def test_maxima_that_cap_nothing_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        BatchConfigSettings(**overrides)


# --------------------------------------------------------------------------------- resource caps


def test_resource_caps_through_params() -> None:
    settings = BatchConfigSettings(project="p", max_cpus=16, max_memory="128.GB", max_time="24.h")
    config = render(settings=settings, resource_caps="params", user_config="process.cpus = 2")
    a = assignments(config)
    assert a["params.max_cpus"] == "16" and a["params.max_memory"] == "'128.GB'" and a["params.max_time"] == "'24.h'"
    # resourceLimits is written in both modes: nothing a pipeline or user requests gets past it.
    assert a["process.resourceLimits"] == "[cpus: 16, memory: '128.GB', time: '24.h']"
    assert config.count("params.max_cpus = ") == 1
    assert _last_index(config, "params.max_cpus = ") > config.splitlines().index("process.cpus = 2")
    # A config's params block is checked against the maxima like the request's params.
    kept = render(settings=settings, resource_caps="params", params={}, user_config="params.max_cpus = 8")
    assert assignments(kept)["params.max_cpus"] == "8" and kept.count("params.max_cpus = ") == 1
    with pytest.raises(InvalidArgument) as err:
        render(settings=settings, resource_caps="params", params={}, user_config="params.max_cpus = 999")
    assert [v.field for v in err.value.violations] == ["params.max_cpus"]


def test_resource_caps_through_resource_limits() -> None:
    settings = BatchConfigSettings(project="p", max_cpus=16, max_memory="128 GB", max_time="24h")
    config = render(settings=settings, resource_caps="resource_limits", user_config="process.cpus = 16")
    a = assignments(config)
    assert a["process.resourceLimits"] == "[cpus: 16, memory: '128 GB', time: '24h']"
    assert "params.max_cpus" not in a


def test_user_cap_params_at_or_below_the_maximum_stay() -> None:
    settings = BatchConfigSettings(project="p", max_cpus=16, max_memory="128.GB", max_time="24.h")
    params = {"aligner": "star", "max_cpus": 8.0, "max_memory": "64 GB", "max_time": "2.h"}
    a = assignments(render(settings=settings, resource_caps="params", params=params))
    assert a["params.max_cpus"] == "8" and a["params.max_memory"] == "'64 GB'" and a["params.max_time"] == "'2.h'"
    config = render(settings=settings, resource_caps="params", params={"max_cpus": 16, "max_memory": "128.GB"})
    assert config.count("params.max_cpus = ") == 1  # no user copy in the params section


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"max_cpus": 17}, "params.max_cpus"),
        ({"max_memory": "129.GB"}, "params.max_memory"),
        ({"max_memory": "1.TB"}, "params.max_memory"),
        ({"max_time": "25.h"}, "params.max_time"),
        ({"max_time": "2.d"}, "params.max_time"),
        ({"max_memory": "lots"}, "params.max_memory"),
        ({"max_cpus": 100000}, "params.max_cpus"),
        ({"max_cpus": 10**400}, "params.max_cpus"),
        ({"max_cpus": float("inf")}, "params.max_cpus"),
        ({"max_cpus": float("nan")}, "params.max_cpus"),
        ({"max_cpus": 2.5}, "params.max_cpus"),
        ({"max_cpus": 0}, "params.max_cpus"),
        ({"max_cpus": True}, "params.max_cpus"),
        ({"max_cpus": "16"}, "params.max_cpus"),
        ({"max_memory": "0.GB"}, "params.max_memory"),
        ({"max_time": "9999.d"}, "params.max_time"),
    ],
)
def test_user_cap_params_above_the_maximum_are_refused(params: dict[str, Any], field: str) -> None:
    settings = BatchConfigSettings(project="p", max_cpus=16, max_memory="128.GB", max_time="24.h")
    with pytest.raises(InvalidArgument) as exc:
        render(settings=settings, resource_caps="params", params=params)
    assert [v.field for v in exc.value.violations] == [field]
    [violation] = cap_param_problems(params, settings)  # what ValidateRunInputs refuses
    assert violation.field == field
    assert repr(getattr(settings, field.removeprefix("params."))) in violation.description  # names the maximum


def test_validate_run_inputs_refuses_cap_params_above_the_maxima() -> None:
    """The request's params go to -params-file, which beats the platform's params.max_*: refused up front."""
    import asyncio

    from services.pipelines.catalog import Catalog
    from services.pipelines.service import PipelinesService

    settings = BatchConfigSettings(project="p", max_cpus=16, max_memory="128.GB", max_time="24.h")
    service = PipelinesService(Catalog.load(), settings)
    sheet = "sample,fastq_1,fastq_2\ns1,gs://lab-fastq/a_1.fastq.gz,gs://lab-fastq/a_2.fastq.gz\n"
    base = {"aligner": "star", "fasta": "gs://lab-refs/g.fa", "gtf": "gs://lab-refs/g.gtf"}

    def validate(params: dict[str, Any], user_config: str = "") -> Any:
        return asyncio.run(
            service.validate_run_inputs(
                pipeline="nf-core/scrnaseq",
                version="2.7.1",
                params=params,
                samplesheet_csv=sheet,
                user_config=user_config,
                samplesheet_only=False,
            )
        )

    hostile = {**base, "max_cpus": 100000, "max_memory": "900.TB", "max_time": "9999.d"}
    with pytest.raises(InvalidArgument) as exc:
        validate(hostile)
    found = {v.field: v.description for v in exc.value.violations}
    assert set(found) == {"params.max_cpus", "params.max_memory", "params.max_time"}, found
    assert "above the platform's maximum 16" in found["params.max_cpus"]
    assert "'128.GB'" in found["params.max_memory"] and "'24.h'" in found["params.max_time"]
    with pytest.raises(InvalidArgument) as exc:  # in the config's params block too, with where it was set
        validate(base, "params.max_cpus = 17")
    [violation] = exc.value.violations
    assert violation.field == "params.max_cpus" and "user_config line 1, column 8" in violation.description
    assert validate({**base, "max_cpus": 16, "max_memory": "64.GB", "max_time": "2.h"}).sample_count == 1


def test_units() -> None:
    assert memory_bytes("500 GB") == memory_bytes("500.GB") == 500 * 1024**3
    assert memory_bytes("2TB") == 2 * 1024**4 and memory_bytes("lots") is None
    assert duration_seconds("48h") == duration_seconds("2.d") == duration_seconds("1d 24h") == 48 * 3600
    assert duration_seconds("") is None and duration_seconds("soon") is None
