"""What the platform lets values hold when they reach a pipeline's scripts, whatever its schema allows.

nf-core modules paste sample names (``meta.id``), file names and free-text params into bash and Python
scripts, unquoted or inside quotes they never escape: FASTQC's ``printf "%s %s\\n" $rename_to``,
``cellranger_count.py``'s ``sample_id = "${meta.id}"``, MultiQC's ``--title \\"$params.multiqc_title\\""``;
and ``publishDir`` ``saveAs: "${meta.id}/${filename}"`` is normalised by Nextflow, so a sample named
``../../run-x/results/y`` would publish into another run's folder. A value a user sends therefore matches
one of three allow-lists (never a deny-list of shell characters: bash, Python and Groovy differ):

* names (the samplesheet's sample column and other ``meta.id`` columns): letters, digits, ``. _ -``, starting
  with a letter or digit, so never ``..`` alone and never a ``/``;
* paths (file columns, path params): no whitespace, quotes, globs or shell characters;
* free text (other string params and cells without an ``enum``): letters, digits, spaces and
  ``. _ , : = + / @ % ( ) -``.
"""

from __future__ import annotations

import re

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
PATH_RE = re.compile(r"[A-Za-z0-9._/:@%+=,-]{1,4096}")
# Parentheses may stay (task names read "FASTQC (s2)"): without `$`, `;`, `&`, `|`, quotes, backquotes
# or a newline they cannot start a command in bash, nor leave a string in Python or Groovy.
TEXT_RE = re.compile(r"[A-Za-z0-9 ._,:=+/@%()-]{0,1024}")
# A string param that is not a path param but holds a URL or an absolute path: the pipeline may read it
# (as scrnaseq reads multiqc_methods_description), and nothing would check where it points.
URI_LIKE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^/")
# Free text that is neither: one expression, so that a samplesheet's cells are checked in one C call each.
TEXT_SAFE_RE = re.compile(r"(?![A-Za-z][A-Za-z0-9+.-]*://|/)" + TEXT_RE.pattern)

NAME_RULE = (
    "names reach the pipeline's scripts and file names: letters, digits, '.', '_' and '-' only,"
    " 1 to 128 characters starting with a letter or digit"
)
PATH_RULE = (
    "paths reach the pipeline's scripts: letters, digits and . _ / : @ % + = , - only"
    " (no spaces, quotes, globs or shell characters)"
)
TEXT_RULE = (
    "text reaches the pipeline's scripts: letters, digits, spaces and . _ , : = + / @ % - only, at most 1024 characters"
)

# role -> (the expression a whole value must match, why when it does not)
RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "name": (NAME_RE, NAME_RULE),
    "path": (PATH_RE, PATH_RULE),
    "text": (TEXT_SAFE_RE, TEXT_RULE),
}


def value_problem(role: str, value: str) -> str | None:
    """Why ``value`` may not reach a script in ``role`` ("name" | "path" | "text"), or None."""
    pattern, rule = RULES[role]
    if pattern.fullmatch(value):
        return None
    if role == "text" and TEXT_RE.fullmatch(value):
        return "looks like a URL or a path, but this is not a file parameter of the pipeline"
    return rule


def with_pipeline_pattern(role: str, pipeline_pattern: str) -> re.Pattern[str] | None:
    """One expression for "matches the role's allow-list and ``re.search``-matches the pipeline's own
    pattern" (a look-ahead), or None when the pattern cannot be embedded (then check both in turn)."""
    try:
        return re.compile(f"(?=[\\s\\S]*?(?:{pipeline_pattern}))(?:{RULES[role][0].pattern})")
    except re.error:
        return None
