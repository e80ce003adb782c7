"""Tests for services.logs.trace_parser (and trace_cache) on realistic Nextflow trace files."""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from arc_core.paging import paginate, query_key
from services.logs.trace_cache import TraceCache, local_version
from services.logs.trace_parser import (
    DEFAULT_FIELDS,
    ParsedTrace,
    ProcessProgress,
    TaskRecord,
    filter_tasks,
    parse_bytes,
    parse_duration_ms,
    parse_percent,
    parse_timestamp,
    parse_trace,
    progress,
    split_name,
)

FIXTURES = Path(__file__).parent / "fixtures"
P = "NFCORE_SCRNASEQ:SCRNASEQ:"
KB, MB, GB = 1024, 1024**2, 1024**3


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def mem(value: float, unit: int) -> int:
    return int(value * unit + 0.5)


# ------------------------------------------------------------------------------------------ cells


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("250ms", 250),
        ("0ms", 0),
        ("12.3s", 12_300),
        ("58.3s", 58_300),
        ("1s", 1_000),
        ("2m 3s", 123_000),
        ("1m", 60_000),
        ("1h 2m 3s", 3_723_000),
        ("1d 2h", 93_600_000),
        ("3d 4h 5m 6s", ((3 * 24 + 4) * 60 + 5) * 60_000 + 6_000),
        ("01:02:03", 3_723_000),
        ("62104", 62_104),  # trace.raw
        ("-", None),
        ("", None),
        ("soon", None),
        ("5 parsecs", None),
    ],
)
def test_parse_duration(text: str, ms: int | None) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("512 B", 512),
        ("512 KB", 512 * KB),
        ("10 MB", 10 * MB),
        ("312.4 MB", mem(312.4, MB)),
        ("1.5 GB", mem(1.5, GB)),
        ("2 TB", 2 * 1024**4),
        ("10MB", 10 * MB),
        ("1.5G", mem(1.5, GB)),
        ("327577190", 327_577_190),  # trace.raw
        ("-", None),
        ("lots", None),
        ("3 XB", None),
    ],
)
def test_parse_bytes(text: str, size: int | None) -> None:
    assert parse_bytes(text) == size


@pytest.mark.parametrize(
    ("text", "pct"), [("85.3%", 85.3), ("712.4%", 712.4), ("0.0%", 0.0), ("85.3", 85.3), ("-", None), ("x%", None)]
)
def test_parse_percent(text: str, pct: float | None) -> None:
    assert parse_percent(text) == pct


def test_parse_timestamp_text_raw_and_zones() -> None:
    expected = datetime(2024, 5, 1, 12, 0, 4, 512_000, tzinfo=UTC)
    assert parse_timestamp("2024-05-01 12:00:04.512") == expected
    assert parse_timestamp(str(int(expected.timestamp() * 1000))) == expected
    plus2 = timezone(timedelta(hours=2))
    assert parse_timestamp("2024-05-01 14:00:04.512", plus2) == expected
    assert parse_timestamp("2024-05-01 14:00:04.512", ZoneInfo("Europe/Paris")) == expected  # CEST
    assert parse_timestamp("-") is None
    assert parse_timestamp("yesterday") is None


@pytest.mark.parametrize(
    ("name", "process", "tag"),
    [
        ("FASTQC (sample1)", "FASTQC", "sample1"),
        (P + "FASTQC (s1)", P + "FASTQC", "s1"),
        (P + "MULTIQC", P + "MULTIQC", None),
        ("sayHello (1)", "sayHello", "1"),
        ("ALIGN (sample (rep 2))", "ALIGN", "sample (rep 2)"),
    ],
)
def test_split_name(name: str, process: str, tag: str | None) -> None:
    assert split_name(name) == (process, tag)


# ---------------------------------------------------------------------------------- default trace


