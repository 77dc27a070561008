# Two entry points for a fresh machine with only python3 (see README.md):
#   make run    install (with the `mic` extra, plus `serve` where an NVIDIA GPU is present)
#               and start the desktop assistant: `voxagent run --serve`
#   make test   install (with the `dev` extra), the system packages the tests use, start the
#               tiny real vLLM server when ../shared/vllm-tiny exists, and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_ARGS ?= --serve
PYTEST_ARGS ?=
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
comma := ,
RUN_EXTRAS := mic,piper,aec$(if $(HAS_GPU),$(comma)serve)

.PHONY: run test lint install-dev system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,mic,silero,turn,wake]'
	# silero-vad's wheel carries the ONNX model; its torch requirement is not needed for ONNX.
	$(BIN)/python -m pip install -q --no-deps 'silero-vad>=5,<7'
	# pipecat-ai's wheel carries Smart Turn v3.2's ONNX model (turn_detector="smart-turn");
	# none of its dependencies is needed to read that file.
	$(BIN)/python -m pip install -q --no-deps 'pipecat-ai>=1.0,<2'
	touch $@

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[$(RUN_EXTRAS)]'
	touch $@

install-dev: $(VENV)/.dev-installed

run: $(VENV)/.run-installed
	$(BIN)/voxagent run $(RUN_ARGS)

system-deps:
	scripts/system-deps
	scripts/npm-deps

test: system-deps $(VENV)/.dev-installed
	VENV=$(VENV) scripts/run-tests $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict agent tools

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/corpus/generated
