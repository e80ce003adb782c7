"""Lines of a file read chunk by chunk, each at most ``max_line`` bytes, whatever the file holds.

A run's own code writes its trace and logs, so a line may be any length (a 50 MB line without a newline
is one ``echo`` away). :class:`LineSplitter` keeps at most ``max_line`` bytes of the line being read and
drops the rest as it streams past; a cut line ends with :data:`CUT_MARKER` and the number of bytes
dropped. Memory is one chunk plus one bounded line. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MAX_LINE_BYTES = 64 << 10
CUT_MARKER = b" [line cut: "


def cut_line(head: bytes, dropped: int) -> bytes:
    return head + CUT_MARKER + str(dropped).encode() + b" more bytes]"


@dataclass
class LineSplitter:
    """Complete lines from consecutive chunks; the partial last line is carried to the next chunk."""

    max_line: int = MAX_LINE_BYTES
    partial: bytes = b""
    """The start of the line being read (at most ``max_line`` bytes)."""
    dropped: int = 0
    """Bytes of the line being read beyond ``max_line``, not kept."""
    cut_lines: int = 0
    """Lines cut so far."""

    def copy(self) -> LineSplitter:
        return replace(self)

    def _take(self, piece: bytes) -> None:
        room = self.max_line - len(self.partial)
        if len(piece) <= room:
            self.partial += piece
        else:
            if room > 0:
                self.partial += piece[:room]
            self.dropped += len(piece) - max(room, 0)

    def _end_line(self, piece: bytes) -> bytes:
        """The current line completed by ``piece`` (its last part before the newline)."""
        if self.partial or self.dropped:
            self._take(piece)
            line, dropped = self.partial, self.dropped
            self.partial, self.dropped = b"", 0
        elif len(piece) > self.max_line:
            line, dropped = piece[: self.max_line], len(piece) - self.max_line
        else:
            return piece
        if dropped:
            self.cut_lines += 1
            return cut_line(line, dropped)
        return line

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` completes, without their newlines (a ``\\r`` before one is kept)."""
        last = chunk.rfind(b"\n")
        if last < 0:
            self._take(chunk)
            return []
        parts = chunk[:last].split(b"\n")
        parts[0] = self._end_line(parts[0])
        if len(parts) > 1 and max(map(len, parts)) > self.max_line:
            parts[1:] = [self._end_line(p) for p in parts[1:]]
        self._take(chunk[last + 1 :])
        return parts

    def flush(self) -> bytes | None:
        """The last line when the file ends without a newline (None if it ends with one)."""
        if not self.partial and not self.dropped:
            return None
        return self._end_line(b"")

    @property
    def pending(self) -> int:
        """Bytes of the partial line held (or dropped) so far."""
        return len(self.partial) + self.dropped
