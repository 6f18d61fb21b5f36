"""Config: presets of Tables 1-2, the channel rule, validation, overrides and JSON round-trip."""

import dataclasses
import json

import pytest

import variants
from variants.configs import ARCHITECTURES

TABLE1 = {  # name: (g_arch, d_arch, style_block, growing, r1_interval, pl_weight > 0, fmap_base)
    "A": ("original", "original", "adain", True, 1, False, 16384),
    "B": ("original", "original", "demod", True, 1, False, 16384),
    "C": ("original", "original", "demod", True, 16, False, 16384),
    "D": ("original", "original", "demod", True, 16, True, 16384),
    "E": ("skip", "residual", "demod", False, 16, True, 16384),
    "F": ("skip", "residual", "demod", False, 16, True, 32768),
    "A-large": ("original", "original", "adain", True, 1, False, 32768),
}


def test_list_configs_names_table1_and_table2():
    table2 = [f"G-{g}/D-{d}" for g in ARCHITECTURES for d in ARCHITECTURES]
    assert variants.list_configs() == (*TABLE1, *table2)


@pytest.mark.parametrize("name", list(TABLE1))
def test_table1_presets(name):
    cfg = variants.get_config(name)
    g_arch, d_arch, style_block, growing, r1_interval, has_pl, fmap_base = TABLE1[name]
    assert (cfg.name, cfg.g_arch, cfg.d_arch, cfg.style_block, cfg.growing) == (
        name, g_arch, d_arch, style_block, growing)
    assert (cfg.r1_interval, cfg.pl_weight > 0, cfg.fmap_base) == (r1_interval, has_pl, fmap_base)
    assert cfg.resolution == 1024 and cfg.style_mixing_prob == 0.9 and cfg.pl_interval == 4


def test_layer_family_follows_the_official_network_code():
    # official: run_training.py (TF StyleGAN2): config-a trains networks_stylegan.py's G_style and D_basic
    families = {name: variants.get_config(name).layer_family for name in variants.list_configs()}
    assert {name for name, family in families.items() if family == "stylegan"} == {"A", "A-large"}
    assert variants.get_config("E").ema_rampup is None  # the paper's EMA: no ramp-up
    assert variants.get_config("E", ema_rampup=0.05).ema_rampup == 0.05


def test_table2_presets_are_config_e_with_architectures_varied():
    base = variants.get_config("E")
    for g_arch in ARCHITECTURES:
        for d_arch in ARCHITECTURES:
            cfg = variants.get_config(f"G-{g_arch}/D-{d_arch}")
            assert cfg == base.replace(name=cfg.name, g_arch=g_arch, d_arch=d_arch)


def test_channel_rule_per_resolution():
    e, f = variants.get_config("E"), variants.get_config("F")
    resolutions = (4, 8, 16, 32, 64, 128, 256, 512, 1024)
    assert [e.channels_at(r) for r in resolutions] == [512, 512, 512, 512, 256, 128, 64, 32, 16]
    assert [f.channels_at(r) for r in resolutions] == [512, 512, 512, 512, 512, 256, 128, 64, 32]
    quarter = e.replace(width_multiplier=0.25)
    assert [quarter.channels_at(r) for r in resolutions] == [128, 128, 128, 128, 64, 32, 16, 8, 4]
    assert e.replace(width_multiplier=1 / 1024).channels_at(1024) == 1  # never below one map
    assert e.replace(resolution=64).resolutions == (4, 8, 16, 32, 64)


def test_growing_schedule_defaults_follow_the_official_tables():
    cfg = variants.get_config("A")
    assert cfg.growing_start_res == 8 and cfg.growing_phase_kimg == 600
    batches = {r: variants.schedule_value(cfg.growing_batch_by_res, r) for r in (8, 16, 32, 64, 1024)}
    assert batches == {8: 256, 16: 128, 32: 64, 64: 32, 1024: 32}
    lrs = [variants.schedule_value(cfg.growing_lr_by_res, r) for r in (8, 64, 128, 256, 512, 1024)]
    assert lrs == [0.001, 0.001, 0.0015, 0.002, 0.003, 0.003]


