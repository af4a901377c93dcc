# The README's two set-up commands are `make demo` and `make test`; each creates or reuses .venv
# and installs the pinned dependencies (requirements.txt) first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: demo test test-all test-gpu bench install clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, exactly 2.13.0 (a CPU wheel here); then the rest of the pinned set.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(BIN)/latentscape demo

# The default suite (under 10 minutes on 2 cores). pytest's exit code 5 ("no tests ran") fails it.
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# On a GPU machine: the CUDA tests (every command and family on the GPU vs the CPU, NCCL launch).
# Where torch and the dependencies are preinstalled (no network), use
# `pip install --no-deps -e . && python -m pytest -m gpu tests/gpu` instead.
test-gpu: $(STAMP)
	$(BIN)/python -m pytest -m gpu -q $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build dist src/*.egg-info
