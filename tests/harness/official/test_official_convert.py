"""Official hyper-parameters -> Config, the name mapping, and parity with the official code's outputs.

The parity cases (../shared/parity, see its README.md) hold official networks' weights and the
outputs the official code computed from them; here they go through the same name mapping and
Config rules import-official uses, in eval mode with constant noise and the reference ops.
"""

import json

import pytest
import torch
from safetensors.torch import load_file

import variants
from harness.official.convert import (
    convert_discriminator,
    convert_generator,
    discriminator_config,
    generator_config,
)
from harness.official.names import NameMappingError, official_names, official_state, registry_state
from harness.official.unpickler import OfficialPickleError, PersistentObject, load_official_pickle
from tests.harness.official.conftest import small_networks
from tests.harness.official.official_format import official_pickle_bytes

ABS_TOLERANCE = 1e-5  # images, ws and logits (issue 12)
REL_TOLERANCE = 1e-5  # R1


def _case_configs(parity_dir, case: dict):
    """The registry Configs of one parity case, from the official constructor arguments it lists."""
    built = json.loads((parity_dir / "cases.json").read_text())["construction"]
    shared = {key: built[key] for key in ("img_resolution", "c_dim", "img_channels", "channel_base",
                                          "channel_max", "conv_clamp")}
    g_cfg = generator_config(z_dim=built["z_dim"], w_dim=built["w_dim"], architecture=case["G_architecture"],
                             num_layers=built["mapping_kwargs"]["num_layers"], **shared)
    return g_cfg, discriminator_config(g_cfg, architecture=case["D_architecture"],
                                       mbstd_group_size=built["mbstd_group_size"], **shared)


def _official_networks(parity_dir, case: dict):
    """(G, D, fixture tensors) with the case's official weights loaded through registry_state."""
    tensors = load_file(parity_dir / case["file"])
    _, cfg = _case_configs(parity_dir, case)
    G, D = variants.build_generator(cfg, impl="ref"), variants.build_discriminator(cfg, impl="ref")
    for net, prefix in ((G, "G."), (D, "D.")):
        official = {name[len(prefix):]: t for name, t in tensors.items() if name.startswith(prefix)}
        net.load_state_dict(registry_state(net, official))
    return G.eval(), D.eval(), tensors


def _outputs(G, D, z, img_for_d):
    """ws, images at psi 1 and 0.5, D logits and R1's per-sample squared gradient norm."""
    with torch.no_grad():
        ws = G.mapping(z)
        img = G.synthesis(ws, noise_mode="const")
        img_psi = G.synthesis(G.mapping(z, psi=0.5), noise_mode="const")
    x = img_for_d.detach().clone().requires_grad_(True)
    logits = D(x)
    (grad,) = torch.autograd.grad(logits.sum(), x)
    return ws, img, img_psi, logits.detach(), grad.square().sum(dim=[1, 2, 3])


def assert_matches_official(ours: dict, expected: dict) -> dict:
    """Max abs error per output (relative for R1) within tolerance; returns the errors."""
    errors = {}
    for key, value in ours.items():
        reference = expected[key]
        if key.endswith("R1_sq_grad_norm"):
            errors[key] = ((value - reference).abs() / reference.abs()).max().item()
            assert errors[key] <= REL_TOLERANCE, f"{key}: relative error {errors[key]:.2e}"
        else:
            errors[key] = (value - reference).abs().max().item()
            assert errors[key] <= ABS_TOLERANCE, f"{key}: max abs error {errors[key]:.2e}"
    return errors


def _cases(parity_dir):
    return json.loads((parity_dir / "cases.json").read_text())["cases"]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["Gskip_Dresnet", "Gorig_Dorig", "Gresnet_Dskip"])
