# Arc Reactor: `make run` serves everything on the embedded defaults, `make test` runs the tests.
# Both create the virtual environment and install what they need on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(shell find protos -name '*.proto')
# buf (proto lint) comes from npm into .tools/, pinned; `make lint` installs it on first use.
BUF_VERSION := 1.75.0
BUF := .tools/node_modules/.bin/buf
BUF_STAMP := .tools/.buf-$(BUF_VERSION)

.PHONY: venv proto run test lint format bench clean chromium

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
	$(PY) -m arc_platform serve --target all

# The browser tests (tests/ui) drive Debian's Chromium and fail without it: installed here when missing
# (apt-get as root, else through sudo).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests (tests/ui)"
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo -E) apt-get install -y -qq chromium >/dev/null

chromium: $(CHROMIUM)

test: venv proto $(CHROMIUM)
	$(PY) -m pytest $(PYTEST_ARGS)

$(BUF_STAMP):
	npm install --prefix .tools --no-save --no-audit --no-fund --silent @bufbuild/buf@$(BUF_VERSION)
	touch $(BUF_STAMP)

lint: venv $(BUF_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(BUF) lint  # rules and exceptions in buf.yaml
	$(VENV)/bin/mypy  # the hand-written code; settings in pyproject.toml

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv proto
	for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .arc .tools
