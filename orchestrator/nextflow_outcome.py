"""What a finished ``nextflow run`` came to, read from its ``.nextflow.log`` and exit status.

Pure functions, stdlib only. The log format is Nextflow's logback pattern
``Mmm-dd HH:mm:ss.SSS [thread] LEVEL logger - message``; a message may go on over the following lines
(stack traces, the ``Error executing process > 'NAME'`` report). The month is locale dependent
(``Dec-05``, ``11月-29``), so only its shape is relied upon.

Shapes recognised (all seen in real logs):

* task failure: ``ERROR nextflow.processor.TaskProcessor - Error executing process > 'NAME'`` followed by
  ``Caused by:``, ``Command executed:``, ``Command exit status:``, ``Command output:``,
  ``Command error:``, ``Work dir:`` sections;
* launch error: ``ERROR nextflow.cli.Launcher - <message>`` (config parse errors, ``@unknown`` plus an
  exception), or ``DEBUG nextflow.cli.Launcher - Operation aborted`` followed by the
  ``...AbortOperationException: <message>`` line (missing config file, unknown resume session, ...),
  or any other ERROR before a task was submitted (e.g. nf-schema's parameter validation);
* killed: exit status 130/137/143 (or a negative status from a signal), or
  ``Session aborted -- Cause: SIGINT|SIGTERM``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Outcome", "parse_outcome", "MAX_MESSAGE_CHARS"]

MAX_MESSAGE_CHARS = 2000

_ENTRY = re.compile(
    r"^(?P<stamp>\S+-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) \[(?P<thread>[^\]]*)\] (?P<level>[A-Z]+)\s+"
    r"(?P<logger>\S+) - ?(?P<message>.*)$"
)
_TASK_ERROR = re.compile(r"Error executing process > '(?P<name>.+)'\s*$", re.MULTILINE)
_SESSION = re.compile(r"\bSession UUID: *(?P<id>[0-9A-Fa-f-]{8,})", re.IGNORECASE)
_RUN_NAME = re.compile(r"\bRun name: *(?P<name>\S+)")
_LAUNCHING = re.compile(r"Launching `[^`]*` \[(?P<name>[^\]\s]+)\]")
_ABORTED = re.compile(r"Session aborted -- Cause: *(?P<cause>.*)")
_SIGNAL_CAUSE = re.compile(r"^(SIG[A-Z]+)\b")
_STACK_FRAME = re.compile(r"^\s+(at |\.\.\. \d+ (common frames omitted|more))")
_EXCEPTION_LINE = re.compile(r"^(?:Caused by: )?(?P<cls>[a-zA-Z_$][\w$]*(?:\.[\w$]+)+): ?(?P<msg>.*)$")
_SECTION = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+):\s*$")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_SIGNAL_EXIT_CODES = {130: "SIGINT", 137: "SIGKILL", 143: "SIGTERM", 129: "SIGHUP"}
# nf-core's own closing lines: they say the run failed, not why.
_NOISE = re.compile(
    r"^(Pipeline failed\. Please refer to troubleshooting docs|-\[[^\]]*\] Pipeline completed with errors-)"
)
_TASK_SECTIONS_KEPT = ("Caused by", "Command exit status", "Command error", "Work dir")


@dataclass(frozen=True)
class Outcome:
    """The verdict on one Nextflow run."""

    kind: str  # "success" | "task_failure" | "launch_error" | "killed" | "unknown_failure"
    error_message: str | None = None
    error_task: str | None = None
    session_id: str | None = None
    run_name: str | None = None


@dataclass(frozen=True)
class _Entry:
    level: str
    logger: str
    thread: str
    lines: tuple[str, ...]  # the message's first line, then its continuation lines

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def parse_outcome(log_text: str, exit_code: int, stderr: str | None = None) -> Outcome:
    """Classify a finished run from its ``.nextflow.log`` text and exit status.

    ``stderr`` (optional) is used when the log says nothing: Nextflow prints command-line errors
    and aborted launches there, sometimes without writing a log at all.
    """
    text = _ANSI.sub("", log_text or "")
    entries = _entries(text)
    session_id = _first(_SESSION, text, "id")
    run_name = _first(_RUN_NAME, text, "name") or _first(_LAUNCHING, text, "name")

    def outcome(kind: str, message: str | None = None, task: str | None = None) -> Outcome:
        return Outcome(kind, _cap(message), task, session_id, run_name)

    if exit_code == 0:
        return outcome("success")

    signal_name = _signal(exit_code, entries)
    task_entry = _task_failure(entries, text)
    if task_entry is not None and signal_name is None:
        name, message = task_entry
        return outcome("task_failure", message, name)
    if signal_name is not None:
        message = f"Nextflow was stopped by {signal_name} (exit status {exit_code})"
        return outcome("killed", message, task_entry[0] if task_entry else None)

    launch = _launch_error(entries)
    if launch is not None:
        return outcome("launch_error", _with_abort_cause(launch, entries))

    errors = [e for e in entries if e.level == "ERROR" and not _NOISE.match(e.lines[0])]
    submitted = any("Submitted process >" in e.lines[0] or "Cached process >" in e.lines[0] for e in entries)
    if errors and not submitted:
        return outcome("launch_error", _with_abort_cause(_message_of(errors[0]), entries))
    if errors:
        return outcome("unknown_failure", _with_abort_cause(_message_of(errors[0]), entries))
    cause = _abort_cause(entries)
    if cause:
        return outcome("unknown_failure", cause)
    fallback = _stderr_message(stderr)
    if fallback and not submitted:
        return outcome("launch_error", fallback)
    return outcome("unknown_failure", fallback or f"Nextflow exited with status {exit_code}")


# --------------------------------------------------------------------------------------------------
# helpers


def _entries(text: str) -> list[_Entry]:
    """Split the log into entries: a stamped first line plus the unstamped lines after it."""
    entries: list[_Entry] = []
    current: dict[str, str] | None = None
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        m = _ENTRY.match(line)
        if m:
            if current is not None:
                entries.append(_Entry(lines=tuple(lines), **current))
            current = {"level": m["level"], "logger": m["logger"], "thread": m["thread"]}
            lines = [m["message"]]
        elif current is not None:
            lines.append(line)
    if current is not None:
        entries.append(_Entry(lines=tuple(lines), **current))
    return entries


def _first(pattern: re.Pattern[str], text: str, group: str) -> str | None:
    m = pattern.search(text)
    return m[group] if m else None


def _signal(exit_code: int, entries: list[_Entry]) -> str | None:
    """The signal that stopped Nextflow, if any."""
    if exit_code in _SIGNAL_EXIT_CODES:
        return _SIGNAL_EXIT_CODES[exit_code]
    if exit_code < 0:
        return {-2: "SIGINT", -9: "SIGKILL", -15: "SIGTERM", -1: "SIGHUP"}.get(exit_code, f"signal {-exit_code}")
    cause = _abort_cause(entries)
    if cause:
        m = _SIGNAL_CAUSE.match(cause)
        if m:
            return m[1]
    return None


def _abort_cause(entries: list[_Entry]) -> str | None:
    """The text of the last ``Session aborted -- Cause: ...`` entry."""
    for e in reversed(entries):
        m = _ABORTED.search(e.lines[0])
        if m:
            rest = [line for line in e.lines[1:] if not _STACK_FRAME.match(line)]
            return "\n".join([m["cause"], *rest]).strip() or None
    return None


def _task_failure(entries: list[_Entry], text: str) -> tuple[str, str] | None:
    """(task name, short report) of the first ``Error executing process`` report."""
    for e in entries:
        if e.level != "ERROR":
            continue
        m = _TASK_ERROR.search(e.text)
        if m:
            return m["name"], _summarise_task_report(e.text[m.start() :])
    m = _TASK_ERROR.search(text)  # e.g. console output (``ERROR ~ Error executing process > ...``)
    if m:
        return m["name"], _summarise_task_report(text[m.start() :])
    return None


def _summarise_task_report(report: str) -> str:
    """Keep the header and the sections that explain a failure; drop the script and the tip."""
    lines = report.splitlines()
    out = [lines[0].strip()]
    sections: dict[str, list[str]] = {}
    order: list[str] = []
    current: str | None = None
    for line in lines[1:]:
        if _ENTRY.match(line) or line.startswith(" -- Check '"):
            break
        m = _SECTION.match(line)
        if m:
            current = m["title"]
            order.append(current)
            sections[current] = []
        elif line.startswith("Tip: "):
            current = None
        elif current is not None and line.strip():
            sections[current].append(line.strip())
    error_lines = sections.get("Command error", [])
    if not error_lines or error_lines == ["(empty)"]:
        # Nothing on stderr: the tail of stdout is the next best clue.
        kept = [*_TASK_SECTIONS_KEPT[:2], "Command output", *_TASK_SECTIONS_KEPT[2:]]
    else:
        kept = list(_TASK_SECTIONS_KEPT)
    for title in order:
        if title not in kept:
            continue
        body = sections[title]
        if title in ("Command error", "Command output") and len(body) > 20:
            body = ["...", *body[-20:]]
        if body:
            out.append(f"{title}:")
            out.extend("  " + b for b in body)
    return "\n".join(out)


def _launch_error(entries: list[_Entry]) -> str | None:
    """The launcher's own error: ``ERROR nextflow.cli.Launcher`` or an ``Operation aborted``."""
    for e in entries:
        if e.logger.endswith("cli.Launcher") and e.level == "ERROR":
            return _message_of(e)
    for e in entries:
        if e.logger.endswith("cli.Launcher") and e.lines[0].strip() == "Operation aborted":
            for line in e.lines[1:]:
                m = _EXCEPTION_LINE.match(line.strip())
                if m and m["msg"]:
                    return m["msg"]
    return None


