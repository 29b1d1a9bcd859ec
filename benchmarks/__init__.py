"""The project's benchmarks (never tests): each module writes its tables into docs/; run them from the
repository root, e.g. ``python -m benchmarks.gpu_check``."""