def test_official_weights_reproduce_the_official_outputs(parity_dir, index):
    case = _cases(parity_dir)[index]
    G, D, tensors = _official_networks(parity_dir, case)
    assert sum(p.numel() for p in G.parameters()) == case["G_params"]
    assert sum(p.numel() for p in D.parameters()) == case["D_params"]
    ws, img, img_psi, logits, r1 = _outputs(G, D, tensors["in.z"], tensors["out.img"])
    assert_matches_official({"out.ws": ws, "out.img": img, "out.img_psi0.5": img_psi, "out.D_logits": logits,
                             "out.R1_sq_grad_norm": r1}, tensors)


def test_parity_needs_the_official_kernel_orientation(parity_dir):
    # Loading the up-sampling kernels mirrored (what a flip_weight=True convention needs) breaks parity.
    G, D, tensors = _official_networks(parity_dir, _cases(parity_dir)[0])
    with torch.no_grad():
        for block in G.synthesis.blocks[1:]:
            block.layers[0].weight.copy_(block.layers[0].weight.flip([2, 3]))
    _, img, _, _, _ = _outputs(G, D, tensors["in.z"], tensors["out.img"])
    assert (img - tensors["out.img"]).abs().max() > 1e-2


def test_case_configs_have_the_official_widths(parity_dir):
    g_cfg, d_cfg = _case_configs(parity_dir, _cases(parity_dir)[0])
    assert [g_cfg.channels_at(r) for r in (4, 8, 16, 32)] == [64, 64, 32, 16]  # min(512 // r, 64)
    assert (d_cfg.fmap_base, d_cfg.fmap_max, d_cfg.width_multiplier, d_cfg.mbstd_group) == (512, 64, 1.0, 4)
    assert (g_cfg.g_arch, d_cfg.d_arch, g_cfg.style_block) == ("skip", "residual", "demod")
    assert not g_cfg.growing
    assert (g_cfg.mapping_width, g_cfg.mapping_lr_mult, g_cfg.w_avg_beta) == (64, 0.01, 0.995)


@pytest.mark.parametrize("change, field", [
    (dict(c_dim=10), "c_dim=10"), (dict(img_channels=2), "img_channels=2"),
    (dict(architecture="stylegan3"), "architecture='stylegan3'"), (dict(w_avg_beta=None), "w_avg_beta=None"),
    (dict(channel_base=64), "channel_base=64"),  # 0 channels at 128x128: the registry keeps 1
])
def test_generator_structures_the_registry_cannot_build_are_refused(change, field):
    args = dict(z_dim=8, w_dim=8, img_resolution=128) | change
    with pytest.raises(OfficialPickleError, match=f"official G has {field}.*cannot represent"):
        generator_config(**args)


@pytest.mark.parametrize("change, field", [
    (dict(c_dim=3), "c_dim=3"), (dict(mbstd_group_size=None), "mbstd_group_size=None"),
    (dict(architecture="vit"), "architecture='vit'"), (dict(img_resolution=64), "img_resolution=64"),
    (dict(img_channels=1), "img_channels=1.*G makes 3-channel images"),
])
def test_discriminator_structures_the_registry_cannot_build_are_refused(change, field):
    base = generator_config(z_dim=8, w_dim=8, img_resolution=32)
    with pytest.raises(OfficialPickleError, match=f"official D has {field}"):
        discriminator_config(base, **(dict(img_resolution=32) | change))


def test_name_mapping_is_one_to_one_and_covers_every_tensor():
    for g_arch, d_arch in (("skip", "residual"), ("original", "original"), ("residual", "skip")):
        for net in small_networks(g_arch, d_arch):
            names = official_names(net)
            assert len(set(names.values())) == len(names) == len(net.state_dict())
            assert registry_state(net, official_state(net)).keys() == net.state_dict().keys()
    G, D = small_networks("residual", "skip")
    names = official_names(G) | official_names(D)
    assert names["synthesis.blocks.0.layers.0.noise.strength"] == "synthesis.b4.conv1.noise_strength"
    assert names["synthesis.blocks.1.layers.0.weight"] == "synthesis.b8.conv0.weight"
    assert names["synthesis.blocks.2.skip.weight"] == "synthesis.b16.skip.weight"
    assert names["mapping.layers.1.bias"] == "mapping.fc1.bias"
    assert names["blocks.0.fromrgb.weight"] == "b16.fromrgb.weight"
    assert names["epilogue.fc.bias"] == "b4.fc.bias"


