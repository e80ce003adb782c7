# Arc Reactor: `make run` serves everything on the embedded defaults, `make test` runs the tests.
# Both create the virtual environment and install what they need on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(shell find protos -name '*.proto')

.PHONY: venv proto run test lint format bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# Put the repository and the generated code on the venv's path (no packaging step needed).
	$(PY) -c "import sysconfig, pathlib; root = pathlib.Path.cwd(); \
		pathlib.Path(sysconfig.get_path('purelib'), 'arc-reactor.pth').write_text(f'{root}\n{root / \"gen\"}\n')"
	touch $(STAMP)

venv: $(STAMP)

# Generated code is committed; regenerate when a proto changes (a test fails if it is stale).
gen/.stamp: $(PROTOS) scripts/gen_protos.py | $(STAMP)
	rm -rf gen
	$(PY) scripts/gen_protos.py gen
	touch gen/.stamp

proto: gen/.stamp

run: venv proto
	$(PY) -m arc_core serve --target all

test: venv proto
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv proto
	for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .arc
