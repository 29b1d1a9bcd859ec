# Two commands on a fresh machine (Python >= 3.10 and network access to PyPI; the tests also apt-get chromium):
#   make demo   set up (venv, pinned ComfyUI) and run the main job on the built-in digits model -> output/
#   make test   set up (the same, plus Debian's chromium for the browser tests) and run every test
PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
export BOOMERANG_VENV := $(VENV)

.PHONY: demo test workflows bench bench-tiling bench-locality bench-datasets bench-anonymity bench-paper dataset digits-model
demo:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python scripts/run_demo.py $(ARGS)

test:
	$(PYTHON) scripts/setup_env.py
	$(VENV)/bin/python -m pytest tests -ra --durations=25 $(ARGS)

# Benchmarks (never tests): docs/BENCHMARKS.md, and docs/LOCALITY.md + docs/locality.png
bench:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python scripts/bench_perf.py $(ARGS)

# Only section 7 of docs/BENCHMARKS.md (the tiled denoiser); the other sections are left as they are
bench-tiling:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python scripts/bench_tiling.py $(ARGS)

bench-locality:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python scripts/bench_locality.py $(ARGS)

# Face anonymity vs t_boom (paper Figure 5 analog): ARGS="--checkpoint FILE --images DIR" -> docs/ANONYMITY.md + .png
bench-anonymity:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python scripts/bench_anonymity.py $(ARGS)

# The paper's anonymization and augmentation results on the built-in model: docs/PAPER_RESULTS.md + plots
# (30 min on 2 idle CPU cores, measured; resumes from its dataset jobs under ~/.cache/comfyui-boomerang/bench-paper)
bench-paper:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python scripts/bench_paper.py $(ARGS)

# Retrain the embedded default model (models/digits-ddpm: weights + model card), about 25 min on 2 CPU cores
digits-model:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python scripts/train_digits.py $(ARGS)

# Rewrite workflows/*.json and their API twins after changing scripts/build_workflows.py
workflows:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python scripts/build_workflows.py

# Dataset-job throughput (batch 1 vs 8, 1 process vs 2 Ray workers, manifest cost) -> docs/DATASETS.md
bench-datasets:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python scripts/bench_datasets.py $(ARGS)

# A Boomerang graph over a folder of images, resumable (see README "Dataset jobs"), e.g.
#   make dataset ARGS="photos/ out/ --preset augment --copies 4"
dataset:
	$(PYTHON) scripts/setup_env.py --no-browser
	$(VENV)/bin/python -m headless dataset $(ARGS)
