# One-word entry points. Each creates the environment first if it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export DAGSTER_DISABLE_TELEMETRY := 1
export MPLBACKEND := Agg

.PHONY: venv demo dev collector test test-backfill lint bench bench-quick peers clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## make demo: 14 days of traffic through the SDK, then the loop through Dagster (sensor ticks, a
## backfill, retraining runs, all recorded in the instance), a progress bar and a summary
demo: $(STAMP)
	$(PY) -m feedback_assets.demo

## make dev: the Dagster UI on the demo's history (http://127.0.0.1:3000). Plain `dagster dev`:
## without DAGSTER_HOME it reads ./dagster.yaml, which keeps the history in data/dagster_home.
dev: $(STAMP)
	$(VENV)/bin/dagster dev

## make collector: the collector on http://127.0.0.1:4318 (OTLP/HTTP traces, JSON API, /docs);
## keys: $(PY) -m feedback_assets.collector keys create DEPLOYMENT
collector: $(STAMP)
	$(PY) -m feedback_assets.collector

## make test: lint + types + the whole suite (SQLite and a throwaway PostgreSQL each) on two
## pytest-xdist workers, which take whole modules (module fixtures are built once), longest tests
## first (conftest.py); each worker has its own throwaway PostgreSQL. The 25 slowest tests are
## listed at the end, to watch the budget (CI: 15 minutes in all). The concurrent PostgreSQL
## backfill is left to `make test-backfill`: with it, a whole CI run took 15-17 minutes.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy feedback_assets/domain
	$(VENV)/bin/pytest -q -n 2 --dist loadscope --no-loadscope-reorder --durations=25 -m "not backfill"

## make test-backfill: the concurrent backfill on a throwaway PostgreSQL against a sequential one
## (issue #14; about 6 minutes on 2 idle cores, a process per step)
test-backfill: $(STAMP)
	$(VENV)/bin/pytest -q -m backfill

lint: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make bench: every stage's throughput and peak memory beside a naive baseline and the peers
## (Evidently), which run in .venv-peers: made on first use, or by `make peers`. Without network
## the peers are skipped with one line and the project's own figures still run.
bench: $(STAMP)
	$(PY) -m bench

bench-quick: $(STAMP)
	$(PY) -m bench --quick

peers: $(STAMP)
	$(PY) -m bench.peers

clean:
	rm -rf data exports .pytest_cache .mypy_cache .ruff_cache
