# Two entry points: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_CONFIG ?= datasets/demo/config.yaml
DEMO_OUT ?= reports/demo
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install install-test browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test,ray]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The browser tests drive Debian's chromium through Playwright (never `playwright install`).
browser: $(CHROMIUM)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

# --force: a demo folder left by an older checkout (another config hash) is started over, not refused.
# Then the 26 weeks after the decision: monitor exits 1 when it demotes a category, as the demo's
# planted drift makes it do; the report is rendered again with the monitoring section.
DEMO_DATA := $(dir $(DEMO_CONFIG))
demo: $(VENV)/.installed
	$(BIN)/support-eval run $(DEMO_CONFIG) --out $(DEMO_OUT) --force
	$(BIN)/support-eval monitor $(DEMO_OUT) $(DEMO_DATA)live_reviews.jsonl \
		--assist-logs $(DEMO_DATA)assist_logs.jsonl || [ $$? -eq 1 ]
	$(BIN)/support-eval report $(DEMO_OUT)

test: $(VENV)/.installed-test browser
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check eval tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) reports/*/ .pytest_cache
