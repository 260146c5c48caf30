# make demo: grump's main job on the embedded default. make test: the test suite.
# Each makes (or reuses) .venv in the checkout and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# The intent parser compiled with mypyc (setup.py), rebuilt when a source of it changes.
NATIVE := build/native.stamp

.PHONY: demo test lint typecheck check clean native

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@GRUMP_MYPYC=0 $(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

$(NATIVE): $(STAMP) setup.py scripts/native.sh $(wildcard grump/intent/*.py)
	@bash scripts/native.sh
	@touch $@

native:
	@rm -f $(NATIVE)
	@$(MAKE) --no-print-directory $(NATIVE)

demo: $(NATIVE)
	@GRUMP_DATA_DIR=$${GRUMP_DATA_DIR:-.grump/demo} $(BIN)/grump demo

test: $(NATIVE)
	@bash scripts/test.sh

lint: $(STAMP)
	@$(BIN)/ruff check grump workers beat tests bench setup.py
	@$(BIN)/ruff format --check grump workers beat tests bench setup.py

typecheck: $(STAMP)
	@$(BIN)/mypy grump

check: lint typecheck test

clean:
	rm -rf .grump .pytest_cache .mypy_cache build grump/intent/*.so

# make images: the worker and GPU images, built with buildah on stand-in Debian bases
# (no daemon, no pull; scripts/images.sh). make images-smoke: docker-compose.yml
# checked and its services run from the images (scripts/smoke.sh).
.PHONY: images images-smoke
images:
	@bash scripts/images.sh

images-smoke: images
	@bash scripts/smoke.sh
