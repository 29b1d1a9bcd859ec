"""Determinism, batch invariance, interruption, masks and the latent's other keys, through the executor."""
import pytest
import torch

from testkit import graphs
from testkit.runtime import GraphError

FAST = {"sampler": "euler_ancestral", "scheduler": "karras", "steps": 10}


def samples(out, tag="out"):
    return out[tag]["latent"]["samples"]


SETTINGS = [{}, FAST, {"sampler": "dpmpp_2m_sde", "steps": 8}]
SETTING_IDS = ["exact", "euler_a", "dpmpp_2m_sde"]


@pytest.mark.parametrize("settings", SETTINGS, ids=SETTING_IDS)
def test_fixed_seed_is_deterministic_and_seeds_differ(comfy, settings):
    a = samples(comfy.run(graphs.oracle_boomerang(t_boom=100, batch=2, size=16, **settings)))
    b = samples(comfy.run(graphs.oracle_boomerang(t_boom=100, batch=2, size=16, **settings)))
    c = samples(comfy.run(graphs.oracle_boomerang(t_boom=100, batch=2, size=16, sampler_seed=3, **settings)))
    d = samples(comfy.run(graphs.oracle_boomerang(t_boom=100, batch=2, size=16, seed=7, **settings)))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c) and not torch.allclose(a, d)
    assert not torch.allclose(a[0], a[1])  # items of a batch are different local samples


@pytest.mark.parametrize("settings", SETTINGS, ids=SETTING_IDS)
def test_item_is_the_same_alone_or_in_a_batch_of_8(comfy, settings):
    """Item i of a batch of 8 run with seeds (s, s') equals a batch of 1 run with seeds (s + i, s' + i)."""
    batch = samples(comfy.run(graphs.oracle_boomerang(t_boom=100, batch=8, size=16, seed=5, sampler_seed=40,
                                                      **settings)))
    for i in (0, 3, 7):
        alone = samples(comfy.run(graphs.oracle_boomerang(t_boom=100, batch=1, size=16, seed=5 + i,
                                                          sampler_seed=40 + i, **settings)))
        torch.testing.assert_close(batch[i:i + 1], alone, rtol=0, atol=1e-6)


def test_interrupt_stops_between_steps(comfy):
    with pytest.raises(GraphError) as err:
        comfy.run(graphs.oracle_boomerang(t_boom=500, batch=1, size=8, interrupt_after=10))
    assert "execution_interrupted" in str(err.value.details)
    assert comfy.calls("oracle") == 10  # stopped at the next step boundary, not after 500 calls


def test_noise_mask_and_batch_index_are_kept(comfy):
    """The masked-out half stays exactly x0; noise_mask and batch_index pass through unchanged."""
    out = comfy.run(graphs.oracle_boomerang(t_boom=300, batch=2, size=16, x0=1.25, with_extras=True))
    latent = out["out"]["latent"]
    x = latent["samples"]
    assert torch.equal(x[..., 8:, :], torch.full_like(x[..., 8:, :], 1.25))
    assert not torch.allclose(x[..., :8, :], torch.full_like(x[..., :8, :], 1.25))
    assert latent["batch_index"] == [10, 11]
    assert torch.equal(latent["noise_mask"][..., :8, :], torch.ones(2, 1, 8, 16))
    assert "boomerang" not in latent  # the start level does not leak into later nodes
    noisy = out["noisy"]["latent"]
    assert noisy["batch_index"] == [10, 11] and noisy["boomerang"]["t_boom"] == 300


def test_batch_index_selects_the_noise_of_that_item(comfy):
    """A latent with batch_index [10, 11] gets the noise items 10 and 11 of a plain batch would get."""
    with_index = samples(comfy.run(graphs.oracle_boomerang(t_boom=50, batch=2, size=16, with_extras=True)), "noisy")
    plain = samples(comfy.run(graphs.oracle_boomerang(t_boom=50, batch=12, size=16)), "noisy")
    torch.testing.assert_close(with_index, plain[10:12], rtol=0, atol=0)


def test_cascade_one_pass_equals_boomerang_shortcut(comfy):
    """CascadeLoop with passes = 1 is one Boomerang pass with the same seed; all_passes stacks each pass."""
    base = {"1": graphs.oracle(), "2": graphs.const_latent(0.7, batch=2, height=16, width=16)}
    common = {"model": ["1", 0], "positive": ["1", 1], "negative": ["1", 1], "latent": ["2", 0], "t_boom": 60,
              **graphs.pass_settings(), "seed": 9}
    g = dict(base)
    g["3"] = {"class_type": "Boomerang", "inputs": dict(common)}
    g["4"] = {"class_type": "CascadeLoop", "inputs": {**common, "passes": 1, "color_match": "off"}}
    g["5"] = {"class_type": "CascadeLoop", "inputs": {**common, "passes": 3, "t_boom_schedule": "60,40,20",
                                                      "color_match": "mean_std"}}
    g["6"] = graphs.capture("shortcut", latent=["3", 0])
    g["7"] = graphs.capture("cascade1", latent=["4", 0])
    g["8"] = graphs.capture("cascade3", latent=["5", 0])
    g["9"] = graphs.capture("all3", latent=["5", 1])
    out = comfy.run(g)
    assert torch.equal(samples(out, "shortcut"), samples(out, "cascade1"))
    assert comfy.calls("oracle") == 60 + 60 + (60 + 40 + 20)
    all3 = samples(out, "all3")
    assert all3.shape == (6, 4, 16, 16)
    assert torch.equal(all3[4:], samples(out, "cascade3"))
    # colour matching: each item and channel of every pass has the input's mean (0.7) and sd (0: constant)
    torch.testing.assert_close(all3.mean(dim=(2, 3)), torch.full((6, 4), 0.7), rtol=0, atol=1e-5)