def test_default_columns() -> None:
    tasks = parse_trace(read("trace_default.txt"))
    assert [t.task_id for t in tasks] == ["2", "1", "3", "4", "5", "6", "7", "8"]  # file order kept

    fastqc = tasks[0]
    assert fastqc == TaskRecord(
        task_id="2",
        hash="a3/7f21c9",
        native_id="31522",
        name=P + "FASTQC (pbmc_1k_R1)",
        process=P + "FASTQC",
        tag="pbmc_1k_R1",
        status="COMPLETED",
        exit=0,
        submit=datetime(2024, 5, 1, 12, 0, 4, 512_000, tzinfo=UTC),
        start=None,
        complete=None,
        duration_ms=62_000,
        realtime_ms=58_300,
        cpu_percent=185.3,
        peak_rss=mem(312.4, MB),
        peak_vmem=mem(3.1, GB),
        rchar=mem(245.6, MB),
        wchar=mem(1.2, MB),
        workdir=None,
        extra={},
    )

    index = tasks[2]
    assert index.process == P + "SCRNASEQ_ALEVIN:SIMPLEAF_INDEX" and index.tag == "GRCh38"
    assert index.duration_ms == 3_723_000 and index.realtime_ms == 3_718_000
    assert index.peak_rss == mem(28.4, GB)

    failed = tasks[3]
    assert (failed.status, failed.exit, failed.wchar) == ("FAILED", 137, 0)

    cached = tasks[6]
    assert cached.native_id is None and cached.cpu_percent is None and cached.peak_rss is None
    assert (cached.duration_ms, cached.realtime_ms) == (250, 12)

    aborted = tasks[7]
    assert aborted.process == P + "MULTIQC" and aborted.tag is None
    assert aborted.hash is None and aborted.exit is None and aborted.submit is None
    assert aborted.duration_ms is None and aborted.wchar is None


def test_column_order_does_not_matter() -> None:
    lines = read("trace_default.txt").decode().splitlines()
    rows = [line.split("\t") for line in lines]
    order = list(range(len(rows[0])))
    random.Random(3).shuffle(order)
    shuffled = "".join("\t".join(row[i] for i in order) + "\n" for row in rows)
    assert parse_trace(shuffled) == parse_trace(read("trace_default.txt"))


def test_column_subset_and_unknown_columns() -> None:
    text = f"name\tstatus\thostname\n{P}FASTQC (s1)\tCOMPLETED\tnode-1\n{P}MULTIQC\tRUNNING\t-\n"
    tasks = parse_trace(text)
    assert [(t.task_id, t.process, t.tag, t.status) for t in tasks] == [
        ("1", P + "FASTQC", "s1", "COMPLETED"),
        ("2", P + "MULTIQC", None, "RUNNING"),
    ]
    assert tasks[0].extra == {"hostname": "node-1"} and tasks[1].extra == {"hostname": "-"}
    assert tasks[0].exit is None and tasks[0].submit is None and tasks[0].hash is None
    assert tasks[0].extra is not tasks[1].extra


def test_short_and_long_rows_and_crlf() -> None:
    text = "task_id\tname\tstatus\texit\r\n1\tA (x)\tCOMPLETED\r\n2\tB (y)\tFAILED\t1\tjunk\r\n"
    tasks = parse_trace(text.encode())
    assert [(t.task_id, t.process, t.tag, t.status, t.exit) for t in tasks] == [
        ("1", "A", "x", "COMPLETED", None),
        ("2", "B", "y", "FAILED", 1),
    ]


def test_invalid_utf8_does_not_crash() -> None:
    data = b"task_id\tname\tstatus\n1\tFASTQC (caf\xe9)\tCOMPLETED\n"
    (task,) = parse_trace(data)
    assert task.tag == "caf\ufffd" and task.status == "COMPLETED"


def test_duplicate_task_id_keeps_last_values_at_first_position() -> None:
    text = "task_id\tname\tstatus\texit\n1\tA (x)\tRUNNING\t-\n2\tB (y)\tCOMPLETED\t0\n1\tA (x)\tCOMPLETED\t0\n"
    tasks = parse_trace(text)
    assert [(t.task_id, t.status, t.exit) for t in tasks] == [("1", "COMPLETED", 0), ("2", "COMPLETED", 0)]


def test_retried_task_is_two_tasks() -> None:
    tasks = parse_trace(read("trace_fields.txt"))
    quant = [t for t in tasks if t.tag == "pbmc_1k"]
    assert [(t.task_id, t.status, t.extra["attempt"], t.extra["error_action"]) for t in quant] == [
        ("2", "FAILED", "1", "RETRY"),
        ("3", "COMPLETED", "2", "-"),
    ]


