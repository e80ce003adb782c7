"""A run's Nextflow config, parsed as data: a strict subset of the config syntax, never Groovy code.

Nextflow reads a config file as a Groovy script, so passing a user's text through would run their code on
the orchestrator (and let plain settings move tasks elsewhere or lift the platform's limits). No Python
library parses Nextflow config safely (the only complete parser is Nextflow's own, on the JVM), so this
module is a small hand-written tokenizer and recursive-descent parser for exactly what users need:

    process { cpus = 4; memory = '8 GB'; time = '2h' }          process.cpus = 4
    process { withName: 'STAR_ALIGN' { memory = 64.GB } }        withLabel: / "withName:PATTERN" likewise
    process { withLabel: big { ext.args = '--fast' } }           ext { args = '...' } / ext.args2 / ext.prefix
    params { genome = 'GRCh38'; skip = [1, 2] }                  params.genome = 'GRCh38'

with ``//`` and ``/* */`` comments and newlines or ``;`` between settings. Process settings are ``cpus``,
``memory``, ``time``, ``disk``, ``errorStrategy``, ``maxRetries``, ``maxErrors`` and ``ext.args``,
``ext.args2``, ``ext.args3``, ``ext.prefix``; values are literals only (numbers, quoted strings without
``$`` interpolation, ``true``/``false``/``null``, flat lists, and ``8.GB`` / ``2.h`` unit literals for
memory and time). ``ext.args*`` values are pasted into the task's bash script and, by nf-core's Python
templates, into Python source, so they hold only ``[A-Za-z0-9 _.,:=+/@%-]`` (no quote, glob, brace, ``#``,
backslash or line break); ``ext.prefix`` is a file name (``[A-Za-z0-9][A-Za-z0-9._-]{0,127}``, no ``..``);
``withName:``/``withLabel:`` patterns (Java regexes Nextflow matches) hold only ``[A-Za-z0-9_:.*|-]`` after an
optional leading ``!``, with at most a few ``*`` per alternative; memory and time are capped at the
platform's maxima and written back in the forms Nextflow's MemoryUnit/Duration read. Everything else
(method calls, closures, ``includeConfig``, interpolation, expressions, other scopes and directives) is a
violation of ``user_config`` that says ``line L, column C: <found>; <allowed>``. Every problem is collected
(up to ``MAX_PROBLEMS``) and returned, not raised, so callers can report them with their other violations.

The result is a ``UserConfig`` of plain values; the caller (``config_render``) writes them back as Groovy
literals. Hostile input is bounded: the text is capped at ``MAX_CONFIG_BYTES``; the grammar's nesting is
fixed (top level, ``process``, one selector, ``ext``; a selector inside a selector is refused), error
recovery skips tokens with a counter, never recursion, and lists are flat, so no input recurses deeply.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from arc_core.errors import FieldViolation

FIELD = "user_config"
MAX_CONFIG_BYTES = 256 * 1024
MAX_PROBLEMS = 50
MAX_STRING_CHARS = 4096  # an ext.* value
MAX_PATTERN_CHARS = 256
MAX_RETRIES = 10
MAX_ERRORS = 1_000_000
ERROR_STRATEGIES = ("terminate", "finish", "ignore", "retry")
EXT_KEYS = ("args", "args2", "args3", "prefix")
DIRECTIVES = ("cpus", "memory", "time", "disk", "errorStrategy", "maxRetries", "maxErrors")
SELECTOR_KINDS = ("withName", "withLabel")

PROCESS_ALLOWED = (
    "allowed in process { } and in withName:/withLabel: selectors: cpus, memory, time, disk, errorStrategy,"
    " maxRetries, maxErrors, ext.args, ext.args2, ext.args3, ext.prefix"
)
TOP_ALLOWED = (
    "a run's config may set only process { ... } (cpus, memory, time, disk, errorStrategy, maxRetries,"
    " maxErrors, ext.args/args2/args3/prefix, withName:/withLabel: selectors) and params { NAME = literal }"
)
LITERALS = "values must be literals: a number, a quoted string, true, false, null or a list of those"
PARAMS_ALLOWED = "params are set as params.NAME = literal or params { NAME = literal }"

# Process directives the platform owns (where and how tasks run, their limits and labels, what they mount).
PLATFORM_DIRECTIVES = frozenset(
    "executor queue clusterOptions machineType resourceLimits resourceLabels container containerOptions"
    " publishDir accelerator beforeScript afterScript scratch stageInMode stageOutMode storeDir cache shell"
    " module conda spack arch pod penv secret array maxForks maxSubmitAwait fair".split()
)
# Scopes a user might reach for, with why they are refused; any other name is an unknown scope.
_SCOPE_REASONS = {
    "executor": "the executor is set by the platform",
    "google": "Google Cloud settings (project, region, service account, network) are set by the platform",
    "workDir": "the work directory is set by the platform",
    "env": "environment variables are not allowed: the task environment is the platform's",
    "plugins": "plugins are chosen by the platform",
    "includeConfig": "a run's config is self-contained: includeConfig is not allowed",
    **dict.fromkeys(
        ("docker", "singularity", "apptainer", "podman", "charliecloud", "shifter", "conda", "spack", "wave"),
        "the container runtime is the platform's",
    ),
    **dict.fromkeys(("fusion", "aws", "azure", "k8s", "tower", "seqera"), "other platforms are not used here"),
    **dict.fromkeys(
        ("timeline", "report", "trace", "dag", "weblog", "notification", "mail", "lineage"),
        "run reports and notifications are the platform's",
    ),
}
_GROOVY_WORDS = frozenset(
    "def var new import class interface enum trait if else for while do switch try catch finally throw"
    " return assert println print System Runtime this super static final".split()
)
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", "'": "'", '"': '"', "$": "$"}
_OPERATOR_CHARS = frozenset("+-*/%<>=!&|^~?@")
_PUNCT = frozenset("{}[](),:.;")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
# ext.args/args2/args3 are pasted into bash (the module's script) and, in nf-core's Python templates, into
# Python source ("--id", "${prefix}", / shlex.split("""${args}""")): so no quote of any kind, nothing bash
# expands or comments out (# * ? [ ] { } ( ) ! ~ ^ $ `), no backslash and no control character.
_EXT_ARGS_CHARS = "A-Za-z0-9 _.,:=+/@%-"
_EXT_ARGS_BAD_RE = re.compile(f"[^{_EXT_ARGS_CHARS}]")
EXT_ARGS_ALLOWED = (
    "ext.args, args2 and args3 may hold only letters, digits, spaces and _ . , : = + / @ % -"
    " (they are pasted into the task's shell command and into Python templates: no quotes, no # * ? [ ] { }"
    " ( ) ! ~ ^ $ ` & | < > \\ and no line breaks)"
)
# ext.prefix becomes a file name and part of a publish path.
_EXT_PREFIX_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # fullmatch: `$` would allow a "\n"
EXT_PREFIX_ALLOWED = (
    "ext.prefix is a file name: a letter or digit, then up to 127 letters, digits, . _ or -, without `..`"
)
# withName:/withLabel: patterns are Java regexes Nextflow matches on the orchestrator (ConfigSelectorResolver:
# an optional leading `!` negates, the rest is Pattern.compile(..).matcher(name).matches()): only names,
# `.`, `*` and `|`, so no group or nested quantifier can backtrack without end.
_PATTERN_BAD_RE = re.compile(r"[^A-Za-z0-9_:.*|!-]")
MAX_PATTERN_STARS = 3  # `*` in one |-alternative: each more multiplies the backtracking by the name's length
PATTERN_ALLOWED = (
    "patterns hold only letters, digits and _ : . * | - (an optional leading ! negates),"
    f" at most {MAX_PATTERN_CHARS} characters and {MAX_PATTERN_STARS} `*` in each |-alternative"
)

# ------------------------------------------------------------------------------------------------ units

_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*\.?\s*([KMGTP]?)B\s*$", re.IGNORECASE | re.ASCII)
_MEMORY_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
_TIME_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*\.?\s*(ms|days|day|d|h|m|s)\s*", re.IGNORECASE | re.ASCII)
_TIME_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "day": 86400, "days": 86400}


def memory_bytes(value: str) -> float | None:
    """``'64 GB'`` / ``'64.GB'`` in bytes, None when it is not a Nextflow memory unit."""
    m = _MEMORY_RE.match(value)
    return float(m[1]) * _MEMORY_UNITS[m[2].upper()] if m else None


def duration_seconds(value: str) -> float | None:
    """``'48h'`` / ``'2.d 3.h'`` in seconds, None when it is not a Nextflow duration."""
    text = value.strip()
    if not text:
        return None
    total, pos = 0.0, 0
    while pos < len(text):
        m = _TIME_PART_RE.match(text, pos)
        if not m:
            return None
        total += float(m[1]) * _TIME_UNITS[m[2].lower()]
        pos = m.end()
    return total


def canonical_memory(value: str) -> str | None:
    """``'8.GB'`` / ``'8 gb'`` as ``'8 GB'``: a form Nextflow's MemoryUnit(String) reads; None if not one.

    MemoryUnit (nf-commons, nextflow/util/MemoryUnit.groovy) matches ``([0-9\\.]+)\\s*(\\S)?B?`` and
    reads a plain byte count with Long.parseLong, so ``'1.5 B'`` is refused here too.
    """
    m = _MEMORY_RE.match(value)
    if not m or (not m[2] and "." in m[1]):
        return None
    return f"{m[1]} {m[2].upper()}B"


def canonical_duration(value: str) -> str | None:
    """``'2.h'`` / ``'1D 30M'`` as ``'2h'`` / ``'1d 30m'``: a form Nextflow's Duration(String) reads.

    Duration (nf-commons, nextflow/util/Duration.groovy) reads components ``^(\\d+\\.?\\d*)\\s*([a-zA-Z]+)`` with
    lower-case units only (ms, s, m, h, d, day, days among them).
    """
    if duration_seconds(value) is None:
        return None
    return " ".join(f"{m[1]}{m[2].lower()}" for m in _TIME_PART_RE.finditer(value.strip()))


# ------------------------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class ResourceMaxima:
    """The largest request a task may make (the platform's settings)."""

    cpus: int
    memory: str
    time: str
    disk: str


@dataclass(frozen=True)
class Setting:
    """One accepted process setting: ``cpus`` -> 4, ``memory`` -> '8.GB', ``ext.args`` -> '--fast'."""

    name: str
    value: int | str
    line: int
    column: int


@dataclass(frozen=True)
class Selector:
    """``withName: 'PATTERN' { ... }`` or ``withLabel: ...``, directly inside ``process { }``."""

    kind: str  # one of SELECTOR_KINDS
    pattern: str
    settings: tuple[Setting, ...]
    line: int
    column: int


@dataclass(frozen=True)
class ConfigParam:
    """``params.NAME = literal`` (or inside ``params { }``)."""

    name: str
    value: Any  # str, int, float, bool, None or a list of those
    line: int
    column: int


@dataclass(frozen=True)
class UserConfig:
    """What a user's config sets, in the order written (a later setting of the same name wins)."""

    process: tuple[Setting, ...] = ()
    selectors: tuple[Selector, ...] = ()
    params: tuple[ConfigParam, ...] = ()

    @property
    def params_dict(self) -> dict[str, ConfigParam]:
        """The params by name (the last one written wins, as in Nextflow)."""
        return {p.name: p for p in self.params}


# -------------------------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ident, string, number, punct, op, newline, eof, bad (already reported)
    text: str
    line: int
    column: int
    value: Any = None


class _Stop(Exception):
    """Too many problems: stop reading."""


class _Skip(Exception):
    """This statement is refused (already reported): skip to its end."""


def _show(text: str, limit: int = 40) -> str:
    """``text`` short, with control and invisible characters made visible."""
    short = text if len(text) <= limit else text[: limit - 3] + "..."
    return _CONTROL_RE.sub(lambda m: f"\\u{ord(m[0]):04x}", short)


def _found(tok: _Token) -> str:
    if tok.kind == "eof":
        return "the end of the config"
    if tok.kind == "newline":
        return "the end of the line" if tok.text != ";" else "`;`"
    if tok.kind == "string":
        return f"the string {_show(tok.text)!r}"
    if tok.kind == "op" and len(tok.text) == 1 and (_CONTROL_RE.match(tok.text) or not tok.text.isprintable()):
        return f"the character U+{ord(tok.text):04X}"
    return f"`{_show(tok.text)}`"


class _Problems:
    """Violations of ``user_config``, at most MAX_PROBLEMS (the last one then says there are more)."""

    def __init__(self) -> None:
        self.found: list[tuple[int, int, FieldViolation]] = []
        self.more: FieldViolation | None = None

    def add(self, line: int, column: int, found: str, allowed: str) -> None:
        if len(self.found) >= MAX_PROBLEMS - 1:
            self.more = FieldViolation(FIELD, f"line {line}, column {column}: more problems follow; fix these first")
            raise _Stop
        self.found.append((line, column, FieldViolation(FIELD, f"line {line}, column {column}: {found}; {allowed}")))

    def at(self, tok: _Token, found: str, allowed: str) -> None:
        self.add(tok.line, tok.column, found, allowed)

    @property
    def items(self) -> list[FieldViolation]:
        """In the order of the text (the tokenizer finds some before the parser finds earlier ones)."""
        ordered = [v for _, _, v in sorted(self.found, key=lambda f: (f[0], f[1]))]
        return [*ordered, self.more] if self.more else ordered


def _tokenize(text: str, problems: _Problems) -> list[_Token]:
    tokens: list[_Token] = []
    n, i, line, line_start = len(text), 0, 1, 0
    if text.startswith("\ufeff"):  # a byte-order mark from an editor: not content
        i = line_start = 1

    def col(pos: int) -> int:
        return pos - line_start + 1

    while i < n:
        c = text[i]
        if c == "\n":
            tokens.append(_Token("newline", "\n", line, col(i)))
            i, line, line_start = i + 1, line + 1, i + 1
        elif c in " \t\r\f":
            i += 1
        elif c == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                problems.add(line, col(i), "a /* comment that is never closed", "close it with */")
                end = n
            body = text[i:end]
            if "\n" in body:
                tokens.append(_Token("newline", "\n", line, col(i)))
                line += body.count("\n")
                line_start = i + body.rindex("\n") + 1
            i = min(end + 2, n)
        elif c in "'\"":
            if text.startswith(c * 3, i):
                problems.add(line, col(i), f"a triple-quoted string {c * 3}", "use a one-line '...' string")
                end = text.find(c * 3, i + 3)
                end = n if end < 0 else end + 3
                body = text[i:end]
                tokens.append(_Token("bad", body[:3], line, col(i)))
                if "\n" in body:
                    line += body.count("\n")
                    line_start = i + body.rindex("\n") + 1
                i = end
                continue
            i = _string(text, i, line, col(i), tokens, problems)
        elif "0" <= c <= "9":
            m = _NUMBER_RE.match(text, i)
            assert m is not None
            tokens.append(_Token("number", m[0], line, col(i)))
            i = m.end()
        elif c.isascii() and (c.isalpha() or c == "_"):
            m = _IDENT_RE.match(text, i)
            assert m is not None
            tokens.append(_Token("ident", m[0], line, col(i)))
            i = m.end()
        elif c in _PUNCT:
            tokens.append(_Token("newline" if c == ";" else "punct", c, line, col(i)))
            i += 1
        elif c in _OPERATOR_CHARS:
            j = i
            while j < n and text[j] in _OPERATOR_CHARS and not text.startswith(("//", "/*"), j):
                j += 1
            run = text[i:j]
            if run == "=" or (run.startswith("=") and run[1] in "-+" and len(run) == 2):
                tokens.append(_Token("punct", "=", line, col(i)))
                i += 1
                continue
            tokens.append(_Token("op", run, line, col(i)))
            i = j
        else:
            tokens.append(_Token("op", c, line, col(i)))
            i += 1
    tokens.append(_Token("eof", "", line, col(n)))
    return tokens


def _string(text: str, start: int, line: int, column: int, tokens: list[_Token], problems: _Problems) -> int:
    """Read the one-line string opened at ``start``; append its token; return the index after it."""
    quote, n, i = text[start], len(text), start + 1
    out: list[str] = []
    bad = False
    while i < n:
        c = text[i]
        if c == quote:
            kind = "bad" if bad else "string"
            tokens.append(_Token(kind, "".join(out), line, column, value="".join(out)))
            return i + 1
        if c == "\n":
            break
        if c == "\\":
            e = text[i + 1] if i + 1 < n else ""
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
                continue
            hex_digits = text[i + 2 : i + 6]
            if e == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", hex_digits):
                out.append(chr(int(hex_digits, 16)))
                i += 6
                continue
            if e in ("", "\n"):
                break
            problems.add(
                line, column + i - start, f"the escape \\{_show(e)}", "use \\\\, \\', \\\", \\n, \\t or \\uXXXX"
            )
            bad, i = True, i + 2
            continue
        if quote == '"' and c == "$":
            if not bad:
                what = "${...}" if text.startswith("${", i) else "$" + (_IDENT_RE.match(text, i + 1) or [""])[0]
                problems.add(
                    line,
                    column + i - start,
                    f"the interpolation {what} in a double-quoted string",
                    "interpolation runs code: use a single-quoted string, or write \\$ for a dollar sign",
                )
            bad = True
            if text.startswith("${", i):  # skip to the matching brace, so its quotes do not end the string
                depth, i = 0, i + 1
                while i < n and text[i] != "\n":
                    depth += {"{": 1, "}": -1}.get(text[i], 0)
                    i += 1
                    if depth == 0:
                        break
                continue
        out.append(c)
        i += 1
    problems.add(
        line, column, f"a string that is never closed (opened with {quote})", f"close it with {quote} on the same line"
    )
    tokens.append(_Token("bad", "".join(out), line, column))
    return i


# ----------------------------------------------------------------------------------------------- parser


def _character(c: str) -> str:
    return "a line break" if c in "\r\n" else f"the character `{_show(c)}`"


def _ext_args_problem(text: str) -> str:
    """What is wrong with an ext.args/args2/args3 value ("" if nothing): see ``EXT_ARGS_ALLOWED``."""
    if len(text) > MAX_STRING_CHARS:
        return f"of {len(text)} characters is over the limit of {MAX_STRING_CHARS}"
    bad = _EXT_ARGS_BAD_RE.search(text)
    return f"contains {_character(bad[0])} (character {bad.start() + 1} of the value)" if bad else ""


def _ext_prefix_problem(text: str) -> str:
    """What is wrong with an ext.prefix value ("" if nothing): see ``EXT_PREFIX_ALLOWED``."""
    if _EXT_PREFIX_RE.fullmatch(text) and ".." not in text:
        return ""
    if not text:
        return "is empty"
    if len(text) > 128:
        return f"of {len(text)} characters is over the limit of 128"
    if ".." in text:
        return "contains `..`"
    if not text[0].isascii() or not text[0].isalnum():
        return f"starts with {_character(text[0])}"
    bad = re.search(r"[^A-Za-z0-9._-]", text)
    assert bad is not None
    return f"contains {_character(bad[0])} (character {bad.start() + 1} of the value)"


def _pattern_problem(pattern: str) -> str:
    """What is wrong with a withName:/withLabel: pattern ("" if nothing): see ``PATTERN_ALLOWED``."""
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"of {len(pattern)} characters is over the limit of {MAX_PATTERN_CHARS}"
    bad = _PATTERN_BAD_RE.search(pattern)
    if bad:
        return f"contains {_character(bad[0])} (character {bad.start() + 1} of the pattern)"
    regex = pattern[1:] if pattern.startswith("!") else pattern
    if "!" in regex:
        return "has a `!` after its start (only a leading ! negates)"
    if not regex:
        return "is only `!`"
    if any(alternative.count("*") > MAX_PATTERN_STARS for alternative in regex.split("|")):
        return f"has more than {MAX_PATTERN_STARS} `*` in one alternative"
    try:  # Python's re reads this character set as Java's Pattern does (`**`, a leading `*` are errors)
        re.compile(regex)
    except re.error as exc:
        return f"is not a valid regular expression ({exc.msg})"
    return ""


def _display(value: _Value) -> str:
    """A value as the user wrote it, short (for messages)."""
    if value.kind == "list":
        return "a list [...]"
    if value.kind == "string":
        return repr(_show(value.value))
    if value.kind == "unit":
        return f"{value.value}.{value.unit}"
    return _show(str(value.tok.text))


@dataclass
class _Value:
    kind: str  # string, int, float, bool, null, list, unit
    value: Any
    tok: _Token
    unit: str = ""


@dataclass
class _Block:
    settings: list[Setting] = field(default_factory=list)
    selectors: list[Selector] = field(default_factory=list)


class _Parser:
    def __init__(self, tokens: list[_Token], problems: _Problems, maxima: ResourceMaxima) -> None:
        self.tokens = tokens
        self.pos = 0
        self.problems = problems
        self.maxima = maxima
        self.process = _Block()
        self.params: list[ConfigParam] = []

    # -- tokens

    def peek(self, k: int = 0) -> _Token:
        return self.tokens[min(self.pos + k, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        tok = self.peek()
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return tok

    def is_punct(self, text: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "punct" and tok.text == text

    def skip_separators(self) -> None:
        while self.peek().kind == "newline":
            self.advance()

    def skip_newlines(self) -> None:
        while self.peek().kind == "newline" and self.peek().text == "\n":
            self.advance()

    def fail(self, tok: _Token, found: str, allowed: str) -> NoReturn:
        """Report (unless the tokenizer already did) and abandon the statement."""
        if tok.kind != "bad":
            self.problems.at(tok, found, allowed)
        raise _Skip

    def recover(self) -> None:
        """Skip to the end of the refused statement: a separator outside brackets, or the enclosing ``}``."""
        depth = 0
        while True:
            tok = self.peek()
            if tok.kind == "eof":
                return
            if tok.kind == "punct" and tok.text in "{[(":
                depth += 1
            elif tok.kind == "punct" and tok.text in "}])":
                if depth == 0 and tok.text == "}":
                    return
                depth = max(depth - 1, 0)
            elif tok.kind == "newline" and depth == 0:
                return
            self.advance()

    def block(self, opening: _Token, statement: Callable[[], None]) -> None:
        """Statements until the ``}`` that closes ``opening`` (consumed)."""
        while True:
            self.skip_separators()
            tok = self.peek()
            if tok.kind == "punct" and tok.text == "}":
                self.advance()
                return
            if tok.kind == "eof":
                self.problems.at(opening, "a { that is never closed", "close it with }")
                return
            try:
                statement()
            except _Skip:
                self.recover()

    def path(self) -> list[_Token]:
        """``a.b.c``: identifiers joined by dots (the first token is an identifier)."""
        parts = [self.advance()]
        while self.is_punct(".") and self.peek(1).kind == "ident":
            self.advance()
            parts.append(self.advance())
        if self.is_punct("."):
            after = self.peek(1)
            what = f"the quoted name {_show(after.text)!r}" if after.kind == "string" else _found(after)
            self.fail(after, what + " after a dot", "names are plain identifiers")
        return parts

    def after_name(self, path: list[_Token], allowed: str) -> _Token:
        """The ``=`` or ``{`` after a setting's name; anything else is refused."""
        tok = self.peek()
        if tok.kind == "punct" and tok.text in "={":
            return tok
        name = ".".join(p.text for p in path)
        if tok.kind == "punct" and tok.text == "(":
            self.fail(path[-1], f"the method call `{_show(name)}(...)`", "Groovy code is not allowed; " + allowed)
        if tok.kind in ("ident", "string", "number", "bad") or path[0].text in _GROOVY_WORDS:
            self.fail(
                path[0],
                f"`{_show(name)} {_show(tok.text)}`: Groovy code (a declaration, command or method call)",
                "settings are written NAME = value; " + allowed,
            )
        if tok.kind == "op" and tok.text.endswith("="):
            self.fail(tok, f"the operator `{_show(tok.text)}`", "only = assigns a value")
        if tok.kind == "punct" and tok.text == ":" and path[-1].text in SELECTOR_KINDS:
            self.fail(path[0], f"`{_show(name)}:`", "selectors are written process { withName: 'PATTERN' { ... } }")
        self.fail(tok, _found(tok), f"expected = or {{ after `{_show(name)}`")

    # -- the config

    def parse(self) -> UserConfig:
        while True:
            self.skip_separators()
            tok = self.peek()
            if tok.kind == "eof":
                break
            try:
                if tok.kind == "punct" and tok.text == "}":
                    self.advance()
                    self.fail(tok, "a } that closes nothing", "remove it")
                self.top_statement()
            except _Skip:
                self.recover()
        return UserConfig(tuple(self.process.settings), tuple(self.process.selectors), tuple(self.params))

    def top_statement(self) -> None:
        tok = self.peek()
        if tok.kind != "ident":
            what = f"the quoted name {_show(tok.text)!r}" if tok.kind == "string" else _found(tok)
            self.fail(tok, what, TOP_ALLOWED)
        if tok.text == "includeConfig":
            self.fail(tok, "`includeConfig`", _SCOPE_REASONS["includeConfig"] + "; " + TOP_ALLOWED)
        path = self.path()
        head, nxt = path[0].text, self.peek()
        code = nxt.kind in ("ident", "string", "number", "bad") or nxt.text == "(" or head in _GROOVY_WORDS
        if head not in ("process", "params") and not code:
            name = _show(".".join(p.text for p in path))
            reason = _SCOPE_REASONS.get(head, f"`{_show(head)}` is not a scope a run's config may set")
            self.fail(path[0], f"`{name}`: {reason}", TOP_ALLOWED)
        op = self.after_name(path, TOP_ALLOWED)
        if head == "process":
            self.process_path(path, op)
        else:
            self.params_path(path, op)

    # -- process

    def process_path(self, path: list[_Token], op: _Token) -> None:
        if len(path) == 1:
            if op.text != "{":
                self.fail(path[0], "`process =`", "write process { ... } or process.NAME = value")
            self.advance()
            self.block(op, lambda: self.process_statement(self.process, in_selector=False))
            return
        self.setting(path[1:], op, self.process.settings, prefix="process.", start=path[0])

    def process_statement(self, block: _Block, *, in_selector: bool) -> None:
        tok = self.peek()
        selector_kind = ""
        if tok.kind == "ident" and tok.text in SELECTOR_KINDS and self.is_punct(":", 1):
            selector_kind = tok.text
        elif tok.kind == "string" and tok.value.partition(":")[0].strip() in SELECTOR_KINDS:
            selector_kind = tok.value.partition(":")[0].strip()
        if selector_kind:
            if in_selector:
                self.fail(
                    tok,
                    f"a {selector_kind}: selector inside a selector",
                    "nested selectors are not allowed: put each withName:/withLabel: directly in process { }",
                )
            self.selector(selector_kind, block)
            return
        if tok.kind != "ident":
            what = f"the quoted name {_show(tok.text)!r}" if tok.kind == "string" else _found(tok)
            self.fail(tok, what, PROCESS_ALLOWED)
        path = self.path()
        op = self.after_name(path, PROCESS_ALLOWED)
        self.setting(path, op, block.settings, prefix="", start=path[0])

    def selector(self, kind: str, block: _Block) -> None:
        start = self.advance()
        if start.kind == "string":  # "withName:PATTERN" {
            pattern, pattern_tok = start.value.partition(":")[2].strip(), start
        else:
            self.advance()  # the ':'
            self.skip_newlines()
            pattern_tok = self.advance()
            if pattern_tok.kind not in ("string", "ident"):
                self.fail(
                    pattern_tok, _found(pattern_tok), f"a {kind}: selector takes a quoted pattern or a process name"
                )
            pattern = pattern_tok.value if pattern_tok.kind == "string" else pattern_tok.text
        if not pattern:
            self.fail(pattern_tok, f"an empty {kind}: pattern", "name the processes or labels it selects")
        if _CONTROL_RE.search(pattern):
            self.fail(pattern_tok, f"a control character in the {kind}: pattern", "patterns are one line of text")
        problem = _pattern_problem(pattern)
        if problem:
            self.fail(pattern_tok, f"the {kind}: pattern {_show(pattern)!r} {problem}", PATTERN_ALLOWED)
        self.skip_newlines()
        opening = self.peek()
        if not self.is_punct("{"):
            self.fail(opening, _found(opening), f"expected {{ after {kind}: {_show(pattern)}")
        self.advance()
        inner = _Block()
        self.block(opening, lambda: self.process_statement(inner, in_selector=True))
        block.selectors.append(Selector(kind, pattern, tuple(inner.settings), start.line, start.column))

    def setting(self, path: list[_Token], op: _Token, out: list[Setting], *, prefix: str, start: _Token) -> None:
        """``NAME = value``, ``ext.KEY = value`` or ``ext { ... }`` (``path`` is after any ``process.``)."""
        names = [p.text for p in path]
        dotted = prefix + ".".join(names)
        if names[0] == "ext" and len(names) == 1 and op.text == "{":
            self.advance()
            self.block(op, lambda: self.ext_statement(out, prefix))
            return
        if names[0] == "ext" and len(names) == 2 and op.text == "=":
            if names[1] not in EXT_KEYS:
                self.fail(
                    path[1],
                    f"`{_show(dotted)}`",
                    "the ext settings allowed are ext.args, ext.args2, ext.args3, ext.prefix",
                )
            self.advance()
            self.ext_value(path[1], out)
            return
        if len(names) == 1 and op.text == "=" and names[0] in DIRECTIVES:
            self.advance()
            self.directive(path[0], out)
            return
        if names[0] in PLATFORM_DIRECTIVES:
            self.fail(start, f"`{_show(dotted)}` is set by the platform", PROCESS_ALLOWED)
        if names[0] in SELECTOR_KINDS:
            self.fail(start, f"`{_show(dotted)}`", "selectors are written process { withName: 'PATTERN' { ... } }")
        if names[0] in DIRECTIVES or names[0] == "ext":
            form = f"`{_show(dotted)} {op.text}`"
            self.fail(start, form, f"write {prefix}{names[0]} = value" if names[0] != "ext" else PROCESS_ALLOWED)
        self.fail(start, f"`{_show(dotted)}` is not an allowed process setting", PROCESS_ALLOWED)

    def ext_statement(self, out: list[Setting], prefix: str) -> None:
        tok = self.peek()
        if tok.kind != "ident":
            self.fail(tok, _found(tok), "inside ext { }: args, args2, args3, prefix")
        path = self.path()
        op = self.after_name(path, "inside ext { }: args, args2, args3, prefix")
        if len(path) != 1 or op.text != "=" or path[0].text not in EXT_KEYS:
            name = ".".join(p.text for p in path)
            self.fail(path[0], f"`{_show(prefix)}ext.{_show(name)}`", "inside ext { }: args, args2, args3, prefix")
        self.advance()
        self.ext_value(path[0], out)

    def ext_value(self, key: _Token, out: list[Setting]) -> None:
        value = self.value()
        name = f"ext.{key.text}"
        if value.kind != "string":
            self.problems.at(value.tok, f"{name} = {_display(value)}", f"{name} is a quoted string")
            return
        text: str = value.value
        problem = _ext_prefix_problem(text) if key.text == "prefix" else _ext_args_problem(text)
        if problem:
            self.problems.at(
                value.tok, f"{name} {problem}", EXT_PREFIX_ALLOWED if key.text == "prefix" else EXT_ARGS_ALLOWED
            )
            return
        out.append(Setting(name, text, key.line, key.column))

    def directive(self, name_tok: _Token, out: list[Setting]) -> None:
        name = name_tok.text
        value = self.value()
        checked: int | str | None
        if name in ("cpus", "maxRetries", "maxErrors"):
            low, high, unit = {
                "cpus": (1, self.maxima.cpus, " CPUs"),
                "maxRetries": (0, MAX_RETRIES, ""),
                "maxErrors": (-1, MAX_ERRORS, ""),
            }[name]
            checked = self.whole_number(name, value, low, high, unit)
        elif name in ("memory", "disk"):
            checked = self.measure(
                name, value, memory_bytes, getattr(self.maxima, name), "memory size, e.g. '8 GB' or 8.GB"
            )
        elif name == "time":
            checked = self.measure(name, value, duration_seconds, self.maxima.time, "duration, e.g. '2h' or 2.h")
        else:  # errorStrategy
            checked = None
            if value.kind == "string" and value.value in ERROR_STRATEGIES:
                checked = value.value
            else:
                self.problems.at(
                    value.tok,
                    f"errorStrategy = {_display(value)}",
                    f"errorStrategy is one of the quoted strings {', '.join(ERROR_STRATEGIES)}",
                )
        if checked is not None:
            out.append(Setting(name, checked, name_tok.line, name_tok.column))

    def whole_number(self, name: str, value: _Value, low: int, high: int, unit: str) -> int | None:
        if value.kind != "int":
            self.problems.at(value.tok, f"{name} = {_display(value)}", f"{name} is a whole number")
            return None
        number: int = value.value
        if number < low:
            self.problems.at(value.tok, f"{name} = {number}", f"{name} is at least {low}")
            return None
        if number > high:
            self.problems.at(value.tok, f"{name} = {number} is above the platform's maximum", f"at most {high}{unit}")
            return None
        return number

    def measure(
        self, name: str, value: _Value, measure: Callable[[str], float | None], limit: str, what: str
    ) -> str | None:
        if value.kind == "unit":
            text = f"{value.value}.{value.unit}"
        elif value.kind == "string":
            text = value.value
        else:
            self.problems.at(value.tok, f"{name} = {_display(value)}", f"{name} is a {what}")
            return None
        canonical = (canonical_duration if name == "time" else canonical_memory)(text)
        amount, maximum = measure(canonical or ""), measure(limit)
        if amount is None or not math.isfinite(amount):
            self.problems.at(value.tok, f"{name} = {_display(value)}", f"{name} is a {what}")
            return None
        assert canonical is not None
        if amount <= 0:
            self.problems.at(value.tok, f"{name} = {_display(value)}", f"{name} must be more than zero")
            return None
        if maximum is not None and amount > maximum:
            self.problems.at(
                value.tok, f"{name} = {_display(value)} is above the platform's maximum", f"at most {limit!r}"
            )
            return None
        return canonical

    # -- params

    def params_path(self, path: list[_Token], op: _Token) -> None:
        if len(path) == 1 and op.text == "{":
            self.advance()
            self.block(op, self.params_statement)
            return
        if len(path) == 2 and op.text == "=":
            self.advance()
            self.param(path[1])
            return
        name = ".".join(p.text for p in path)
        self.fail(path[0], f"`{_show(name)} {op.text}`", PARAMS_ALLOWED + "; nested params are not allowed")

    def params_statement(self) -> None:
        tok = self.peek()
        if tok.kind != "ident":
            what = f"the quoted name {_show(tok.text)!r}" if tok.kind == "string" else _found(tok)
            self.fail(tok, what, "inside params { }: NAME = literal")
        path = self.path()
        op = self.after_name(path, "inside params { }: NAME = literal")
        if len(path) != 1 or op.text != "=":
            name = ".".join(p.text for p in path)
            self.fail(
                path[0],
                f"`{_show(name)} {op.text}`",
                "inside params { }: NAME = literal; nested params are not allowed",
            )
        self.advance()
        self.param(path[0])

    def param(self, name_tok: _Token) -> None:
        value = self.value()
        if value.kind == "unit":
            text = f"{value.value}.{value.unit}"
            self.problems.at(value.tok, f"the Groovy value {text}", f"{LITERALS}; write '{text}' as a string")
            return
        self.params.append(ConfigParam(name_tok.text, value.value, name_tok.line, name_tok.column))

    # -- values

    def value(self) -> _Value:
        """One literal after ``=``, then the end of the statement."""
        self.skip_newlines()
        tok = self.peek()
        if self.is_punct("["):
            self.advance()
            items: list[Any] = []
            while True:
                self.skip_newlines()
                if self.is_punct("]"):
                    self.advance()
                    break
                if self.is_punct(":", 1):
                    self.fail(self.peek(), "a map [key: value]", LITERALS)
                item = self.scalar("in a list")
                if item.kind == "unit":
                    self.fail(item.tok, f"the Groovy value {item.value}.{item.unit} in a list", LITERALS)
                items.append(item.value)
                self.skip_newlines()
                if self.is_punct(","):
                    self.advance()
                    continue
                if self.is_punct("]"):
                    continue
                nxt = self.peek()
                if self.is_punct(":"):
                    self.fail(nxt, "a map `[key: value]`", LITERALS)
                self.fail(nxt, _found(nxt), "expected , or ] in a list")
            result = _Value("list", items, tok)
        else:
            result = self.scalar("")
        self.end_of_statement()
        return result

    def scalar(self, where: str) -> _Value:
        tok = self.peek()
        context = f" {where}" if where else ""
        if tok.kind == "punct" and tok.text == "{":
            self.fail(tok, f"a closure {{ ... }}{context}", LITERALS + "; closures are code")
        if tok.kind == "punct" and tok.text == "[":
            self.fail(tok, f"a nested list{context}", "lists hold numbers, quoted strings, true, false or null")
        if tok.kind == "string":
            self.advance()
            return _Value("string", tok.value, tok)
        sign = ""
        if tok.kind == "op" and tok.text == "-" and self.peek(1).kind == "number":
            self.advance()
            sign = "-"
        num = self.peek()
        if num.kind == "number":
            self.advance()
            return self.number(num, sign)
        if sign:
            self.fail(tok, "`-`", LITERALS)
        if tok.kind == "ident" and tok.text in ("true", "false"):
            self.advance()
            return _Value("bool", tok.text == "true", tok)
        if tok.kind == "ident" and tok.text == "null":
            self.advance()
            return _Value("null", None, tok)
        if tok.kind == "ident":
            self.fail(
                tok,
                f"`{_show(tok.text)}`{context}: a variable or expression",
                LITERALS + "; names such as task.attempt or params.x are code",
            )
        self.fail(tok, _found(tok) + context, LITERALS)

    def number(self, tok: _Token, sign: str) -> _Value:
        text = tok.text
        if self.is_punct(".") and self.peek(1).kind == "ident" and not sign:  # 8.GB, 2.h
            self.advance()
            unit = self.advance()
            return _Value("unit", text, tok, unit=unit.text)
        if re.fullmatch(r"0\d+", text):
            self.fail(tok, f"`{text}`", "whole numbers have no leading zero (Groovy reads 010 as octal 8)")
        if re.fullmatch(r"\d+", text):
            return _Value("int", int(sign + text), tok)
        number = float(sign + text)
        if not math.isfinite(number):
            self.fail(tok, f"`{_show(text)}`", "the number is too large")
        return _Value("float", number, tok)

    def end_of_statement(self) -> None:
        tok = self.peek()
        if tok.kind in ("newline", "eof") or (tok.kind == "punct" and tok.text == "}"):
            return
        if tok.kind == "op":
            self.fail(tok, f"the operator `{_show(tok.text)}`", LITERALS + "; expressions are code")
        if tok.kind == "punct" and tok.text in ".(":
            self.fail(
                tok, f"`{tok.text}` after a value (a property or method call)", LITERALS + "; method calls are code"
            )
        self.fail(tok, _found(tok), "expected the end of the line after the value")


def parse_user_config(text: str, maxima: ResourceMaxima) -> tuple[UserConfig, list[FieldViolation]]:
    """Parse a user's config; return what it sets and every problem (violations of ``user_config``).

    The ``UserConfig`` holds only the settings that were accepted; when there are problems the caller
    must refuse the config as a whole.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_CONFIG_BYTES:
        return UserConfig(), [FieldViolation(FIELD, f"is {size} bytes; the parser's limit is {MAX_CONFIG_BYTES}")]
    problems = _Problems()
    try:
        tokens = _tokenize(text, problems)
        config = _Parser(tokens, problems, maxima).parse()
    except _Stop:
        return UserConfig(), problems.items
    return config, problems.items
