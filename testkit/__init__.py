"""What the tests and the benchmarks share (never shipped to users): the tests' ComfyUI runtime with the test
node pack (``boomerang_test_nodes``, loaded by ComfyUI from its folder), graph builders, the closed-form oracle
laws and oracle UNet, dev assets (tiny SD1.5 checkpoint, bundled photo), dataset-job helpers and the
measurement log under test-artifacts/. Import it from the repo root (``python -m ...``, ``python -m pytest``)."""