# ------------------------------------------------------------------------------ trace.fields trace


def test_extra_fields_google_batch() -> None:
    tasks = parse_trace(read("trace_fields.txt"))
    assert len(tasks) == 4
    t = tasks[0]
    assert t.task_id == "1" and t.hash == "4e/1ab2cd"
    assert t.native_id == "nf-4e1ab2cd-1714564804488/0/0b6e2f1c-3a4d-4e5f-8a9b-0c1d2e3f4a5b"
    job, task_index, uid = t.native_id.split("/")
    assert (job, task_index, uid) == ("nf-4e1ab2cd-1714564804488", "0", "0b6e2f1c-3a4d-4e5f-8a9b-0c1d2e3f4a5b")
    assert t.process == P + "FASTQC" and t.tag == "pbmc_1k_R1" and t.name == P + "FASTQC (pbmc_1k_R1)"
    assert t.submit == datetime(2024, 5, 1, 12, 0, 4, 488_000, tzinfo=UTC)
    assert t.start == datetime(2024, 5, 1, 12, 1, 10, 130_000, tzinfo=UTC)
    assert t.complete == datetime(2024, 5, 1, 12, 2, 11, 120_000, tzinfo=UTC)
    assert (t.duration_ms, t.realtime_ms, t.cpu_percent) == (127_000, 61_000, 190.1)
    assert (t.peak_rss, t.peak_vmem) == (318 * MB, mem(3.1, GB))
    assert t.workdir == "gs://arc-runs-prod/runs/run-1a2b3c4d/work/4e/1ab2cd5f0c2b9e8a7d6c5b4a3928171615"
    assert t.extra == {
        "module": "-",
        "container": "quay.io/biocontainers/fastqc:0.12.1--hdfd78af_0",
        "cpus": "6",
        "time": "6h",
        "disk": "-",
        "memory": "36 GB",
        "attempt": "1",
        "queue": "-",
        "%mem": "0.9%",
        "rss": "301.2 MB",
        "vmem": "3 GB",
        "syscr": "31245",
        "syscw": "412",
        "read_bytes": "248.1 MB",
        "write_bytes": "1.1 MB",
        "vol_ctxt": "1532",
        "inv_ctxt": "87",
        "scratch": "-",
        "error_action": "-",
    }

    running = tasks[3]
    assert running.status == "RUNNING" and running.tag is None and running.process == P + "MULTIQC"
    assert running.native_id == "nf-1f9a8b7c-1714571000123/0/abcd-uid"
    assert running.start is not None and running.complete is None and running.duration_ms is None


# ---------------------------------------------------------------------------------------- raw trace


def test_raw_numbers_match_human_trace() -> None:
    raw = {t.task_id: t for t in parse_trace(read("trace_raw.txt"))}
    human = {t.task_id: t for t in parse_trace(read("trace_default.txt"))}
    assert set(raw) == {"1", "2", "3", "4", "7"}
    r, h = raw["2"], human["2"]
    assert r.submit == h.submit == datetime(2024, 5, 1, 12, 0, 4, 512_000, tzinfo=UTC)
    assert (r.duration_ms, r.realtime_ms, r.cpu_percent) == (62_104, 58_312, 185.3)
    assert (r.peak_rss, r.peak_vmem, r.rchar, r.wchar) == (327_577_190, 3_328_599_654, 257_530_265, 1_258_291)
    for tid, rt in raw.items():
        ht = human[tid]
        assert (rt.process, rt.tag, rt.status, rt.exit, rt.submit) == (
            ht.process,
            ht.tag,
            ht.status,
            ht.exit,
            ht.submit,
        )
        for attr in ("duration_ms", "realtime_ms", "peak_rss", "peak_vmem", "rchar", "wchar", "cpu_percent"):
            a, b = getattr(rt, attr), getattr(ht, attr)
            assert (a is None) == (b is None), (tid, attr)
            if a is not None:  # human values are rounded to 1 decimal of their unit (or to the second)
                assert abs(a - b) <= max(0.05 * max(a, b), 1_000 if attr.endswith("_ms") else 0), (tid, attr)


