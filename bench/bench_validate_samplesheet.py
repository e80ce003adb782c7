"""Time ``validate_run_inputs`` on ~10 MB nf-core/scrnaseq samplesheets (target: < 1 s).

Three sheets just under the 10 MB limit:

* ``realistic``: 4 lanes per sample, every optional column set, gs:// paths (~215 bytes a row);
* ``minimal``: only the 3 required columns with short names (~40 bytes a row, so ~5x the rows);
* ``invalid``: the minimal sheet with a bad row every 1000 rows, so every chunk takes the row-by-row path
  and ~260 violations are built (the answer is an InvalidArgument).

Run: ``.venv/bin/python bench/bench_validate_samplesheet.py [--catalog DIR] [--repeat N]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arc_core.errors import InvalidArgument  # noqa: E402
from services.pipelines.catalog import Catalog  # noqa: E402
from services.pipelines.validation import MAX_SAMPLESHEET_BYTES, validate_run_inputs  # noqa: E402

PARAMS = {"genome": "GRCh38", "protocol": "10XV3", "aligner": "star"}
TARGET_BYTES = MAX_SAMPLESHEET_BYTES - 1024


def build(header: str, row_for: Callable[[int], str], target_bytes: int = TARGET_BYTES) -> tuple[str, int]:
    """Rows ``row_for(0), row_for(1), ...`` under ``header`` until the sheet would exceed ``target_bytes``."""
    parts = [header]
    size = len(header)
    i = 0
    while True:
        row = row_for(i)
        if size + len(row) > target_bytes:
            return "".join(parts), i
        parts.append(row)
        size += len(row)
        i += 1


def realistic_row(i: int) -> str:
    sample, lane = divmod(i, 4)
    name = f"PBMC_{sample:07d}"
    prefix = f"gs://lab-sequencing-bucket/runs/2024/NGS-{sample // 100:05d}/{name}_S{sample}_L00{lane + 1}"
    return f"{name},{prefix}_R1_001.fastq.gz,{prefix}_R2_001.fastq.gz,10000,Genomics Core,gex,gex\n"


def minimal_row(i: int) -> str:
    return f"S{i // 2},s{i}_R1.fq.gz,s{i}_R2.fq.gz\n"


def invalid_row(i: int) -> str:
    return minimal_row(i) if i % 1000 else f"S {i},s{i}_R1.fastq,s{i}_R2.fq.gz\n"


def run(schema: object, csv_text: str, repeat: int) -> tuple[list[float], str]:
    times = []
    outcome = ""
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            outcome = f"{validate_run_inputs(schema, PARAMS, csv_text).sample_count} samples"  # type: ignore[arg-type]
        except InvalidArgument as exc:
            outcome = f"InvalidArgument, {exc.metadata['violation_count']} violations"
        times.append(time.perf_counter() - start)
    return times, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalog", default=None, help="catalog directory (default: the shipped one)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    schema = Catalog.load(args.catalog).schema("nf-core/scrnaseq", "2.7.1")
    sheets = {
        "realistic": build(
            "sample,fastq_1,fastq_2,expected_cells,seq_center,sample_type,feature_type\n", realistic_row
        ),
        "minimal": build("sample,fastq_1,fastq_2\n", minimal_row),
        "invalid": build("sample,fastq_1,fastq_2\n", invalid_row),
    }
    worst = 0.0
    for name, (csv_text, rows) in sheets.items():
        times, outcome = run(schema, csv_text, args.repeat)
        worst = max(worst, max(times))
        print(
            f"{name:9s} {len(csv_text.encode()) / 1_000_000:5.2f} MB {rows:7d} rows -> {outcome}: "
            f"best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms, "
            f"worst {max(times) * 1000:.0f} ms ({args.repeat} runs)"
        )
    print(f"slowest run: {worst * 1000:.0f} ms (target < 1000 ms): {'OK' if worst < 1 else 'TOO SLOW'}")


if __name__ == "__main__":
    main()
