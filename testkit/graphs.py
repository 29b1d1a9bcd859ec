"""API-format graph builders for the tests (node ids are strings, links are [node_id, output_index])."""
from __future__ import annotations


def oracle(kind="eps", mu=0.0, s=1.0, shift=1.0, tag="oracle", interrupt_after=0) -> dict:
    return {"class_type": "BoomerangTestOracleModel",
            "inputs": {"kind": kind, "mu": mu, "s": s, "shift": shift, "tag": tag, "interrupt_after": interrupt_after}}


def const_latent(value, batch=4, channels=4, height=64, width=64, with_extras=False) -> dict:
    return {"class_type": "BoomerangTestLatent",
            "inputs": {"value": value, "batch": batch, "channels": channels, "height": height, "width": width,
                       "with_extras": with_extras}}


def capture(tag="out", **links) -> dict:
    return {"class_type": "BoomerangTestCapture", "inputs": {"tag": tag, **links}}


def pass_settings(cfg=1.0, sampler="boomerang_exact", scheduler="simple", steps=20) -> dict:
    return {"cfg": cfg, "sampler": sampler, "scheduler": scheduler, "steps": steps}


def oracle_boomerang(kind="eps", t_boom=200, x0=1.5, mu=0.0, s=1.0, shift=1.0, batch=4, size=64, seed=1,
                     sampler_seed=2, interrupt_after=0, with_extras=False, **settings) -> dict:
    """Oracle model -> constant latent -> BoomerangNoise -> PartialReverseSampler -> capture 'out'/'noisy'."""
    return {
        "1": oracle(kind, mu, s, shift, interrupt_after=interrupt_after),
        "2": const_latent(x0, batch, 4, size, size, with_extras),
        "3": {"class_type": "BoomerangNoise",
              "inputs": {"model": ["1", 0], "latent": ["2", 0], "t_boom": t_boom, "seed": seed}},
        "4": {"class_type": "PartialReverseSampler",
              "inputs": {"model": ["1", 0], "positive": ["1", 1], "negative": ["1", 1], "latent": ["3", 0],
                         **pass_settings(**settings), "seed": sampler_seed}},
        "5": capture("out", latent=["4", 0]),
        "6": capture("noisy", latent=["3", 0], number=["3", 1], text=["3", 2]),
    }


def sampler_custom_advanced(kind, mu, s, shift, x0, size, t_boom, sampler_node, sampler, scheduler, steps) -> dict:
    """The pack's SAMPLER node ``sampler_node`` with BoomerangSigmas(t_boom, sampler, scheduler, steps) in ComfyUI's
    SamplerCustomAdvanced (RandomNoise seed 3, BasicGuider) on the oracle, from a 4 x 4 x size x size latent of x0;
    the output latent captured as "out"."""
    return {"1": oracle(kind, mu, s, shift), "2": const_latent(x0, 4, 4, size, size),
            "sig": {"class_type": "BoomerangSigmas", "inputs": {"model": ["1", 0], "t_boom": t_boom, "sampler": sampler,
                                                                "scheduler": scheduler, "steps": steps}},
            "smp": {"class_type": sampler_node, "inputs": {}},
            "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": 3}},
            "guide": {"class_type": "BasicGuider", "inputs": {"model": ["1", 0], "conditioning": ["1", 1]}},
            "adv": {"class_type": "SamplerCustomAdvanced",
                    "inputs": {"noise": ["noise", 0], "guider": ["guide", 0], "sampler": ["smp", 0],
                               "sigmas": ["sig", 0], "latent_image": ["2", 0]}},
            "c": capture("out", latent=["adv", 0])}


def checkpoint_nodes(ckpt_name: str, prompt="picture of a person", negative="") -> dict:
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt_name}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": prompt}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": negative}},
    }


def mixture_boomerang(kind, mix, x0, t_boom, shift=1.0, **kw) -> dict:
    """oracle_boomerang with the two-mode oracle (BoomerangTestMixtureOracleModel) as the model."""
    g = oracle_boomerang(kind, t_boom, x0=x0, **kw)
    g["1"] = {"class_type": "BoomerangTestMixtureOracleModel",
              "inputs": {"kind": kind, "w": mix.w, "m1": mix.m1, "s1": mix.s1, "m2": mix.m2, "s2": mix.s2,
                         "shift": shift, "tag": "oracle"}}
    return g


def put(rt, key: str, **objects) -> dict:
    """Register in-memory objects (model, vae, positive, negative, image, latent) for a BoomerangTestObject node;
    returns the node's graph entry (outputs in that order: links ["id", 0] .. ["id", 5])."""
    from .runtime import TEST_PACK

    rt.pack_module(TEST_PACK.name).OBJECTS[key] = objects
    return {"class_type": "BoomerangTestObject", "inputs": {"key": key}}