def test_mixed_raw_and_missing_dates() -> None:
    text = "task_id\tsubmit\tstart\n1\t1714564804512\t-\n2\t-\t2024-05-01 12:00:04.512\n"
    a, b = parse_trace(text)
    assert a.submit == b.start == datetime(2024, 5, 1, 12, 0, 4, 512_000, tzinfo=UTC)
    assert a.start is None and b.submit is None


def test_text_timestamps_in_a_given_zone() -> None:
    tasks = parse_trace(read("trace_default.txt"), tz=timezone(timedelta(hours=-4)))
    assert tasks[0].submit == datetime(2024, 5, 1, 16, 0, 4, 512_000, tzinfo=UTC)
    tasks = parse_trace(read("trace_default.txt"), tz=ZoneInfo("America/New_York"))
    assert tasks[0].submit == datetime(2024, 5, 1, 16, 0, 4, 512_000, tzinfo=UTC)


# --------------------------------------------------------------------------------- partial traces


def test_half_written_trace_ignores_the_unfinished_line() -> None:
    data = read("trace_partial.txt")
    assert not data.endswith(b"\n")
    tasks = parse_trace(data)
    assert [t.task_id for t in tasks] == ["2", "1"]
    # once the writer is known to be done, the last line is taken as is (missing cells are '-')
    final = parse_trace(data, final=True)
    assert [t.task_id for t in final] == ["2", "1", "3"]
    assert final[2].tag is None and final[2].process == P + "SCRNASEQ_ALEVIN:SIMPLEAF_INDEX (GRC"
    assert final[2].status is None


@pytest.mark.parametrize(
    "data",
    [b"", b"task_id\thash\tname", read("trace_header_only.txt"), b"\n", "task_id\tname\n\n\n"],
)
def test_no_tasks(data: bytes | str) -> None:
    assert parse_trace(data) == []


def test_growing_trace_prefixes() -> None:
    data = read("trace_default.txt")
    full = parse_trace(data)
    for cut in range(len(data) + 1):
        tasks = parse_trace(data[:cut])
        complete_rows = max(data[:cut].count(b"\n") - 1, 0)
        assert tasks == full[:complete_rows], cut


# -------------------------------------------------------------------------------------- progress


def test_progress_default_trace() -> None:
    got = progress(parse_trace(read("trace_default.txt")))
    assert got == [
        ProcessProgress(P + "FASTQC", succeeded=2, total=2),
        ProcessProgress(P + "SCRNASEQ_ALEVIN:SIMPLEAF_INDEX", succeeded=1, total=1),
        ProcessProgress(P + "SCRNASEQ_ALEVIN:SIMPLEAF_QUANT", succeeded=1, failed=1, total=2),
        ProcessProgress(P + "SCRNASEQ_ALEVIN:ALEVINQC", failed=1, total=1),
        ProcessProgress(P + "CUSTOM_DUMPSOFTWAREVERSIONS", cached=1, total=1),
        ProcessProgress(P + "MULTIQC", aborted=1, total=1),
    ]


def test_progress_counts_submitted_and_running() -> None:
    text = (
        "task_id\tname\tstatus\n"
        "1\tA (1)\tSUBMITTED\n2\tA (2)\tRUNNING\n3\tB\tNEW\n4\tA (3)\tCOMPLETED\n5\tA (4)\tWEIRD\n"
    )
    assert progress(parse_trace(text)) == [
        ProcessProgress("A", submitted=1, running=1, succeeded=1, total=4),
        ProcessProgress("B", submitted=1, total=1),
    ]
    assert progress([]) == []


# --------------------------------------------------------------------------------- filter & pages


def test_filter_tasks() -> None:
    tasks = parse_trace(read("trace_default.txt"))
    assert [t.task_id for t in filter_tasks(tasks, status="failed")] == ["4", "6"]
    assert [t.task_id for t in filter_tasks(tasks, status=["CACHED", "ABORTED"])] == ["7", "8"]
    assert [t.task_id for t in filter_tasks(tasks, process="FASTQC")] == ["2", "1"]
    assert [t.task_id for t in filter_tasks(tasks, process=P + "SCRNASEQ_ALEVIN:SIMPLEAF_QUANT")] == ["4", "5"]
    assert [t.task_id for t in filter_tasks(tasks, status="COMPLETED", process="SIMPLEAF_QUANT")] == ["5"]
    assert filter_tasks(tasks, process="ALEVIN") == []  # no substring matching
    assert filter_tasks(tasks) == tasks and filter_tasks(tasks, status="", process=[]) == tasks