def _message_of(entry: _Entry) -> str:
    """An entry's message without stack frames; ``@unknown`` is replaced by the exception line."""
    first = entry.lines[0].strip()
    rest = [line.rstrip() for line in entry.lines[1:] if not _STACK_FRAME.match(line)]
    if first in ("@unknown", "null", ""):
        for line in rest:
            m = _EXCEPTION_LINE.match(line.strip())
            if m:
                short = m["cls"].rsplit(".", 1)[-1]
                return f"{short}: {m['msg']}" if m["msg"] else short
        return next((line.strip() for line in rest if line.strip()), first)
    body: list[str] = []
    for line in rest:
        if _EXCEPTION_LINE.match(line.strip()) and not line.startswith(" "):
            break  # the stack trace that follows the message
        body.append(line)
    return "\n".join([first, *body]).strip()


def _with_abort_cause(message: str, entries: list[_Entry]) -> str:
    """Add the session's abort cause when the message alone is vague and the cause says more."""
    cause = _abort_cause(entries)
    if cause and cause not in message and not _SIGNAL_CAUSE.match(cause):
        return f"{message}\n{cause}"
    return message


def _stderr_message(stderr: str | None) -> str | None:
    if not stderr:
        return None
    lines = [line for line in _ANSI.sub("", stderr).splitlines() if line.strip()]
    return "\n".join(lines[:20]) or None


def _cap(message: str | None) -> str | None:
    if message is None:
        return None
    message = re.sub(r"\n{3,}", "\n\n", message.strip())
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 3].rstrip() + "..."
    return message or None
