"""REST paging on top of AIP paging: ``page``/``page_size`` (the spec) or ``page_token`` (cheaper deep down)."""

from __future__ import annotations

from typing import Any


def skip_for(page: int, page_size: int, page_token: str | None) -> int:
    """Rows the service should skip: a token already says where to start."""
    return 0 if page_token else (page - 1) * page_size


def page_body(key: str, items: list[Any], response: Any, *, page: int, page_size: int) -> dict[str, Any]:
    """The list envelope every paged route returns."""
    return {
        key: items,
        "total": response.total_size,
        "page": page,
        "page_size": page_size,
        "next_page_token": response.next_page_token or None,
    }
