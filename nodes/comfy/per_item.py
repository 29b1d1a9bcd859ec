"""Per-item model calls: a ``model_function_wrapper`` that calls the network once per batch item, so that every
item gets the bytes of a batch of one (BoomerangPerItemModel)."""
from __future__ import annotations

import torch


def per_item_wrapper(previous=None):
    """A ``model_function_wrapper`` calling the network once per batch item (with that item's cond and uncond
    rows together, as in a batch of one), so every item gets the exact bytes of a batch of one: batched float
    kernels (CPU GEMM/conv blocking, cuDNN algorithm choice) round differently for different batch sizes.
    An earlier wrapper (``previous``, e.g. Boomerang Tiled Model's) is kept and called once per item."""
    def wrapper(apply_model, args):
        x, t, c = args["input"], args["timestep"], args["c"]
        chunks_list = list(args.get("cond_or_uncond") or [0])
        chunks = max(1, len(chunks_list))

        def call(x_part, t_part, c_part):
            if previous is None:
                return apply_model(x_part, t_part, **c_part)
            return previous(apply_model, {"input": x_part, "timestep": t_part, "c": c_part,
                                          "cond_or_uncond": chunks_list})

        total = x.shape[0]
        items = total // chunks
        if items <= 1 or items * chunks != total:
            return call(x, t, c)
        out = [None] * total
        for i in range(items):
            rows = [k * items + i for k in range(chunks)]
            # one index per tensor's own device: ComfyUI keeps some conds on the CPU while x is on the GPU
            sub = {k: (v[torch.tensor(rows, device=v.device)] if torch.is_tensor(v) and v.shape[:1] == (total,)
                       else v) for k, v in c.items()}
            part = call(x[torch.tensor(rows, device=x.device)], t[torch.tensor(rows, device=t.device)], sub)
            for j, r in enumerate(rows):
                out[r] = part[j]
        return torch.stack(out)

    return wrapper


def per_item_model(model):
    """A clone of ``model`` whose network is called once per batch item (see ``per_item_wrapper``)."""
    clone = model.clone()
    clone.set_model_unet_function_wrapper(per_item_wrapper(clone.model_options.get("model_function_wrapper")))
    return clone
