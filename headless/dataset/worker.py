"""A dataset worker: one booted ComfyUI with the job's model loaded once; turns batches of items into PNG bytes.

The same class runs in the local process and inside each Ray actor. It never writes into the job's output
folder: the driver does that (temporary name, rename, then the manifest), so the manifest stays the single
source of truth and a worker that dies mid-batch loses nothing."""
from __future__ import annotations

import io
import json
import logging
import shutil
import traceback
import uuid
from pathlib import Path

from .graph import preset_template, workflow_template

log = logging.getLogger("boomerang.dataset")
MAX_REASON = 400  # characters of a failure reason in the manifest and the summary


def one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 3] + "..."


def failure(err: Exception) -> tuple[str, str]:
    """(one-line reason, full report) of an item's failure. For a ComfyUI graph error the reason is the failing
    node's exception type and message; the report has ComfyUI's whole error (traceback included)."""
    details = getattr(err, "details", None)
    if isinstance(details, list):  # execution errors: [(event, data)] with ComfyUI's exception fields
        for _event, data in details:
            if isinstance(data, dict) and "exception_message" in data:
                kind = str(data.get("exception_type", "Exception")).rsplit(".", 1)[-1]
                node = str(data.get("node_id", "")).split("__")[0]  # the node of the job's graph (copies are node__k)
                where = f" in node {node} ({data.get('node_type')})" if data.get("node_type") else ""
                report = ("Traceback (most recent call last):\n" + "".join(data.get("traceback") or [])
                          + f"{data.get('exception_type')}{where}: {data['exception_message']}")
                return one_line(f"{kind}{where}: {data['exception_message']}"), report
    if isinstance(details, dict) and isinstance(details.get("error"), dict):  # validation: ComfyUI's error dict
        error = details["error"]
        reason = f"{type(err).__name__}: {error.get('message', '')}: {error.get('details', '')}"
        return one_line(reason), json.dumps(details, indent=1, default=str)
    report = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    return one_line(f"{type(err).__name__}: {err}"), report


def encode_png(image, text: dict) -> bytes:
    """PNG bytes of a PIL image with ``text`` as tEXt chunks (as ComfyUI's SaveImage stores its workflow)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in text.items():
        info.add_text(key, value if isinstance(value, str) else json.dumps(value))
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info, compress_level=4)
    return buf.getvalue()


class Worker:
    """``device``: as ``headless.ComfyRuntime`` (None: ComfyUI's own choice); ignored when ``runtime`` is given
    (that runtime's device is used)."""

    def __init__(self, spec, runtime=None, device=None):
        import headless
        from headless.models import choose_model

        self.spec = spec
        self.owns_runtime = runtime is None  # a runtime made here is closed (its temporary folders removed) by close()
        self.rt = runtime or headless.ComfyRuntime(device=device).boot()
        self.device = self.rt.device
        import comfy.utils

        comfy.utils.set_progress_bar_enabled(False)  # per-node sampler bars; the job has one bar over items
        if spec.threads:
            import torch

            torch.set_num_threads(spec.threads)
        classes = self.rt.nodes.NODE_CLASS_MAPPINGS
        self.model = choose_model(self.rt, spec.checkpoint, spec.prompt)
        if spec.workflow is not None:
            self.template = workflow_template(classes, spec.workflow)
        else:
            self.template = preset_template(classes, spec, self.model)
        self.classes = classes
        self.meta = self.template.settings()
        self.input_dir = Path(self.rt.folder_paths.get_input_directory())
        self.output_dir = Path(self.rt.folder_paths.get_output_directory())

    def close(self):
        if self.owns_runtime:
            self.rt.close()

    def describe(self) -> str:
        m = self.meta
        return (f"{self.template.origin}, model {m.get('model')}, t_boom {m.get('t_boom')}, "
                f"sampler {m.get('sampler')}, steps {m.get('steps')}, on {self.rt.device} ({self.rt.device_name})")

    def run(self, batch: list[dict]) -> list[dict]:
        """Items {rel, copy, seed, pixels} -> [{rel, copy, png} or {rel, copy, error, report}], in order: error is
        one line, report the full error. A batch whose graph fails is retried item by item, so one bad item does
        not fail its neighbours."""
        try:
            return self._run(batch)
        except Exception as err:  # noqa: BLE001 - reported per item, the job goes on
            reason, report = failure(err)
            if len(batch) == 1:
                return [{"rel": batch[0]["rel"], "copy": batch[0]["copy"], "device": self.device,
                         "error": reason, "report": report}]
            log.warning("a batch of %d failed (%s); running its items one by one", len(batch), reason)
            return [r for item in batch for r in self.run([item])]

    def _run(self, batch: list[dict]) -> list[dict]:
        from PIL import Image

        tag = uuid.uuid4().hex[:12]
        names = []
        for k, item in enumerate(batch):
            names.append(f"boomerang-dataset-{tag}-{k}.png")
            Image.fromarray(item["pixels"]).save(self.input_dir / names[-1], compress_level=1)
        prefix = f"boomerang-dataset-staging/{tag}"
        try:
            graph, where = self.template.expand(names, [int(i["seed"]) for i in batch], prefix, self.classes)
            outputs = self.rt.execute(graph, keep_cache=True)["history"]["outputs"]
            results = []
            for item, (save_id, index) in zip(batch, where):
                entry = outputs[save_id]["images"][index]
                with Image.open(self.output_dir / entry["subfolder"] / entry["filename"]) as staged:
                    image = staged.convert("RGB")
                text = {**{k: str(v) for k, v in self.meta.items()}, "device": self.device, "seed": str(item["seed"]),
                        "source": item["rel"], "copy": str(item["copy"]),
                        "prompt": self.template.single(Path(item["rel"]).name, int(item["seed"]))}
                results.append({"rel": item["rel"], "copy": item["copy"], "device": self.device,
                                "png": encode_png(image, text)})
            return results
        finally:
            for name in names:
                (self.input_dir / name).unlink(missing_ok=True)
            shutil.rmtree(self.output_dir / prefix, ignore_errors=True)
