"""Start-up: which services a process runs (``--target``), the embedded defaults, and the ``arc`` command.

The only package that knows every service and the gateway; nothing imports it but its own entry point,
the tests and the benchmarks (``tests/core/test_layering.py``).
"""
