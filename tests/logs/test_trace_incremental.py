"""ParsedTrace.extended: a growing trace parsed piece by piece equals the whole trace parsed at once; the one
cache of parsed traces (``trace_cache``) and what it bounds."""

from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path

import pytest

from services.logs.trace_parser import DEFAULT_FIELDS, ParsedTrace, parse_trace

FIXTURES = Path(__file__).parent / "fixtures"
PROCESSES = ["NFCORE_SCRNASEQ:SCRNASEQ:FASTQC", "NFCORE_SCRNASEQ:SCRNASEQ:SIMPLEAF_QUANT", "NFCORE_SCRNASEQ:MULTIQC"]


def trace_lines(n: int, seed: int, *, repeats: bool = False) -> list[str]:
    rnd = random.Random(seed)
    lines = ["\t".join(DEFAULT_FIELDS) + "\n"]
    for i in range(1, n + 1):
        task_id = str(rnd.randint(1, i)) if repeats and rnd.random() < 0.2 else str(i)
        status = rnd.choice(["COMPLETED", "COMPLETED", "CACHED", "FAILED", "ABORTED"])
        proc = rnd.choice(PROCESSES)
        cells = [
            task_id, f"{rnd.getrandbits(8):02x}/{rnd.getrandbits(24):06x}", str(1000 + i), f"{proc} (s{i})",
            status, "0" if status != "FAILED" else "1", "2024-05-01 12:00:04.512", "1m 2s", "58.3s", "185.3%",
            "312.4 MB", "3.1 GB", "245.6 MB", "1.2 MB",
        ]  # fmt: skip
        lines.append("\t".join(cells) + "\n")
    return lines


def snapshot(parsed: ParsedTrace) -> tuple:
    return (
        [asdict(t) for t in parsed.tasks],
        sorted(parsed.by_id),
        sorted((p.process, p.submitted, p.succeeded, p.cached, p.failed, p.aborted, p.total) for p in parsed.progress),
    )


@pytest.mark.parametrize("repeats", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_extending_piece_by_piece_equals_one_parse(seed: int, repeats: bool) -> None:
    lines = trace_lines(300, seed, repeats=repeats)
    header = lines[0].encode()
    rnd = random.Random(seed)
    parsed = ParsedTrace.from_data("u", "0", "".join(lines[:1]))
    i, version = 1, 0
    while i < len(lines):
        step = rnd.randint(1, 40)
        version += 1
        records = parse_trace(header + "".join(lines[i : i + step]).encode(), final=True)
        parsed = parsed.extended(str(version), records)
        i += step
    whole = ParsedTrace.from_data("u", "x", "".join(lines).encode())
    assert snapshot(parsed) == snapshot(whole)
    assert parsed.version == str(version)


def test_extension_leaves_the_previous_version_untouched() -> None:
    data = (FIXTURES / "trace_default.txt").read_bytes()
    first = ParsedTrace.from_data("u", "1", data)
    before = snapshot(first)
    header = data[: data.index(b"\n") + 1]
    name = b"NFCORE_SCRNASEQ:SCRNASEQ:SCRNASEQ_ALEVIN:SIMPLEAF_QUANT (pbmc_1k)"
    row = b"4\t9d/c2b310\t33210\t" + name + b"\tCOMPLETED\t0" + b"\t-" * 8 + b"\n"
    second = first.extended("2", parse_trace(header + row))
    assert snapshot(first) == before
    assert second.by_id["4"].status == "COMPLETED"
    assert [t.task_id for t in second.tasks] == [t.task_id for t in first.tasks]  # a rewritten row keeps its place
    quant = next(p for p in second.progress if p.process.endswith("SIMPLEAF_QUANT"))
    assert (quant.failed, quant.succeeded, quant.total) == (0, 2, 2)  # task 4 failed, then its row was rewritten


def test_cache_is_bounded_by_tasks_too() -> None:
    from services.logs.trace_cache import TraceCache

    cache = TraceCache(max_entries=8, max_tasks=500)
    traces = [ParsedTrace.from_data(f"u{i}", "1", "".join(trace_lines(200, i)).encode()) for i in range(4)]
    for parsed in traces:
        cache.put(parsed)
    assert len(cache) == 2 and cache.get("u3", "1") is traces[3] and cache.get("u0", "1") is None
    big = ParsedTrace.from_data("big", "1", "".join(trace_lines(900, 9)).encode())
    cache.put(big)
    assert len(cache) == 1 and cache.get("big", "1") is big  # the newest always stays


async def test_one_cache_holds_the_parse_and_how_far_it_was_read(tmp_path: Path) -> None:
    """TaskStore keeps no second table of read states: an entry's read state is evicted with its parse, so
    the cache's bounds (traces, tasks) bound both."""
    from arc_core.storage import LocalStorage
    from services.logs.tasks import TaskStore, trace_key

    storage = LocalStorage(tmp_path)
    lines = trace_lines(30, 7)
    run_ids = [f"run-0000000{i}" for i in range(3)]
    for run_id in run_ids:
        path = tmp_path / trace_key(run_id)
        path.parent.mkdir(parents=True)
        path.write_text("".join(lines[:21]))
    store = TaskStore(storage, max_runs=2)
    first = await store.trace(run_ids[0])
    assert first is not None and len(first.tasks) == 20
    entry = store.cache.latest(storage.uri(trace_key(run_ids[0])))
    assert entry is not None and entry.parsed is first and entry.read_state.consumed == len("".join(lines[:21]))

    with open(tmp_path / trace_key(run_ids[0]), "a") as fh:
        fh.write("".join(lines[21:]))
    grown = await store.trace(run_ids[0])
    assert grown is not None and snapshot(grown) == snapshot(ParsedTrace.from_data("", "", "".join(lines)))
    assert len(store.cache) == 1  # the new version replaced the old one, with its read state

    for run_id in run_ids[1:]:
        assert await store.trace(run_id) is not None
    assert len(store.cache) == 2 and store.cache.latest(storage.uri(trace_key(run_ids[0]))) is None
