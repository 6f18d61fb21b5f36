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
])
def test_bad_values_are_named(field, value, error, match):
    values = dict(config=tiny_config(), data="openmoji", out="x", kimg=1.0)
    with pytest.raises(error, match=match):
        TrainOptions(**{**values, field: value})


def test_unknown_json_field_is_rejected():
    values = TrainOptions(config=tiny_config(), data="d", out="x", kimg=1.0).to_dict()
    with pytest.raises(TypeError, match="unknown TrainOptions field"):
        TrainOptions.from_dict({**values, "learning_rate": 1})
