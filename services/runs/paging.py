"""ListRuns' filter expression and its keyset page tokens (in the shared format of ``arc_core.paging``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from arc_core import paging
from arc_core.errors import FieldViolation, InvalidArgument
from arc_core.paging import page_size_of, query_key
from services.runs import status as st
from services.runs.store import RunFilter

__all__ = ["MAX_SKIP", "PageToken", "decode_token", "encode_token", "page_size_of", "parse_filter"]

MAX_SKIP = 100_000

_TERM = re.compile(r'\s*(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*')
FILTER_FIELDS = ("status", "pipeline", "user_email")


def parse_filter(text: str) -> RunFilter:
    """``status = "running" AND pipeline = "nf-core/scrnaseq"``: equalities joined by AND."""
    values: dict[str, str] = {}
    if text.strip():
        for term in re.split(r"\s+AND\s+", text.strip()):
            match = _TERM.fullmatch(term)
            if not match:
                raise InvalidArgument(
                    "invalid filter",
                    [FieldViolation("filter", f'cannot parse {term!r}; expected field = "value" [AND ...]')],
                )
            name, value = match.group(1), re.sub(r"\\(.)", r"\1", match.group(2))
            if name not in FILTER_FIELDS:
                raise InvalidArgument(
                    "invalid filter", [FieldViolation("filter", f"unknown field {name!r}; use {FILTER_FIELDS}")]
                )
            values[name] = value
    if "status" in values:  # any case, as ListTasks' status: `running`, `RUNNING`
        values["status"] = values["status"].lower()
    if "status" in values and values["status"] not in st.STATUSES:
        raise InvalidArgument(
            "invalid filter", [FieldViolation("filter", f"status must be one of {', '.join(st.STATUSES)}")]
        )
    if "user_email" in values:
        values["user_email"] = values["user_email"].lower()
    return RunFilter(**values)


@dataclass(frozen=True)
class PageToken:
    created_at: datetime
    run_id: str
    total: int


def _query(run_filter: RunFilter) -> str:
    return query_key("ListRuns", run_filter.status, run_filter.pipeline, run_filter.user_email)


def encode_token(token: PageToken, run_filter: RunFilter) -> str:
    """The keyset position after ``token`` (and the listing's total), bound to ``run_filter``."""
    position = {"c": token.created_at.isoformat(), "r": token.run_id, "t": token.total}
    return paging.encode_token(_query(run_filter), position)


def decode_token(text: str, run_filter: RunFilter) -> PageToken:
    """The position after which the next page starts; the token must come from the same filter."""
    position = paging.decode_token(text, _query(run_filter))
    try:
        created_at = datetime.fromisoformat(position["c"])
        run_id, total = position["r"], position["t"]
    except (KeyError, TypeError, ValueError):
        raise paging.bad_position() from None
    if created_at.tzinfo is None or not isinstance(run_id, str) or type(total) is not int or total < 0:
        raise paging.bad_position()
    return PageToken(created_at, run_id, total)
