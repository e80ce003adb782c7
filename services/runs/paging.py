"""ListRuns' filter expression and opaque keyset page tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime

from arc_core.errors import FieldViolation, InvalidArgument
from services.runs import status as st
from services.runs.store import RunFilter

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
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


def page_size_of(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument("invalid page size", [FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


@dataclass(frozen=True)
class PageToken:
    created_at: datetime
    run_id: str
    total: int


def _fingerprint(run_filter: RunFilter) -> str:
    raw = json.dumps([run_filter.status, run_filter.pipeline, run_filter.user_email])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def encode_token(token: PageToken, run_filter: RunFilter) -> str:
    body = {"c": token.created_at.isoformat(), "r": token.run_id, "t": token.total, "f": _fingerprint(run_filter)}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(text: str, run_filter: RunFilter) -> PageToken:
    """The position after which the next page starts; the token must come from the same filter."""
    try:
        body = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        token = PageToken(datetime.fromisoformat(body["c"]), str(body["r"]), int(body["t"]))
        fingerprint = body["f"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument(
            "invalid page token", [FieldViolation("page_token", "is not a token we issued")]
        ) from None
    if fingerprint != _fingerprint(run_filter):
        raise InvalidArgument("invalid page token", [FieldViolation("page_token", "was issued for a different filter")])
    return token
