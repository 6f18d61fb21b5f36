"""TrainOptions: JSON round trip with the config embedded, clear errors for bad values."""

import json

import pytest

from harness.train import TrainOptions
from tests.harness.train.tiny import tiny_config


def test_json_round_trip():
    options = TrainOptions(config=tiny_config("A"), data="openmoji", out="runs/a", kimg=0.5, seed=3,
                           checkpoint_kimg=0.1, cache_dir="/tmp/cache")
    text = options.to_json()
    assert json.loads(text)["config"]["name"] == "A"
    assert TrainOptions.from_json(text) == options
    assert options.total_images == 500


@pytest.mark.parametrize(("field", "value", "error", "match"), [
    ("kimg", 0, ValueError, "kimg"),
    ("tick_kimg", -1, ValueError, "tick_kimg"),
    ("config", "E", TypeError, "variants.Config"),
    ("data", "", ValueError, "data"),
    ("progress", "fancy", ValueError, "progress"),
    ("kimg", float("inf"), ValueError, "kimg must be a finite number, got inf"),
    ("snapshot_kimg", float("nan"), ValueError, "snapshot_kimg must be a finite number, got nan"),
    ("checkpoint_kimg", float("-inf"), ValueError, "checkpoint_kimg must be a finite number"),
    ("growing_fraction", float("nan"), ValueError, "growing_fraction must be a finite number"),
    ("seed", -1, ValueError, "seed must be an integer >= 0, got -1"),
    ("seed", 1.5, ValueError, "seed must be an integer, got 1.5"),
    ("fig8_samples", True, ValueError, "fig8_samples must be an integer, got True"),
    ("device", "bogus", ValueError, "device='bogus' is not a device torch knows: use auto, cpu, cuda"),
    ("resume", True, ValueError, None),
])
def test_bad_values_are_named(field, value, error, match):
    values = dict(config=tiny_config(), data="openmoji", out="x", kimg=1.0)
    if field == "resume":  # with --force-restart: the two exclude each other
        values["force_restart"], match = True, "resume and force_restart exclude each other"
    with pytest.raises(error, match=match):
        TrainOptions(**{**values, field: value})


def test_unknown_json_field_is_rejected():
    values = TrainOptions(config=tiny_config(), data="d", out="x", kimg=1.0).to_dict()
    with pytest.raises(TypeError, match="unknown TrainOptions field"):
        TrainOptions.from_dict({**values, "learning_rate": 1})
