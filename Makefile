# Two commands on a fresh machine (Python >= 3.10 and network access to PyPI):
#   make demo   set up (venv, pinned ComfyUI, tiny checkpoint) and run the main job; images land in output/
#   make test   set up and run every test
PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
export BOOMERANG_VENV := $(VENV)

.PHONY: setup demo test
setup:
	$(PYTHON) scripts/setup_env.py

demo: setup
	$(VENV)/bin/python scripts/run_demo.py $(ARGS)

test: setup
	$(VENV)/bin/python -m pytest tests -ra $(ARGS)