def test_mismatched_official_tensors_are_reported_by_name():
    G, _ = small_networks()
    official = official_state(G)
    with pytest.raises(NameMappingError, match=r"no place for: \['mapping.embed.weight'\]"):
        registry_state(G, official | {"mapping.embed.weight": torch.ones(16, 4)})
    with pytest.raises(NameMappingError, match=r"absent from the official network: \['mapping.w_avg'\]"):
        registry_state(G, {k: v for k, v in official.items() if k != "mapping.w_avg"})
    reshaped = r"shapes differ \(official vs registry\): \['mapping.fc0.weight \[2, 2\] vs mapping.layers.0"
    with pytest.raises(NameMappingError, match=reshaped):
        registry_state(G, official | {"mapping.fc0.weight": torch.ones(2, 2)})
    with pytest.raises(NameMappingError, match="not the \\[1, 3, 3, 1\\] FIR filter"):
        registry_state(G, official | {"synthesis.b8.resample_filter": torch.ones(2, 2) / 4})
    adain = variants.build_generator(variants.Config(style_block="adain", resolution=8, fmap_base=64))
    with pytest.raises(NameMappingError, match="no official StyleGAN2 PyTorch counterpart"):
        official_names(adain)


def _official_objects(tmp_path, edit=None):
    G, D = small_networks()
    path = tmp_path / "net.pkl"
    path.write_bytes(official_pickle_bytes({"G_ema": G, "D": D}, edit=edit))
    return load_official_pickle(path)


def _set(where, **values):
    def edit(path, attrs):
        if path == where:
            attrs.update(values)
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set((), c_dim=10), "official G has c_dim=10"),
    (_set(("synthesis", "b8", "conv0"), activation="relu"), r"official G has activation=\['lrelu', 'relu'\]"),
    (_set(("synthesis", "b8", "conv1"), use_noise=False), "official G has use_noise=False"),
    (_set(("mapping",), w_avg_beta=None), "official G has w_avg_beta=None"),
])
def test_settings_are_read_from_the_pickled_objects(tmp_path, edit, message):
    objects = _official_objects(tmp_path, edit)
    with pytest.raises(OfficialPickleError, match=message):
        convert_generator(objects["G_ema"])


def test_a_network_with_foreign_synthesis_layers_is_refused(tmp_path):
    objects = _official_objects(tmp_path)
    synthesis = objects["G_ema"].child("synthesis")
    synthesis.state["_modules"]["input"] = PersistentObject("SynthesisInput", {})  # as in StyleGAN3
    with pytest.raises(OfficialPickleError, match="synthesis layers=\\['input'\\].*StyleGAN3"):
        convert_generator(objects["G_ema"])
    with pytest.raises(OfficialPickleError, match="expected the official Discriminator"):
        convert_discriminator(objects["G_ema"], variants.Config())


@pytest.mark.parametrize("img_channels", [3, 1])
def test_converted_networks_compute_what_the_written_ones_do(tmp_path, img_channels):
    G, D = small_networks("original", "skip", img_channels=img_channels)
    path = tmp_path / "orig.pkl"
    path.write_bytes(official_pickle_bytes({"G_ema": G, "D": D}))
    objects = load_official_pickle(path)
    G2 = convert_generator(objects["G_ema"])
    D2 = convert_discriminator(objects["D"], G2.config)
    G2.set_impl("ref")
    D2.set_impl("ref")
    z = torch.randn(4, G.z_dim)
    torch.testing.assert_close(G2(z, noise_mode="const"), G(z, noise_mode="const"), rtol=0, atol=0)
    assert G2.config.img_channels == D2.config.img_channels == img_channels
    img = torch.randn(4, img_channels, 16, 16)
    torch.testing.assert_close(D2(img), D(img), rtol=0, atol=0)
