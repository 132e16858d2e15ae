# designkit — two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv, install designkit with its extras, and make sure Graphviz's `dot`
# is there (installing it with apt-get when running as root on Debian/Ubuntu).

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp

.PHONY: postgres all demo test lint lab docs bench fuzz fidelity dot mermaid chromium venv clean

all: test

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "designkit needs Python >= 3.11; install one and run: make PY=python3.11 ...")'
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || { echo "could not create $(VENV): install the venv module (Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebook,dev,import,calibrate,distributed]'
	@touch $(STAMP)

dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Graphviz (dot) with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "Graphviz 'dot' is missing: sudo apt-get install graphviz | brew install graphviz | conda install -c conda-forge graphviz"; \
	    exit 1; \
	  fi; }

demo: venv dot
	$(BIN)/designkit templates
	$(BIN)/designkit validate templates/*.yaml
	$(BIN)/designkit estimate templates/flash-sale.yaml
	@# The flash-sale workbook, executed headless into a scratch copy (the committed one stays as is).
	$(BIN)/jupyter nbconvert --to notebook --execute --log-level WARN \
	  --output-dir .cache/demo notebooks/01-flash-sale.ipynb
	$(BIN)/designkit report templates/flash-sale.yaml -o docs/examples/flash-sale

# Mermaid's own parser checks our Mermaid text in the tests (Node.js, no browser needed).
MERMAID := .cache/mermaid/node_modules/mermaid/package.json
mermaid:
	@if [ -f $(MERMAID) ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  echo "installing mermaid + jsdom into .cache/mermaid (for the Mermaid syntax test)"; \
	  npm install --silent --no-audit --no-fund --prefix .cache/mermaid mermaid@11 jsdom >/dev/null; \
	else echo "npm not found: the Mermaid syntax test will skip (install Node.js to run it)"; fi

# Debian's chromium drives the explorer's browser test (never a downloaded browser).
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium with apt-get (for the explorer's browser test)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "/usr/bin/chromium not found: the explorer's browser test will skip (sudo apt-get install chromium)"; fi; }

# PostgreSQL for `designkit verify` against a real planner: tests start a throwaway cluster.
postgres:
	@{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing PostgreSQL with apt-get (for the verify tests)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "PostgreSQL not found: its verify tests will skip (sudo apt-get install postgresql)"; fi; }

test: venv dot lint mermaid chromium postgres
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --nbval --nbval-current-env \
	  --nbval-sanitize-with notebooks/nbval-sanitize.cfg notebooks/

lint: venv
	$(BIN)/ruff check designkit tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: venv dot
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench_estimate.py
	$(BIN)/python benchmarks/bench_scale.py
	@# Issue 16's targets, measured against their goals (MET / MISSED): one table, also
	@# written to .cache/bench/targets.json; LINE's MVA is the tandem's peer.
	$(BIN)/python benchmarks/bench_targets.py

# A longer fuzz soak than the one in `make test`: every command and output format on
# generated designs (valid, invalid, extreme, hostile), random seed; failures saved under
# .cache/fuzz/. FUZZ_MINUTES sets its length.
FUZZ_MINUTES ?= 10
fuzz: venv dot mermaid
	$(BIN)/python tests/fuzz/soak.py --minutes $(FUZZ_MINUTES)

# The estimate against the simulation on generated designs of every step kind, holder and
# time shape, and held workers against exact Markov chains (a few minutes; the tables are
# what docs/estimator.md quotes); then against a real PostgreSQL under open-loop Poisson
# load through a real pool (about 9 minutes; writes docs/fidelity.md).
fidelity: venv postgres
	$(BIN)/python benchmarks/fidelity_step_kinds.py
	$(BIN)/python benchmarks/held_departures.py
	$(BIN)/python benchmarks/fidelity_transient.py
	$(BIN)/python -m pip install --quiet -e '.[fidelity]'
	$(BIN)/python benchmarks/fidelity_postgres.py --write-docs

docs: venv
	$(BIN)/python docs/_gen_format.py
	$(BIN)/designkit rules --format markdown > docs/rules.md

lab: venv dot
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist .cache
