# make demo: grump's main job on the embedded default. make test: the test suite.
# Each makes (or reuses) .venv in the checkout and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck check clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

demo: $(STAMP)
	@GRUMP_DATA_DIR=$${GRUMP_DATA_DIR:-.grump/demo} $(BIN)/grump demo

test: $(STAMP)
	@bash scripts/test.sh

lint: $(STAMP)
	@$(BIN)/ruff check grump workers beat tests bench
	@$(BIN)/ruff format --check grump workers beat tests bench

typecheck: $(STAMP)
	@$(BIN)/mypy grump

check: lint typecheck test

clean:
	rm -rf .grump .pytest_cache .mypy_cache
