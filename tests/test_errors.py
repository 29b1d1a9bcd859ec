"""Bad inputs stop with a message naming the input, its allowed range and the value received."""
import pytest

from testkit import graphs
from testkit.runtime import GraphError


def message(err) -> str:
    return str(err.value.details)


def test_t_boom_above_the_models_T(comfy):
    with pytest.raises(GraphError) as err:
        comfy.run(graphs.oracle_boomerang(t_boom=1200, batch=1, size=8))
    assert "t_boom must be an integer in [0, 1000]" in message(err) and "1200" in message(err)


def test_steps_above_t_boom_on_the_fast_path_at_validation(comfy):
    g = {"1": graphs.oracle(), "2": graphs.const_latent(0.0, batch=1, height=8, width=8),
         "3": {"class_type": "Boomerang", "inputs": {"model": ["1", 0], "positive": ["1", 1], "negative": ["1", 1],
                                                     "latent": ["2", 0], "t_boom": 10,
                                                     **graphs.pass_settings(sampler="euler", steps=20), "seed": 0}},
         "4": graphs.capture(latent=["3", 0])}
    _, (ok, error, _, node_errors) = comfy.validate(g)
    assert not ok
    assert "steps must be an integer in [1, t_boom = 10]" in str(node_errors) and "received 20" in str(node_errors)


def test_steps_above_t_boom_on_the_fast_path_at_run_time(comfy):
    with pytest.raises(GraphError) as err:
        comfy.run(graphs.oracle_boomerang(t_boom=10, batch=1, size=8, sampler="euler", steps=20))
    assert "steps must be an integer in [1, 10]" in message(err) and "received 20" in message(err)


def test_latent_without_boomerang_metadata(comfy):
    g = graphs.oracle_boomerang(t_boom=10, batch=1, size=8)
    g["4"]["inputs"]["latent"] = ["2", 0]  # skip BoomerangNoise
    with pytest.raises(GraphError) as err:
        comfy.run(g)
    assert "latent must be a LATENT produced by BoomerangNoise" in message(err)
    assert "received 'a latent without Boomerang metadata'" in message(err)


def test_empty_batch(comfy):
    g = graphs.oracle_boomerang(t_boom=10, batch=1, size=8)
    g["2"] = graphs.const_latent(0.0, batch=0, height=8, width=8)
    with pytest.raises(GraphError) as err:
        comfy.run(g)
    assert "latent must be a batch of at least 1 latent" in message(err) and "empty batch" in message(err)


def test_channel_count_not_matching_the_model(comfy):
    # not all zeros: an empty (all-zero) latent is given the model's channels, as KSampler does (issue 18)
    g = graphs.oracle_boomerang(t_boom=10, batch=1, size=8)
    g["2"] = graphs.const_latent(0.5, batch=1, channels=16, height=8, width=8)
    with pytest.raises(GraphError) as err:
        comfy.run(g)
    assert "latent must be a latent with 4 channels" in message(err) and "(1, 16, 8, 8)" in message(err)


def test_factor_below_one(comfy):
    from testkit.runtime import tiny_checkpoint

    g = {"1": graphs.oracle(), **graphs.checkpoint_nodes(tiny_checkpoint(comfy)),
         "2": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
         "3": {"class_type": "UpscaleThenBoomerang",
               "inputs": {"image": ["2", 0], "vae": ["ckpt", 2], "model": ["1", 0], "positive": ["1", 1],
                          "negative": ["1", 1], "factor": 0.5, "interpolation": "bilinear", "t_boom": 0,
                          "passes": 1, **graphs.pass_settings(), "seed": 0, "tile_size": 512, "color_match": "off"}},
         "4": graphs.capture(image=["3", 0])}
    _, (ok, _, _, node_errors) = comfy.validate(g)
    assert not ok
    assert "factor must be a number in [1, 64]; received 0.5" in str(node_errors)


@pytest.mark.parametrize("schedule,expected", [
    ("50,x", "t_boom_schedule must be comma-separated integers in [0, 1000]; received '50,x'"),
    ("50,2000", "t_boom_schedule must be comma-separated integers in [0, 1000]; received '50,2000'"),
    ("50,40", "t_boom_schedule must be 1 or passes = 3 values; received '50,40'"),
])
def test_bad_cascade_schedule(comfy, schedule, expected):
    g = {"1": graphs.oracle(), "2": graphs.const_latent(0.0, batch=1, height=8, width=8),
         "3": {"class_type": "CascadeLoop", "inputs": {"model": ["1", 0], "positive": ["1", 1], "negative": ["1", 1],
                                                       "latent": ["2", 0], "t_boom": 10, **graphs.pass_settings(),
                                                       "seed": 0, "passes": 3, "t_boom_schedule": schedule,
                                                       "color_match": "off"}},
         "4": graphs.capture(latent=["3", 0])}
    with pytest.raises(GraphError) as err:
        comfy.run(g)
    assert expected in message(err)


def test_user_latent_is_not_modified(comfy):
    """Nothing the user gave is overwritten: the input latent object still holds x0 after both nodes ran."""
    g = graphs.oracle_boomerang(t_boom=20, batch=1, size=8, x0=0.5)
    g["7"] = graphs.capture("input", latent=["2", 0])
    out = comfy.run(g)
    assert float(out["input"]["latent"]["samples"].min()) == 0.5 == float(out["input"]["latent"]["samples"].max())
    assert set(out["input"]["latent"]) == {"samples"}


def test_linked_inputs_are_checked_when_the_node_runs(comfy):
    """Regression: validate_inputs gets None for linked inputs; the checks then run at execution."""
    g = {"1": graphs.oracle(), "2": graphs.const_latent(0.0, batch=1, height=8, width=8),
         "s": {"class_type": "PrimitiveInt", "inputs": {"value": 20}},
         "3": {"class_type": "Boomerang", "inputs": {"model": ["1", 0], "positive": ["1", 1], "negative": ["1", 1],
                                                     "latent": ["2", 0], "t_boom": 10,
                                                     **graphs.pass_settings(sampler="euler", steps=["s", 0]),
                                                     "seed": 0}},
         "4": graphs.capture(latent=["3", 0])}
    with pytest.raises(GraphError) as err:
        comfy.run(g)
    assert "steps must be an integer in [1, 10]" in message(err) and "received 20" in message(err)
