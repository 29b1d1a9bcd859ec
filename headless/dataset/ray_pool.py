"""Dataset jobs on Ray: a pool of actors, one per GPU (or per CPU on CPU-only clusters), fed from the driver.

Why an actor pool and not Ray Data: each actor boots ComfyUI and loads the model once, then takes batches
one at a time from the driver, which alone reads the manifest, writes the outputs and marks items done. Ray
Data would own the retries and the sink, and the driver could not tell which items of a failed block were
already written; here a batch either comes back whole (and is committed) or its actor died and the batch goes
out again. ``ray.util.ActorPool`` drops an actor whose task failed, so the few lines of pool logic are ours.

Outputs go back to the driver (PNG bytes in Ray's object store) and the driver writes them: the workers need
no shared storage and no write access to the output folder, and the single writer keeps exactly-once simple.
Inputs go out the same way (decoded pixels), so only the driver reads the input folder.
"""
from __future__ import annotations

import logging
import os

from boomerang.checks import BoomerangInputError

from ..device import ALLOWED, parse_device
from ..paths import PACK_ROOT, cache_dir, comfyui_dir

log = logging.getLogger("boomerang.dataset")
RAY_VERSION = "2.60.0"
INSTALL_HINT = (f'--ray needs Ray, which is not installed in this Python ({{python}}): run `{{python}} -m pip install '
                f'"ray=={RAY_VERSION}"` (the version the pack is tested with)')
LOST: tuple = ()  # Ray's "the worker is gone" exceptions, set once Ray is imported
LOCAL_OBJECT_STORE = 512 * 1024 * 1024  # a local cluster started for one job: outputs are small and short-lived


def import_ray():
    import sys

    try:
        import ray
    except ImportError:
        raise ImportError(INSTALL_HINT.format(python=sys.executable)) from None
    return ray


def actor_plan(device: str | None, cluster_gpus: int, threads: int | None = None,
               option: str = "device") -> tuple[dict, str | None]:
    """(Ray resource options of each actor, the device its ComfyUI boots with) for a device request.

    With GPUs in the cluster each actor reserves one (``num_gpus=1``: Ray sets its CUDA_VISIBLE_DEVICES to that
    GPU) and boots with ComfyUI's own device choice, which is then that GPU. ``--cpu`` is used only when the user
    forced the CPU or the cluster has no GPU. A GPU request on a cluster without GPUs is an error."""
    kind, index = parse_device(device, option)
    if kind == "cuda" and index is not None:
        raise BoomerangInputError(option, ALLOWED, device, "on Ray each worker gets the one GPU Ray gives it: "
                                  "ask for 'cuda' (or nothing)")
    if kind == "cuda" and cluster_gpus == 0:
        raise BoomerangInputError(option, ALLOWED, device, "the Ray cluster has no GPU resources")
    if kind != "cpu" and cluster_gpus > 0:
        return {"num_gpus": 1}, None
    return {"num_cpus": threads or 1}, "cpu"


class DatasetActor:
    """One Ray actor: a Worker (ComfyUI booted, the model loaded once) behind ``run(batch)``."""

    def __init__(self, spec, device=None):
        logging.basicConfig(level=logging.INFO, format="[dataset worker] %(message)s")
        from .worker import Worker

        self.worker = Worker(spec, device=device)

    def pid(self) -> int:
        return os.getpid()

    def describe(self) -> str:
        return self.worker.describe()

    def run(self, batch):
        return self.worker.run(batch)

    def close(self):
        self.worker.close()  # its temporary folders; an actor killed before this leaves them to the next run


class RayExecutor:
    def __init__(self, spec, address, workers=None, device=None):
        ray = import_ray()
        self.ray = ray
        self.owns_cluster = False
        if not ray.is_initialized():
            if address is True:  # a one-job local cluster
                ray.init(include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE, log_to_driver=False,
                         _node_ip_address="127.0.0.1")
            else:
                ray.init(address=address, log_to_driver=False)
            self.owns_cluster = True
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
        try:
            options, actor_device = actor_plan(device, gpus, spec.threads)
        except ValueError:
            if self.owns_cluster:
                ray.shutdown()
            raise
        count = workers or ((gpus if "num_gpus" in options else 0) or cpus)
        path = os.pathsep.join(p for p in (str(PACK_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {"PYTHONPATH": path, "COMFYUI_PATH": str(comfyui_dir()), "BOOMERANG_CACHE": str(cache_dir())}
        actor_class = ray.remote(max_restarts=-1, max_task_retries=0)(DatasetActor)
        self.actors = [actor_class.options(**options, runtime_env={"env_vars": env}).remote(spec, actor_device)
                       for _ in range(count)]
        self.pids = ray.get([a.pid.remote() for a in self.actors])  # waits until every actor has booted
        log.info("Ray: %d actor(s) with %s each; job: %s", count, options,
                 ray.get(self.actors[0].describe.remote()))
        self.idle = list(range(count))
        self.inflight = {}  # object ref -> (actor index, batch)
        self.pings = {}  # object ref of a pid() call to a restarting actor -> actor index
        global LOST
        LOST = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.ObjectLostError)

    def free(self) -> bool:
        return bool(self.idle)

    def submit(self, batch):
        index = self.idle.pop(0)
        self.inflight[self.actors[index].run.remote(batch)] = (index, batch)

    def wait(self):
        """[(batch, results or None)] for the batches that finished; None when the actor died. Ray restarts a
        dead actor (it boots ComfyUI again); it gets new batches once it answers a ping."""
        ready, _ = self.ray.wait(list(self.inflight) + list(self.pings), num_returns=1)
        done = []
        for ref in ready:
            if ref in self.pings:
                self._ping_answered(ref)
                continue
            index, batch = self.inflight.pop(ref)
            try:
                results = self.ray.get(ref)
                self.idle.append(index)
            except LOST as err:
                log.warning("worker %d died with a batch of %d in flight (%s); its items go out again", index,
                            len(batch), type(err).__name__)
                results = None
                self.pings[self.actors[index].pid.remote()] = index
            done.append((batch, results))
        return done

    def _ping_answered(self, ref):
        import time

        index = self.pings.pop(ref)
        try:
            self.pids[index] = self.ray.get(ref)
            log.info("worker %d is back (pid %d)", index, self.pids[index])
            self.idle.append(index)
        except LOST:
            time.sleep(0.5)  # still restarting
            self.pings[self.actors[index].pid.remote()] = index

    def busy(self) -> bool:
        return bool(self.inflight or self.pings)

    def close(self):
        try:
            self.ray.get([actor.close.remote() for actor in self.actors], timeout=60)
        except Exception as err:  # noqa: BLE001 - a dead actor's folders are removed by the next run
            log.info("not every worker closed cleanly (%s)", type(err).__name__)
        for actor in self.actors:
            self.ray.kill(actor)
        if self.owns_cluster:
            self.ray.shutdown()
