"""ListRuns' filter expression and its keyset page tokens (in the shared format of ``arc_core.paging``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from arc_core import paging
from arc_core.contracts.labels import MAX_LABELS, is_user_label_key
from arc_core.errors import FieldViolation, InvalidArgument
from arc_core.paging import page_size_of, query_key
from services.runs import status as st
from services.runs.inputs import MAX_NAME_LENGTH
from services.runs.store import RunFilter

__all__ = ["MAX_SKIP", "PageToken", "decode_token", "encode_token", "page_size_of", "parse_filter"]

MAX_SKIP = 100_000

# One term: `field = "value"` or `field:"value"` (AIP-160's has-operator), the value a quoted string.
_TERM = re.compile(r'\s*([A-Za-z_][\w.-]*)\s*(=|:)\s*"((?:[^"\\]|\\.)*)"\s*')
_AND = re.compile(r"AND\s+")
FILTER_FIELDS = ("status", "pipeline", "user_email", "name", "labels.<key>")
EQUALITY_FIELDS = ("status", "pipeline", "user_email")
LABEL_PREFIX = "labels."
MAX_NAME_TERM = MAX_NAME_LENGTH  # a longer term matches no name


def _invalid(problem: str) -> InvalidArgument:
    return InvalidArgument("invalid filter", [FieldViolation("filter", problem)])


def _terms(text: str) -> list[tuple[str, str, str]]:
    """``(field, operator, value)`` of every term of ``a = "x" AND b:"y"``; a quoted value may hold anything."""
    terms: list[tuple[str, str, str]] = []
    position, end = 0, len(text)
    while True:
        match = _TERM.match(text, position)
        if not match:
            rest = text[position:].strip()
            raise _invalid(f'cannot parse {rest[:80]!r}; expected field = "value" or field:"value" [AND ...]')
        terms.append((match.group(1), match.group(2), re.sub(r"\\(.)", r"\1", match.group(3))))
        position = match.end()
        if position == end:
            return terms
        joined = _AND.match(text, position) if text[position - 1].isspace() else None
        if not joined:
            raise _invalid(f"expected AND before {text[position:][:80]!r}")
        position = joined.end()


def parse_filter(text: str, *, show_purged: bool = False) -> RunFilter:
    """``status = "running" AND pipeline = "nf-core/scrnaseq" AND name:"liver" AND labels.team = "onc"``:
    equalities, a name search (contains, any case) and label equalities (each must hold), joined by AND."""
    values: dict[str, str] = {}
    labels: dict[str, str] = {}
    for name, operator, value in _terms(text) if text.strip() else []:
        if name.startswith(LABEL_PREFIX):
            key = name[len(LABEL_PREFIX) :]
            if operator != "=":
                raise _invalid(f'use {name} = "value" for a label')
            if not is_user_label_key(key):
                raise _invalid(f"label key {key[:70]!r} breaks the label rules")
            if key in labels and labels[key] != value:
                raise _invalid(f"{name} is given two different values")
            labels[key] = value
            if len(labels) > MAX_LABELS:  # a run carries at most that many: more terms match nothing
                raise _invalid(f"more than {MAX_LABELS} label terms")
        elif name == "name":
            if operator != ":":
                raise _invalid('use name:"text" (the name contains the text, in any case)')
            if len(value) > MAX_NAME_TERM:
                raise _invalid(f"the name term is longer than {MAX_NAME_TERM} characters")
            if "name" in values and values["name"] != value:
                raise _invalid("name is given twice")
            values["name"] = value
        elif name in EQUALITY_FIELDS:
            if operator != "=":
                raise _invalid(f'use {name} = "value"')
            values[name] = value
        else:
            raise _invalid(f"unknown field {name!r}; use {', '.join(FILTER_FIELDS)}")
    if "status" in values:  # any case, as ListTasks' status: `running`, `RUNNING`
        values["status"] = values["status"].lower()
    if "status" in values and values["status"] not in st.STATUSES:
        raise _invalid(f"status must be one of {', '.join(st.STATUSES)}")
    if "user_email" in values:
        values["user_email"] = values["user_email"].lower()
    name_term = values.pop("name", "") or None  # `name:""` is in every name
    return RunFilter(**values, name=name_term, labels=tuple(sorted(labels.items())), show_purged=show_purged)


@dataclass(frozen=True)
class PageToken:
    created_at: datetime
    run_id: str
    total: int


def _query(run_filter: RunFilter) -> str:
    """Binds a token to the whole filter: a page of one search continued with another would skip rows.
    The search parts join the key only when set, so a plain listing's key (and its tokens) stays as it was."""
    parts: list[object] = [run_filter.status, run_filter.pipeline, run_filter.user_email]
    if run_filter.name or run_filter.labels or run_filter.show_purged:
        parts += [run_filter.name, [list(pair) for pair in run_filter.labels], run_filter.show_purged]
    return query_key("ListRuns", *parts)


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
