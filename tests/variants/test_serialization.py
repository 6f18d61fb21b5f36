"""Save/load: safetensors + JSON, no pickles, rebuilt from the registry, clear errors on mismatch."""

import json

import pytest
import torch
from safetensors.torch import load_file

import variants
from variants.serialization import state_differences


@pytest.mark.parametrize("name", ["A", "E", "G-residual/D-skip"])
def test_generator_round_trip(name, tiny, tmp_path):
    G = variants.build_generator(tiny(name)).eval()
    G.mapping(torch.randn(16, 32), update_w_avg=True)
    weights, config = variants.save_network(tmp_path / "g", G)
    assert (weights.name, config.name) == ("g.safetensors", "g.json")
    loaded = variants.load_network(tmp_path / "g").eval()
    assert type(loaded) is type(G) and loaded.config == G.config
    assert torch.equal(loaded.mapping.w_avg, G.mapping.w_avg)
    z = torch.randn(2, 32)
    assert torch.equal(loaded(z, psi=0.7, noise_mode="const"), G(z, psi=0.7, noise_mode="const"))
    assert set(load_file(weights)) == set(G.state_dict())


def test_discriminator_round_trip_and_json_record(tiny, tmp_path):
    D = variants.build_discriminator(tiny("G-skip/D-skip"))
    variants.save_network(tmp_path / "d.safetensors", D)  # a suffix on the path is tolerated
    record = json.loads((tmp_path / "d.json").read_text())
    assert (record["kind"], record["arch"]) == ("discriminator", "skip")
    assert variants.Config.from_dict(record["config"]) == D.config
    loaded = variants.load_network(tmp_path / "d")
    img = torch.randn(4, 3, 16, 16)
    assert torch.equal(loaded(img), D(img))


def test_growth_state_is_restored(tiny, tmp_path):
    G = variants.build_generator(tiny("A"))
    G.set_growth(8, 0.25)
    variants.save_network(tmp_path / "g", G)
    assert variants.load_network(tmp_path / "g").growth == variants.Growth(8, 0.25)


def test_wrong_config_names_both(tiny, tmp_path):
    variants.save_network(tmp_path / "f", variants.build_generator(tiny("F", resolution=128)))
    other = variants.build_generator(tiny("E", resolution=128))
    message = r"saved for config 'F' .* built for config 'E' .*fmap_base: 32768 vs 16384"
    with pytest.raises(ValueError, match=message):
        variants.load_weights(other, tmp_path / "f")


def test_generator_weights_into_discriminator_fail(tiny, tmp_path):
    variants.save_network(tmp_path / "g", variants.build_generator(tiny("E")))
    D = variants.build_discriminator(tiny("E"))
    message = r"saved for config 'E' \(generator 'skip'.*do not fit the discriminator"
    with pytest.raises(ValueError, match=message):
        variants.load_weights(D, tmp_path / "g")


def test_not_a_network_file(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"format": "something"}))
    with pytest.raises(ValueError, match="is not a saved variants network"):
        variants.load_network(tmp_path / "x")
    with pytest.raises(TypeError, match="takes a variants Generator or Discriminator"):
        variants.save_network(tmp_path / "m", torch.nn.Linear(2, 2))


def test_state_differences_lists_missing_unexpected_and_reshaped_names_sorted():
    expected = {"b": torch.zeros(2), "a": torch.zeros(2), "c": torch.zeros(3), "d": torch.zeros(1)}
    given = {"z": torch.zeros(1), "c": torch.zeros(4), "d": torch.ones(1), "y": torch.zeros(1)}
    assert state_differences(expected, given) == (["a", "b"], ["y", "z"], ["c"])
    assert state_differences(given, given) == ([], [], [])
