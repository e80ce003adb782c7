"""GCP label keys and values: one rule for the Batch job labels and the tasks' ``resourceLabels``.

Both end up as labels on Cloud Batch jobs (Nextflow's google-batch executor labels every task job with the
process ``resourceLabels``), and cancelling a run lists its task jobs with the filter
``labels.run-id="…"``, so the two must sanitise a value the same way. The rule is the safe subset of
https://cloud.google.com/compute/docs/labeling-resources: lower-case ASCII letters, digits, ``_`` and ``-``,
at most 63 characters, keys starting with a letter (international characters are allowed there, but are
folded to ASCII here so the labels read the same in every console and filter).
"""

from __future__ import annotations

import re
import unicodedata

MAX_LABEL_LENGTH = 63
_LABEL_BAD_RE = re.compile(r"[^a-z0-9_-]")


def label_value(value: str) -> str:
    """``value`` made a valid GCP label value.

    Accents are dropped (``é`` → ``e``), ``@`` becomes ``_at_`` and every other character ``_``, so
    ``Alice.Smith@Example.com`` → ``alice_smith_at_example_com`` and ``nf-core/scrnaseq`` →
    ``nf-core_scrnaseq``.
    """
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii").lower()
    return _LABEL_BAD_RE.sub("_", text.replace("@", "_at_"))[:MAX_LABEL_LENGTH]


def label_key(key: str) -> str:
    """``key`` made a valid GCP label key: a value that starts with a letter (else an ``x_`` prefix)."""
    text = label_value(key)
    if not ("a" <= text[:1] <= "z"):
        text = "x_" + text
    return text[:MAX_LABEL_LENGTH]


# The labels both sides set: the Batch executor on the orchestrator job, the rendered config on every task.
APP_KEY, APP = "app", "arc-reactor"
RUN_ID_KEY = "run-id"
PIPELINE_KEY = "pipeline"


def run_id_filter(run_id: str) -> str:
    """The Batch ``ListJobs`` filter (AIP-160) for the jobs labelled with ``run_id``: the head job and every
    task job Nextflow started for the run."""
    return f'labels.{RUN_ID_KEY}="{label_value(run_id)}"'


# Labels a user gives a run (CreateRun, UpdateRun) follow the same rules, checked rather than sanitised:
# https://cloud.google.com/resource-manager/docs/labels-overview#requirements (at most 64 labels; keys
# 1-63 characters starting with a lower-case letter; values 0-63; lower-case letters, digits, `_` and `-`).
MAX_LABELS = 64
_USER_KEY_RE = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_USER_VALUE_RE = re.compile(r"[a-z0-9_-]{0,63}")


def is_user_label_key(key: str) -> bool:
    """Whether ``key`` is a label key a user may give (and so filter runs by)."""
    return _USER_KEY_RE.fullmatch(key) is not None


def label_problems(labels: dict[str, str]) -> list[tuple[str, str]]:
    """``(field, problem)`` for every way ``labels`` break the rules (``labels.<key>`` locates each)."""
    problems: list[tuple[str, str]] = []
    if len(labels) > MAX_LABELS:
        problems.append(("labels", f"has {len(labels)} labels; at most {MAX_LABELS} are allowed"))
    for key, value in labels.items():
        if not _USER_KEY_RE.fullmatch(key):
            problems.append(
                (f"labels.{key[:70]}", "key must be 1-63 of a-z 0-9 _ - and start with a lower-case letter")
            )
        if not isinstance(value, str) or not _USER_VALUE_RE.fullmatch(value):
            problems.append((f"labels.{key[:70]}", "value must be at most 63 of a-z 0-9 _ -"))
    return problems
