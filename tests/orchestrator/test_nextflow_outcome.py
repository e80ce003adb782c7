"""``parse_outcome`` on log shapes taken from real Nextflow runs (23.x-25.x) and nf-core pipelines."""

# Log fixtures keep Nextflow's real (long) lines.
# ruff: noqa: E501

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.nextflow_outcome import MAX_MESSAGE_CHARS, Outcome, parse_outcome

HEAD = """\
Mar-14 09:12:01.100 [main] DEBUG nextflow.cli.Launcher - $> nextflow run nf-core/scrnaseq -r 2.7.1 -params-file p.yaml
Mar-14 09:12:01.300 [main] INFO  nextflow.cli.CmdRun - N E X T F L O W  ~  version 24.04.4
Mar-14 09:12:03.050 [main] INFO  nextflow.cli.CmdRun - Launching `https://github.com/nf-core/scrnaseq` [silly_hopper] DSL2 - revision: 1a2b3c4d5e [2.7.1]
Mar-14 09:12:03.400 [main] DEBUG nextflow.Session - Session UUID: 0b5c9f4e-6a1d-4c2b-8e3f-7d6a5b4c3d2e
Mar-14 09:12:03.401 [main] DEBUG nextflow.Session - Run name: silly_hopper
Mar-14 09:12:03.420 [main] DEBUG nextflow.cli.CmdRun -
  Version: 24.04.4 build 5917
  System: Linux 6.1.0
  CPUs: 2 - Mem: 7.8 GB (2.1 GB) - Swap: 0 (0)
Mar-14 09:12:03.500 [main] DEBUG nextflow.Session - Session start
"""
SESSION = "0b5c9f4e-6a1d-4c2b-8e3f-7d6a5b4c3d2e"
SUBMITTED = """\
Mar-14 09:12:10.001 [Task submitter] INFO  nextflow.Session - [a1/b2c3d4] Submitted process > NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (pbmc_1k)
"""
GOODBYE = "Mar-14 09:20:00.000 [main] DEBUG nextflow.script.ScriptRunner - > Execution complete -- Goodbye\n"

TASK_FAILURE = (
    HEAD
    + SUBMITTED
    + """\
Mar-14 09:13:10.435 [Task monitor] DEBUG n.processor.TaskPollingMonitor - Task completed > TaskHandler[id: 1; name: NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (pbmc_1k); status: COMPLETED; exit: 2; error: -; workDir: /data/work/a1/b2c3d4e5f60718293a4b5c6d7e8f90]
Mar-14 09:13:10.436 [TaskFinalizer-1] DEBUG nextflow.processor.TaskProcessor - Handling unexpected condition for
  task: name=NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (pbmc_1k); work-dir=/data/work/a1/b2c3d4e5f60718293a4b5c6d7e8f90
  error [nextflow.exception.ProcessFailedException]: Process `NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (pbmc_1k)` terminated with an error exit status (2)
Mar-14 09:13:10.454 [TaskFinalizer-1] ERROR nextflow.processor.TaskProcessor - Error executing process > 'NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (pbmc_1k)'

Caused by:
  Process `NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (pbmc_1k)` terminated with an error exit status (2)


Command executed:

  fastqc --quiet --threads 2 pbmc_1k_1.fastq.gz pbmc_1k_2.fastq.gz
  SECRET_SCRIPT_LINE

Command exit status:
  2

Command output:
  (empty)

Command error:
  Specified output directory 'fastqc' does not exist

Work dir:
  /data/work/a1/b2c3d4e5f60718293a4b5c6d7e8f90

Container:
  quay.io/biocontainers/fastqc:0.12.1--hdfd78af_0

Tip: when you have fixed the problem you can continue the execution adding the option `-resume` to the run command line
Mar-14 09:13:10.459 [TaskFinalizer-1] DEBUG nextflow.Session - Session aborted -- Cause: Process `NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (pbmc_1k)` terminated with an error exit status (2)
Mar-14 09:13:10.499 [TaskFinalizer-1] INFO  nextflow.Nextflow - -[nf-core/scrnaseq] Pipeline completed with errors-
Mar-14 09:13:10.560 [main] ERROR nextflow.Nextflow - Pipeline failed. Please refer to troubleshooting docs: https://nf-co.re/docs/usage/troubleshooting
Mar-14 09:13:10.601 [TaskFinalizer-1] DEBUG nextflow.Session - null
java.lang.InterruptedException: null
\tat java.base/java.lang.Object.wait0(Native Method)
\tat nextflow.trace.AnsiLogObserver.onFlowComplete(AnsiLogObserver.groovy:520)
"""
    + GOODBYE
)


