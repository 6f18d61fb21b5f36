"""Official StyleGAN2 hyper-parameters -> variants.Config, and official networks -> registry networks.

Which official constructor argument sets which Config field (stylegan2-ada-pytorch
`training/networks.py`; stylegan3 `training/networks_stylegan2.py` is the same network):

| official | Config |
|---|---|
| z_dim, w_dim, img_resolution | z_dim, w_dim, resolution |
| synthesis architecture 'orig' / 'skip' / 'resnet' | g_arch 'original' / 'skip' / 'residual' |
| D architecture 'orig' / 'skip' / 'resnet' | d_arch 'original' / 'skip' / 'residual' |
| channel_base, channel_max (channels min(base // res, max)) | fmap_base, fmap_max, width_multiplier 1 |
| mapping num_layers, layer_features (None = w_dim) | mapping_layers, mapping_width |
| mapping lr_multiplier, w_avg_beta | mapping_lr_mult, w_avg_beta |
| epilogue mbstd_group_size, mbstd_num_channels | mbstd_group, mbstd_channels |
| conv_clamp | conv_clamp |
| img_channels (3, or 1 for grayscale) | img_channels |
Always: style_block 'demod', growing False. Refused, naming the field: c_dim > 0 (conditional),
img_channels other than 1 and 3 (or D's differing from G's), another architecture name,
mbstd_group_size None, w_avg_beta None, and (read from the objects) activations other than lrelu,
layers without noise, another FIR filter.
num_fp16_res only chooses float16 arithmetic on GPUs; the registry computes in float32.
"""

from __future__ import annotations

import numpy as np

import variants
from harness.official.names import registry_state
from harness.official.unpickler import OfficialPickleError, PersistentObject

ARCHITECTURES = {"orig": "original", "skip": "skip", "resnet": "residual"}
OFFICIAL_ARCHITECTURES = {registry: official for official, registry in ARCHITECTURES.items()}
# SynthesisNetwork's and Discriminator's defaults (both official repositories agree on these two).
DEFAULT_CHANNEL_BASE, DEFAULT_CHANNEL_MAX = 32768, 512


def _refuse(network: str, field: str, value, why: str):
    raise OfficialPickleError(f"official {network} has {field}={value!r}: {why}; the registry cannot "
                              f"represent it, so it is not imported")


