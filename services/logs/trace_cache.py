"""The one cache of parsed traces: per trace object, its newest parse and how far the object was read.

An entry is the :class:`~services.logs.trace_parser.ParsedTrace` of one version of a trace object and,
when :class:`~services.logs.tasks.TaskStore` read it, its read state (the byte offset reached, the header,
the partial last line...), so the next version costs the appended bytes only. A new version of a uri
replaces the older one, so a growing trace holds one entry. Memory stays bounded: at most
``max_entries`` traces, and at most ``max_tasks`` tasks across them (a 100,000-task trace takes ~150 MB;
the newest entry always stays).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from services.logs.trace_parser import ParsedTrace


def local_version(path: str | os.PathLike[str]) -> str:
    """Version of a local file for :class:`TraceCache`: ``mtime_ns-size``."""
    st = os.stat(path)
    return f"{st.st_mtime_ns}-{st.st_size}"


@dataclass(frozen=True)
class CachedTrace:
    """One entry: a parsed version and, if the reader left one, its state for reading the next version."""

    parsed: ParsedTrace
    read_state: Any = None


class TraceCache:
    """Bounded LRU of parsed traces keyed by uri, one version each.

    ``version`` is the GCS object generation or :func:`local_version`. Thread-safe; two concurrent misses
    of the same key may both parse (harmless, the later one wins).
    """

    def __init__(self, max_entries: int = 8, *, tz: tzinfo = UTC, max_tasks: int | None = None) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self.max_tasks = max_tasks
        """Also evict while the cached traces hold more tasks than this; the newest entry always stays."""
        self.tz = tz
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, CachedTrace] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, uri: str, version: str | int) -> ParsedTrace | None:
        """The cached parse of exactly this version, or ``None``."""
        with self._lock:
            entry = self._entries.get(uri)
            if entry is None or entry.parsed.version != str(version):
                self.misses += 1
                return None
            self._entries.move_to_end(uri)
            self.hits += 1
            return entry.parsed

    def latest(self, uri: str) -> CachedTrace | None:
        """Whatever version of ``uri`` is cached (to extend it to a newer one), or ``None``; not a hit."""
        with self._lock:
            return self._entries.get(uri)

    def put(self, parsed: ParsedTrace, read_state: Any = None) -> None:
        """Store ``parsed`` (replacing any other version of its uri), evicting the least recently used."""
        with self._lock:
            self._entries[parsed.uri] = CachedTrace(parsed, read_state)
            self._entries.move_to_end(parsed.uri)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            if self.max_tasks is not None:
                total = sum(len(e.parsed.tasks) for e in self._entries.values())
                while total > self.max_tasks and len(self._entries) > 1:
                    _, evicted = self._entries.popitem(last=False)
                    total -= len(evicted.parsed.tasks)

    def get_or_parse(
        self, uri: str, version: str | int, load: Callable[[], bytes | str], *, final: bool = False
    ) -> ParsedTrace:
        """The cached parse, or ``load()`` the bytes, parse and cache them."""
        hit = self.get(uri, version)
        if hit is not None:
            return hit
        parsed = ParsedTrace.from_data(uri, str(version), load(), tz=self.tz, final=final)
        self.put(parsed)
        return parsed

    def invalidate(self, uri: str) -> None:
        """Forget ``uri``."""
        with self._lock:
            self._entries.pop(uri, None)
