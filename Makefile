# Set-up is automatic: the first `make run` or `make test` creates .venv and
# installs the pinned versions (requirements.lock; torch 2.13.0 CPU build).
# `make test` also installs Debian's chromium when missing (the browser test of app.py).
# `make test-fast` skips the tests marked slow; `make lint` runs ruff and mypy.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast browser app validate bench bench-speed lint clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/ecosystem run baseline

test: $(STAMP) browser
	$(BIN)/python -m pytest

# The inner loop: every test but those marked slow (the whole suite is `make test`).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# The browser test of app.py drives Debian's Chromium (package `chromium`).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Chromium (Debian package chromium) for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "note: Chromium is missing; install it with 'sudo apt-get install chromium'" \
	         "(the browser test is skipped without it, and fails under CI)"; \
	  fi; }

app: $(STAMP)
	$(BIN)/streamlit run app.py

validate: $(STAMP)
	$(BIN)/ecosystem validate
	$(BIN)/ecosystem validate --world text
	$(BIN)/ecosystem validate --world digits

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_metrics.py
	$(BIN)/python benchmarks/bench_web.py
	$(BIN)/python benchmarks/bench_ecosystem.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_checkpoint.py
	$(BIN)/python benchmarks/bench_text.py
	$(BIN)/python -m benchmarks.bench_neural
	$(BIN)/python benchmarks/bench_study.py
	$(BIN)/python benchmarks/bench_app.py

# Speed and noise against the commit before the speed work, side by side (~20 minutes).
bench-speed: $(STAMP)
	$(BIN)/python benchmarks/bench_speed.py --large

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) runs