@pytest.mark.parametrize("name", variants.list_configs())
def test_json_round_trip_is_exact(name):
    cfg = variants.get_config(name, content_height=384, resolution=512, conv_clamp=256.0,
                              adam_betas=(0.1, 0.9))
    text = cfg.to_json()
    back = variants.Config.from_json(text)
    assert back == cfg and back.to_json() == text
    assert isinstance(back.adam_betas, tuple) and isinstance(back.growing_batch_by_res[0], tuple)
    assert json.loads(text)["name"] == name


def test_replace_returns_new_validated_config():
    cfg = variants.get_config("E")
    small = cfg.replace(resolution=64, width_multiplier=0.5)
    assert (small.resolution, small.width_multiplier, cfg.resolution) == (64, 0.5, 1024)
    assert variants.get_config("E", resolution=64, width_multiplier=0.5) == small
    with pytest.raises(ValueError, match="power of two"):
        cfg.replace(resolution=100)


def test_unknown_field_lists_valid_fields():
    message = r"unknown Config field\(s\) \['resolutoin'\] \(did you mean 'resolution'\?\); known: name, "
    with pytest.raises(TypeError, match=message):
        variants.get_config("E", resolutoin=64)
    with pytest.raises(TypeError, match="known: name, g_arch"):
        variants.get_config("E").replace(bogus=1)
    with pytest.raises(TypeError, match="known: name, g_arch"):
        variants.Config.from_dict({"name": "x", "bogus": 1})


def test_unknown_config_lists_known_ones():
    with pytest.raises(KeyError, match="unknown config 'G'; known configs: A, B, C, D, E, F, A-large"):
        variants.get_config("G")


def test_frozen_and_keyword_only():
    cfg = variants.get_config("E")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.resolution = 64
    with pytest.raises(TypeError):
        variants.Config("E")


@pytest.mark.parametrize(("overrides", "message"), [
    (dict(g_arch="stylish"), r"g_arch must be one of 'original', 'skip', 'residual', got 'stylish'"),
    (dict(d_arch="resnet"), r"d_arch must be one of 'original', 'skip', 'residual', got 'resnet'"),
    (dict(style_block="pixelnorm"), r"style_block must be one of 'adain', 'demod', got 'pixelnorm'"),
    (dict(impl="cuda"), r"impl must be one of 'ref', 'fused', 'auto', got 'cuda'"),
    (dict(growing=True), r"progressive growing needs g_arch='original' and d_arch='original'"),
    (dict(g_arch="original", d_arch="original", growing=True, growing_start_res=2048),
     r"growing_start_res=2048 must lie in \[4, resolution=1024\]"),
    (dict(content_height=2000), r"content_height=2000 must be an even number of rows"),
    (dict(width_multiplier=0.0), r"width_multiplier must be > 0"),
    (dict(style_mixing_prob=1.5), r"style_mixing_prob must lie in \[0, 1\]"),
    (dict(growing_lr_by_res=((64, 0.1), (8, 0.2))), r"strictly increasing resolutions"),
    (dict(layer_family="progan"), r"layer_family must be one of 'stylegan2', 'stylegan', got 'progan'"),
    (dict(layer_family="stylegan"), r"layer_family='stylegan' \(networks_stylegan.py\) exists only for "
                                    r"style_block='adain' with g_arch='original' and d_arch='original'"),
    (dict(ema_rampup=0.0), r"ema_rampup must be > 0 or None \(off\), got 0.0"),
])
def test_invalid_values_and_combinations_raise_clearly(overrides, message):
    with pytest.raises(ValueError, match=message):
        variants.get_config("E", **overrides)


def test_growing_with_skip_generator_is_rejected_naming_the_archs():
    with pytest.raises(ValueError, match=r"got g_arch='skip', d_arch='original'"):
        variants.get_config("A", g_arch="skip")
