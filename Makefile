# Warden developer commands. `make run` and `make test` set everything up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AREA ?=

.PHONY: setup run test lint typecheck pytest bench train clean system-deps

# System packages later issues need (ffmpeg, tesseract, chromium) are installed here when present in
# the dependency list; the text slice needs none.
system-deps:
	@true

$(VENV)/.setup-done: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.setup-done

run: setup
	$(VENV)/bin/warden serve

lint: setup
	$(VENV)/bin/ruff check warden tests bench

typecheck: setup
	$(VENV)/bin/mypy warden

pytest: setup
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

bench: setup
	$(VENV)/bin/warden bench $(if $(AREA),--area $(AREA),)

train: setup
	$(VENV)/bin/warden train

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