def test_success_carries_session_and_run_name() -> None:
    outcome = parse_outcome(HEAD + SUBMITTED + GOODBYE, 0)
    assert outcome == Outcome("success", None, None, SESSION, "silly_hopper")


def test_outcome_is_frozen() -> None:
    outcome = parse_outcome("", 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.kind = "task_failure"  # type: ignore[misc]


def test_task_failure() -> None:
    outcome = parse_outcome(TASK_FAILURE, 1)
    assert outcome.kind == "task_failure"
    assert outcome.error_task == "NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (pbmc_1k)"
    assert outcome.session_id == SESSION and outcome.run_name == "silly_hopper"
    message = outcome.error_message or ""
    assert message.startswith("Error executing process > 'NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (pbmc_1k)'")
    assert "terminated with an error exit status (2)" in message
    assert "Command error:\n  Specified output directory 'fastqc' does not exist" in message
    assert "/data/work/a1/b2c3d4e5f60718293a4b5c6d7e8f90" in message
    # the script, the container and the tip are not part of the short message
    assert "SECRET_SCRIPT_LINE" not in message and "Tip:" not in message and "quay.io" not in message
    assert "troubleshooting" not in message


def test_task_failure_with_empty_stderr_keeps_stdout_tail() -> None:
    log = (
        HEAD
        + """\
Mar-14 09:13:10.454 [TaskFinalizer-2] ERROR nextflow.processor.TaskProcessor - Error executing process > 'ALIGN (s1)'

Caused by:
  Process `ALIGN (s1)` terminated with an error exit status (137)

Command executed:

  STAR --runThreadN 8

Command exit status:
  137

Command output:
  loading genome
  Killed

Command error:
  (empty)

Work dir:
  /w/3c/99aa
"""
    )
    outcome = parse_outcome(log, 1)
    assert outcome.kind == "task_failure" and outcome.error_task == "ALIGN (s1)"
    assert "Killed" in (outcome.error_message or "") and "(137)" in (outcome.error_message or "")


def test_localised_month_and_old_session_uuid_spelling() -> None:
    log = (
        "11月-29 22:36:34.705 [main] DEBUG nextflow.Session - Session uuid: b63b14ac-2b29-4937-8280-9c42b00a82e9\n"
        "11月-29 22:36:34.706 [main] DEBUG nextflow.Session - Run name: irreverent_watson\n"
        "11月-29 22:36:35.454 [TaskFinalizer-2] ERROR nextflow.processor.TaskProcessor - "
        "Error executing process > 'batch_effect_check_plot (Batch effect check plot)'\n\n"
        "Caused by:\n  Process `batch_effect_check_plot (Batch effect check plot)` terminated with an error "
        "exit status (2)\n"
    )
    outcome = parse_outcome(log, 1)
    assert outcome.kind == "task_failure"
    assert outcome.error_task == "batch_effect_check_plot (Batch effect check plot)"
    assert outcome.session_id == "b63b14ac-2b29-4937-8280-9c42b00a82e9"
    assert outcome.run_name == "irreverent_watson"


def test_config_parse_error_is_a_launch_error() -> None:
    log = (
        HEAD.split("Mar-14 09:12:03.050")[0]
        + """\
Mar-14 09:12:02.857 [main] ERROR nextflow.cli.Launcher - Unable to parse config file: '/runs/run-1/nextflow.config'

  Unexpected input: '{' @ line 3, column 12.
     process {
              ^

nextflow.exception.ConfigParseException: Unable to parse config file: '/runs/run-1/nextflow.config'
\tat nextflow.config.ConfigParser.parse(ConfigParser.groovy:242)
\tat nextflow.cli.Launcher.main(Launcher.groovy:658)
"""
    )
    outcome = parse_outcome(log, 1)
    assert outcome.kind == "launch_error"
    assert outcome.error_task is None and outcome.session_id is None
    message = outcome.error_message or ""
    assert message.startswith("Unable to parse config file: '/runs/run-1/nextflow.config'")
    assert "Unexpected input" in message
    assert "\tat " not in message and "ConfigParseException" not in message


def test_unknown_launcher_error_uses_the_exception() -> None:
    log = (
        "Dec-03 08:08:07.000 [main] DEBUG nextflow.cli.Launcher - $> nextflow run nf-core/rnavar\n"
        "Dec-03 08:08:08.022 [main] ERROR nextflow.cli.Launcher - @unknown\n"
        "org.pf4j.PluginRuntimeException: Cannot find the manifest path\n"
        "        at org.pf4j.ManifestPluginDescriptorFinder.readManifestFromDirectory(ManifestPluginDescriptorFinder.java:142)\n"
    )
    outcome = parse_outcome(log, 1)
    assert outcome == Outcome("launch_error", "PluginRuntimeException: Cannot find the manifest path")


def test_aborted_operation_logged_at_debug_is_a_launch_error() -> None:
    # Real Nextflow logs AbortOperationException (missing -c file, unknown resume id, ...) at DEBUG only.
    log = HEAD + (
        "Mar-14 09:12:03.600 [main] DEBUG nextflow.cli.Launcher - Operation aborted\n"
        "nextflow.exception.AbortOperationException: Can't find a run with the specified id: "
        f"{SESSION} -- Execution can't be resumed\n"
        "\tat nextflow.script.ScriptRunner.verifyAndTrackHistory(ScriptRunner.groovy:301)\n"
    )
    outcome = parse_outcome(log, 1)
    assert outcome.kind == "launch_error"
    assert outcome.error_message == f"Can't find a run with the specified id: {SESSION} -- Execution can't be resumed"
    assert outcome.session_id == SESSION


def test_nf_schema_validation_failure() -> None:
    log = (
        HEAD
        + """\
Mar-14 09:12:05.001 [main] ERROR nextflow.validation.SchemaValidator - Validation of pipeline parameters failed!
Mar-14 09:12:05.010 [main] DEBUG nextflow.Session - Session aborted -- Cause: The following invalid input values have been detected:

* Missing required parameter(s): input, outdir

Mar-14 09:12:05.300 [main] DEBUG nextflow.cli.Launcher - Operation aborted
nextflow.validation.exceptions.SchemaValidationException: The following invalid input values have been detected:

* Missing required parameter(s): input, outdir
"""
    )
    outcome = parse_outcome(log, 1)
    assert outcome.kind == "launch_error"
    assert "Missing required parameter(s): input, outdir" in (outcome.error_message or "")


def test_nf_schema_error_without_launcher_line() -> None:
    log = (
        HEAD
        + """\
Mar-14 09:12:05.001 [main] ERROR nextflow.validation.SchemaValidator - Validation of pipeline parameters failed!
Mar-14 09:12:05.010 [main] DEBUG nextflow.Session - Session aborted -- Cause: The following invalid input values have been detected:

* --input (sheet.csv): the file or directory 'sheet.csv' does not exist
"""
    )
    outcome = parse_outcome(log, 1)
    assert outcome.kind == "launch_error"
    message = outcome.error_message or ""
    assert message.startswith("Validation of pipeline parameters failed!")
    assert "'sheet.csv' does not exist" in message


@pytest.mark.parametrize("exit_code", [130, 143, 137, -15, -9])
def test_killed_by_exit_status(exit_code: int) -> None:
    outcome = parse_outcome(HEAD + SUBMITTED, exit_code)
    assert outcome.kind == "killed"
    assert outcome.session_id == SESSION and "SIG" in (outcome.error_message or "")


def test_killed_by_signal_handler_in_the_log() -> None:
    log = (
        HEAD
        + SUBMITTED
        + """\
Mar-14 09:15:23.959 [SIGINT handler] DEBUG nextflow.Session - Session aborted -- Cause: SIGINT
Mar-14 09:15:24.029 [SIGINT handler] WARN  n.processor.TaskPollingMonitor - Killing running tasks (1)
Mar-14 09:15:25.561 [SIGINT handler] ERROR nextflow.Nextflow - Pipeline failed. Please refer to troubleshooting docs: https://nf-co.re/docs/usage/troubleshooting
"""
        + GOODBYE
    )
    outcome = parse_outcome(log, 1)
    assert outcome.kind == "killed" and "SIGINT" in (outcome.error_message or "")


def test_error_after_tasks_started_is_unknown_failure() -> None:
    log = (
        HEAD
        + SUBMITTED
        + """\
Mar-14 09:15:00.000 [Actor Thread 7] ERROR nextflow.extension.OperatorImpl - @unknown
java.lang.NullPointerException: Cannot invoke "Object.toString()" because "meta" is null
\tat Script_abc.runScript(Script_abc:12)
Mar-14 09:15:00.100 [Actor Thread 7] DEBUG nextflow.Session - Session aborted -- Cause: Cannot invoke "Object.toString()" because "meta" is null
Mar-14 09:15:01.000 [main] ERROR nextflow.Nextflow - Pipeline failed. Please refer to troubleshooting docs: https://nf-co.re/docs/usage/troubleshooting
"""
    )
    outcome = parse_outcome(log, 1)
    assert outcome.kind == "unknown_failure"
    assert outcome.error_message == 'NullPointerException: Cannot invoke "Object.toString()" because "meta" is null'


def test_no_log_falls_back_to_stderr() -> None:
    stderr = "Unknown option: -frobnicate -- Check the available commands and options and syntax with 'help'\n"
    outcome = parse_outcome("", 1, stderr=stderr)
    assert outcome.kind == "launch_error" and outcome.error_message == stderr.strip()
    bare = parse_outcome("", 1)
    assert bare == Outcome("unknown_failure", "Nextflow exited with status 1")


def test_console_output_is_understood_too() -> None:
    console = (
        "N E X T F L O W  ~  version 24.04.4\n"
        "Launching `https://github.com/nf-core/scrnaseq` [happy_euler] DSL2 - revision: 1a2b3c4d5e [2.7.1]\n"
        "[a1/b2c3d4] Submitted process > MULTIQC\n"
        "\x1b[31mERROR ~ Error executing process > 'MULTIQC'\n\n"
        "Caused by:\n  Process `MULTIQC` terminated with an error exit status (1)\n\n"
        "Command error:\n  no log files found\n\n -- Check '.nextflow.log' file for details\x1b[0m\n"
    )
    outcome = parse_outcome(console, 1)
    assert outcome.kind == "task_failure" and outcome.error_task == "MULTIQC"
    assert outcome.run_name == "happy_euler"
    assert "Check '.nextflow.log'" not in (outcome.error_message or "")


def test_long_messages_are_capped() -> None:
    noise = "\n".join(f"  line {i} " + "x" * 80 for i in range(400))
    log = HEAD + (
        "Mar-14 09:13:10.454 [TaskFinalizer-1] ERROR nextflow.processor.TaskProcessor - "
        "Error executing process > 'BIG (s1)'\n\nCaused by:\n  Process `BIG (s1)` terminated with an error "
        f"exit status (1)\n\nCommand error:\n{noise}\n\nWork dir:\n  /w/ab/cdef\n"
    )
    outcome = parse_outcome(log, 1)
    message = outcome.error_message or ""
    assert len(message) <= MAX_MESSAGE_CHARS
    assert "line 399" in message and "line 10 " not in message  # the tail of stderr is kept
    launcher = "Mar-14 09:12:02.857 [main] ERROR nextflow.cli.Launcher - " + "y" * 5000 + "\n"
    assert len(parse_outcome(launcher, 1).error_message or "") == MAX_MESSAGE_CHARS
