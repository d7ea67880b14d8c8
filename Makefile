# Credit-information warehouse — the commands everyone uses.
#   make run     build the environment, write a sample inbox if there is none, run everything
#   make test    the test suite
#   make ui      the Dagster UI on the same data (http://127.0.0.1:3000)
SHELL := /bin/bash
.DEFAULT_GOAL := help

CREDIT_DATA_DIR ?= $(CURDIR)/data
# Make a relative CREDIT_DATA_DIR absolute so dbt, Dagster and the CLI agree.
override CREDIT_DATA_DIR := $(abspath $(CREDIT_DATA_DIR))
DAGSTER_HOME ?= $(CREDIT_DATA_DIR)/dagster_home
UI_HOST ?= 127.0.0.1
UI_PORT ?= 3000
PYTEST_ARGS ?= -q -n 2 --dist loadscope --no-loadscope-reorder
DEMO_SUBJECTS ?= 2000
DEMO_SEED ?= 42

export CREDIT_DATA_DIR DAGSTER_HOME
# Nothing phones home.
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export GX_ANALYTICS_ENABLED := False
export DAGSTER_DISABLE_TELEMETRY := 1
# planned events in one batch (pipelines/event_log.py, dagster.yaml)
export DAGSTER_EVENT_BATCH_SIZE := 1000
export MARIMO_SKIP_UPDATE_CHECK := 1

UV ?= uv
.PHONY: help env run demo-data test browser notebooks ui bench bench-quick lint clean-data

help:
	@echo "make run         environment + sample inbox (if empty) + credit run"
	@echo "make test        run the test suite"
	@echo "make ui          Dagster UI on http://$(UI_HOST):$(UI_PORT) (data: $(CREDIT_DATA_DIR))"
	@echo "make notebooks   analysts' marimo notebooks on http://$(UI_HOST):2718"
	@echo "make bench       ingestion benchmark → bench-output/"
	@echo "make lint        ruff"
	@echo "make clean-data  delete $(CREDIT_DATA_DIR)"

# A fresh machine: install uv if missing, then the locked environment (--inexact keeps
# packages a developer added by hand; nothing in uv.lock is changed). --compile-bytecode
# writes the .pyc files once (a no-op when they are there): where PYTHONDONTWRITEBYTECODE
# is set, every process would otherwise compile what it imports — importing
# great-expectations took 11 s instead of 5 s, in every Dagster step and GX worker.
env:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet uv || pip install --quiet uv
	@$(UV) sync --frozen --inexact --compile-bytecode

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $@

demo-data: env
	$(UV) run credit demo-data --subjects $(DEMO_SUBJECTS) --seed $(DEMO_SEED)

run: env $(DAGSTER_HOME)/dagster.yaml
	@if [ -z "$$(find "$(CREDIT_DATA_DIR)/inbox" -type f 2>/dev/null | head -n 1)" ]; then \
	  echo "inbox empty: writing the synthetic sample inbox (credit demo-data)"; \
	  $(UV) run credit demo-data --subjects $(DEMO_SUBJECTS) --seed $(DEMO_SEED); \
	fi
	$(UV) run credit run $(if $(AS_OF),--as-of $(AS_OF),)

test: env browser lint
	$(UV) run pytest $(PYTEST_ARGS)

# The report and docs tests open pages in a real headless browser (Debian's chromium,
# driven by Playwright) and need a CJK font to render Chinese. Installed when missing
# and we may (root with apt-get, as on CI); otherwise those tests skip with a message.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi -e wqy -e "noto.*cjk"; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium and a CJK font for the browser tests (apt-get)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) \
	      || echo "warning: could not install chromium: the browser tests will skip"; \
	  else echo "note: chromium missing and not root: the browser tests will skip"; fi; \
	fi

# Analysts' notebooks (marimo) on the same data: http://127.0.0.1:2718
notebooks: env
	$(UV) run marimo edit notebooks --host $(UI_HOST) --port 2718 --headless --no-token

ui: env $(DAGSTER_HOME)/dagster.yaml
	$(UV) run dagster dev -m pipelines.definitions -h $(UI_HOST) -p $(UI_PORT)

bench: env
	$(UV) run python scripts/bench.py

bench-quick: env
	$(UV) run python scripts/bench.py --quick

lint: env
	$(UV) run ruff check pipelines tests scripts

clean-data:
	rm -rf "$(CREDIT_DATA_DIR)"
