# Two commands on a fresh machine (Python >= 3.10 and network access to PyPI; the tests also apt-get chromium):
#   make demo   set up (venv, pinned ComfyUI, tiny checkpoint) and run the main job; images land in output/
#   make test   set up (the same, plus Debian's chromium for the browser tests) and run every test
PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
export BOOMERANG_VENV := $(VENV)

.PHONY: demo test workflows
demo:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python scripts/run_demo.py $(ARGS)

test:
	$(PYTHON) scripts/setup_env.py
	$(VENV)/bin/python -m pytest tests -ra $(ARGS)

# Rewrite workflows/*.json and their API twins after changing scripts/build_workflows.py
workflows:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python scripts/build_workflows.py