def test_page_token_survives_a_growing_trace() -> None:
    data = read("trace_default.txt")
    lines = data.split(b"\n")
    first = parse_trace(b"\n".join(lines[:5]) + b"\n")  # 4 tasks so far
    query = query_key("ListTasks", "run-1a2b3c4d", "", "")
    page = paginate(first, 3, "", query)
    grown = parse_trace(data)
    rest = paginate(grown, 3, page.next_page_token, query)
    assert [t.task_id for t in page.items + rest.items] == [t.task_id for t in grown[:6]]


# ------------------------------------------------------------------------------------------- cache


def test_cache_parses_each_version_once(tmp_path: Path) -> None:
    path = tmp_path / "trace.txt"
    path.write_bytes(read("trace_partial.txt"))
    loads: list[int] = []

    def load() -> bytes:
        loads.append(1)
        return path.read_bytes()

    cache = TraceCache(max_entries=2)
    v1 = local_version(path)
    a = cache.get_or_parse(str(path), v1, load)
    b = cache.get_or_parse(str(path), v1, load)
    assert a is b and len(loads) == 1 and len(a.tasks) == 2
    assert a.by_id["1"].tag == "pbmc_1k_R2" and a.progress[0].succeeded == 2

    path.write_bytes(read("trace_default.txt"))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    v2 = local_version(path)
    assert v2 != v1
    c = cache.get_or_parse(str(path), v2, load)
    assert len(loads) == 2 and len(c.tasks) == 8
    assert cache.get(str(path), v1) is None  # a newer version replaced the old one
    assert len(cache) == 1


def test_cache_is_a_bounded_lru() -> None:
    cache = TraceCache(max_entries=2)
    data = read("trace_default.txt")
    for uri in ("gs://b/runs/r1/logs/trace.txt", "gs://b/runs/r2/logs/trace.txt"):
        cache.put(ParsedTrace.from_data(uri, "1", data))
    assert cache.get("gs://b/runs/r1/logs/trace.txt", 1) is not None  # r1 is now the most recent
    cache.put(ParsedTrace.from_data("gs://b/runs/r3/logs/trace.txt", "7", data))
    assert len(cache) == 2
    assert cache.get("gs://b/runs/r2/logs/trace.txt", "1") is None
    assert cache.get("gs://b/runs/r1/logs/trace.txt", "1") is not None
    assert cache.get("gs://b/runs/r3/logs/trace.txt", 7) is not None
    with pytest.raises(ValueError):
        TraceCache(max_entries=0)


# ------------------------------------------------------------------------------------- performance


def _big_trace(n: int) -> bytes:
    rnd = random.Random(11)
    out = ["\t".join(DEFAULT_FIELDS)]
    for i in range(1, n + 1):
        out.append(
            f"{i}\t{rnd.getrandbits(8):02x}/{rnd.getrandbits(24):06x}\t{40000 + i}\t{P}FASTQC (s{i})\tCOMPLETED\t0\t"
            f"2024-05-01 12:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}\t{rnd.randint(1, 59)}m "
            f"{rnd.randint(1, 59)}s\t{rnd.randint(1, 599) / 10}s\t{rnd.randint(0, 4000) / 10}%\t"
            f"{rnd.randint(1, 9999) / 10} MB\t{rnd.randint(1, 99) / 10} GB\t{rnd.randint(1, 999)} KB\t0"
        )
    return ("\n".join(out) + "\n").encode()


def test_parses_100k_tasks_quickly() -> None:
    data = _big_trace(100_000)
    start = time.perf_counter()
    tasks = parse_trace(data)
    elapsed = time.perf_counter() - start
    assert len(tasks) == 100_000 and tasks[-1].tag == "s100000" and tasks[-1].wchar == 0
    # bench/bench_trace_parse.py reports the real figure (~0.5 s on a slow 2-vCPU box); this guard only
    # catches an order-of-magnitude regression such as per-cell regexes.
    assert elapsed < 3.0, elapsed
