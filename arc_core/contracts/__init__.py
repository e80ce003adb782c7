"""The contracts that cross rooms (Runs, Logs, Pipelines, the gateway, the orchestrator), one module each.

Every room imports these instead of spelling them again; ``tests/core/test_one_home_per_contract.py`` fails
when a second definition appears. The modules are pure (no I/O, nothing from ``services`` or ``gateway``) so
the orchestrator image, which ships ``arc_core``, can import them too.

- ``run_layout``: where a run's files live in storage (``runs/{id}/inputs|results|work|logs/...``).
- ``run_status``: the run statuses, the terminal ones, the timestamp each status sets.
- ``names``: run ids, pipeline names, versions, job ids.
- ``labels``: GCP label keys and values (Batch job labels and task resource labels alike).
- ``job_environment``: the orchestrator job's environment, written by the executors and read by the
  orchestrator.
- ``platform_params``: the pipeline params the platform fills (the samplesheet, the outdir).
- ``limits``: the input limits of the spec that Runs and Pipelines both check.
"""