def _architecture(network: str, value) -> str:
    if value not in ARCHITECTURES:
        _refuse(network, "architecture", value, f"the registry knows {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[value]


def _check_plain(network: str, c_dim, img_channels) -> None:
    if c_dim != 0:
        _refuse(network, "c_dim", c_dim, "conditional (class-label) networks are not in the registry")
    if img_channels not in (1, 3):
        _refuse(network, "img_channels", img_channels, "registry networks make RGB or grayscale images")


def generator_config(*, z_dim: int, w_dim: int, img_resolution: int, c_dim: int = 0, img_channels: int = 3,
                     architecture: str = "skip", channel_base: int = DEFAULT_CHANNEL_BASE,
                     channel_max: int = DEFAULT_CHANNEL_MAX, conv_clamp: float | None = None,
                     num_layers: int = 8, layer_features: int | None = None, lr_multiplier: float = 0.01,
                     w_avg_beta: float | None = 0.995, name: str = "official") -> variants.Config:
    """The Config of the official Generator built with these (official-named) arguments."""
    _check_plain("G", c_dim, img_channels)
    if w_avg_beta is None:
        _refuse("G", "w_avg_beta", None, "the registry always tracks w_avg for truncation")
    cfg = variants.Config(
        name=name, g_arch=_architecture("G", architecture), style_block="demod", growing=False,
        resolution=img_resolution, fmap_base=channel_base, fmap_max=channel_max, width_multiplier=1.0,
        z_dim=z_dim, w_dim=w_dim, mapping_layers=num_layers, mapping_width=layer_features or w_dim,
        mapping_lr_mult=float(lr_multiplier), w_avg_beta=float(w_avg_beta), conv_clamp=conv_clamp,
        img_channels=img_channels)
    _check_widths("G", cfg, channel_base, channel_max)
    return cfg


def discriminator_config(base: variants.Config, *, img_resolution: int, c_dim: int = 0, img_channels: int = 3,
                         architecture: str = "resnet", channel_base: int = DEFAULT_CHANNEL_BASE,
                         channel_max: int = DEFAULT_CHANNEL_MAX, conv_clamp: float | None = None,
                         mbstd_group_size: int | None = 4, mbstd_num_channels: int = 1) -> variants.Config:
    """`base` (the generator's Config) with the D fields of the official Discriminator's arguments."""
    _check_plain("D", c_dim, img_channels)
    if img_resolution != base.resolution:
        _refuse("D", "img_resolution", img_resolution, f"G makes {base.resolution}px images")
    if img_channels != base.img_channels:
        _refuse("D", "img_channels", img_channels, f"G makes {base.img_channels}-channel images")
    if mbstd_group_size is None:
        _refuse("D", "mbstd_group_size", None, "the registry's minibatch-std groups have a fixed size")
    cfg = base.replace(d_arch=_architecture("D", architecture), fmap_base=channel_base, fmap_max=channel_max,
                       conv_clamp=conv_clamp, mbstd_group=mbstd_group_size, mbstd_channels=mbstd_num_channels)
    _check_widths("D", cfg, channel_base, channel_max)
    return cfg


def _check_widths(network: str, cfg: variants.Config, channel_base: int, channel_max: int) -> None:
    """The official widths min(channel_base // res, channel_max) must be the registry's channels_at."""
    for res in cfg.resolutions:
        official = min(channel_base // res, channel_max)
        if official != cfg.channels_at(res):
            _refuse(network, "channel_base", channel_base,
                    f"it gives {official} channels at {res}x{res}, the registry {cfg.channels_at(res)}")


# Reading the arguments back from the pickled objects -----------------------------------------------

def _uniform(network: str, objects: list[PersistentObject], name: str):
    """The one value of attribute `name` shared by all `objects`; refused when they differ."""
    values = {repr(obj.attr(name)): obj.attr(name) for obj in objects}
    if len(values) != 1:
        _refuse(network, name, [values[key] for key in sorted(values)],
                "its layers differ and the registry uses one value")
    return next(iter(values.values()))


def _check_layers(network: str, layers: list[PersistentObject]) -> None:
    if _uniform(network, layers, "activation") != "lrelu":
        _refuse(network, "activation", layers[0].attr("activation"), "the registry uses leaky ReLU")


def _plain(settings: dict) -> dict:
    """numpy scalars read from the pickle as Python numbers (JSON-ready)."""
    return {key: value.item() if isinstance(value, np.generic) else value for key, value in settings.items()}


def generator_settings(G: PersistentObject) -> dict:
    """generator_config's arguments, read from a pickled official Generator (attributes, not defaults)."""
    mapping, synthesis = G.child("mapping"), G.child("synthesis")
    blocks = [synthesis.child(f"b{res}") for res in synthesis.attr("block_resolutions")]
    extra = sorted(set(synthesis.children()) - {f"b{b.attr('resolution')}" for b in blocks})
    if extra:
        _refuse("G", "synthesis layers", extra, "not StyleGAN2 synthesis blocks (a StyleGAN3 network?)")
    convs = [blk.child(name) for blk in blocks for name in ("conv0", "conv1") if name in blk.children()]
    _check_layers("G", convs)
    if not all(conv.attr("use_noise") for conv in convs):
        _refuse("G", "use_noise", False, "every registry style layer has a noise input")
    fcs = [mapping.child(f"fc{i}") for i in range(mapping.attr("num_layers"))]
    _check_layers("G mapping", fcs)
    kwargs = synthesis.init_kwargs
    return _plain(dict(
        z_dim=G.attr("z_dim"), w_dim=G.attr("w_dim"), c_dim=G.attr("c_dim"),
        img_resolution=G.attr("img_resolution"), img_channels=G.attr("img_channels"),
        architecture=_uniform("G", blocks, "architecture"), conv_clamp=_uniform("G", convs, "conv_clamp"),
        channel_base=kwargs.get("channel_base", DEFAULT_CHANNEL_BASE),
        channel_max=kwargs.get("channel_max", DEFAULT_CHANNEL_MAX),
        num_layers=len(fcs), layer_features=fcs[0].state_dict()["weight"].shape[0] if len(fcs) > 1 else None,
        lr_multiplier=_uniform("G mapping", fcs, "bias_gain"), w_avg_beta=mapping.attr("w_avg_beta")))


def discriminator_settings(D: PersistentObject) -> dict:
    """discriminator_config's arguments, read from a pickled official Discriminator."""
    blocks = [D.child(f"b{res}") for res in D.attr("block_resolutions")]
    epilogue = D.child("b4")
    convs = [blk.child(name) for blk in blocks for name in ("fromrgb", "conv0", "conv1")
             if name in blk.children()]
    _check_layers("D", convs + [epilogue.child("conv")])
    mbstd = epilogue.children().get("mbstd")
    kwargs = D.init_kwargs
    return _plain(dict(
        img_resolution=D.attr("img_resolution"), c_dim=D.attr("c_dim"), img_channels=D.attr("img_channels"),
        architecture=_uniform("D", blocks + [epilogue], "architecture"),
        conv_clamp=_uniform("D", convs, "conv_clamp"),
        channel_base=kwargs.get("channel_base", DEFAULT_CHANNEL_BASE),
        channel_max=kwargs.get("channel_max", DEFAULT_CHANNEL_MAX),
        mbstd_group_size=mbstd.attr("group_size") if mbstd else 4,
        mbstd_num_channels=mbstd.attr("num_channels") if mbstd else 0))


def fp16_resolutions(obj: PersistentObject) -> list[int]:
    """Resolutions whose blocks the official network runs in float16 on GPUs (num_fp16_res)."""
    blocks = obj.child("synthesis").children() if "synthesis" in obj.children() else obj.children()
    return sorted(b.attr("resolution") for b in blocks.values()
                  if isinstance(b, PersistentObject) and b.state.get("use_fp16"))


# Official objects -> registry networks ------------------------------------------------------------

def convert_generator(G: PersistentObject, *, name: str = "official") -> variants.Generator:
    """A registry Generator holding the official Generator's weights (eval mode, on CPU)."""
    if G.class_name != "Generator":
        _refuse("G", "class", G.class_name, "expected the official Generator")
    cfg = generator_config(**generator_settings(G), name=name)
    net = variants.build_generator(cfg)
    net.load_state_dict(registry_state(net, G.state_dict()))
    return net.eval()


def convert_discriminator(D: PersistentObject, base: variants.Config) -> variants.Discriminator:
    """A registry Discriminator holding the official Discriminator's weights; `base`: G's Config."""
    if D.class_name != "Discriminator":
        _refuse("D", "class", D.class_name, "expected the official Discriminator")
    cfg = discriminator_config(base, **discriminator_settings(D))
    net = variants.build_discriminator(cfg)
    net.load_state_dict(registry_state(net, D.state_dict()))
    return net.eval()
