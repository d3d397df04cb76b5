# Everything a newcomer needs: `make demo` and `make test` each set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/pip install --quiet -c constraints.txt

.PHONY: demo test lint format clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: any newer torch would pull several GB of CUDA wheels.
	$(PIP) torch==2.13.0
	$(PIP) -e ".[dev]"
	touch $(STAMP)

# A real search on a built-in dataset (8x8 digits), a few minutes on a laptop CPU.
demo: $(STAMP)
	$(BIN)/nas search --dataset digits --space auto --trials 20 --epochs 20 --out runs/demo-digits
	$(BIN)/nas show runs/demo-digits

# The real components the tests use (headless Chromium, PostgreSQL), installed with apt-get
# when missing and root; otherwise those tests skip with the reason.
test: $(STAMP)
	bash scripts/install-chromium.sh
	bash scripts/install-postgres.sh
	$(BIN)/ruff check nas explain search_spaces tests benchmarks
	$(BIN)/python -m pytest -q --timeout=900 --durations=15

lint: $(STAMP)
	$(BIN)/ruff check nas explain search_spaces tests benchmarks
	$(BIN)/ruff format --check nas explain search_spaces tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format nas explain search_spaces tests benchmarks
	$(BIN)/ruff check --fix nas explain search_spaces tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
