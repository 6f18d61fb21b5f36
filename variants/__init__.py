"""Interchangeable StyleGAN / StyleGAN2 networks selectable by name, and the paper's configurations.

    cfg = variants.get_config("E", resolution=64, width_multiplier=0.25)
    G, D = variants.build_generator(cfg), variants.build_discriminator(cfg)
    img = G(torch.randn([4, G.z_dim]))          # [4, 3, 64, 64]
    logits = D(img)                              # [4, 1]

Modules: configs (Config, presets), layers, style_blocks, generators, discriminators,
growing (progressive growing), serialization (safetensors + JSON); the networks register in
common.registry.Registry tables (GENERATORS, DISCRIMINATORS, STYLE_BLOCKS).
"""

from common.registry import Registry, UnknownNameError
from variants.configs import PRESETS, Config, field_names, get_config, list_configs
from variants.discriminators import DISCRIMINATORS, Discriminator, build_discriminator, list_discriminators
from variants.generators import (
                                     GENERATORS,
                                     Generator,
                                     SynthesisTrace,
                                     build_generator,
                                     crop_to_content,
                                     list_generators,
                                     mix_styles,
)
from variants.growing import Growth, growth_at, schedule_value
from variants.layers import set_impl
from variants.serialization import load_network, load_weights, save_network
from variants.style_blocks import STYLE_BLOCKS

__all__ = [
    "Config", "PRESETS", "field_names", "get_config", "list_configs",
    "Generator", "GENERATORS", "SynthesisTrace", "build_generator", "list_generators", "mix_styles",
    "crop_to_content",
    "Discriminator", "DISCRIMINATORS", "build_discriminator", "list_discriminators",
    "Growth", "growth_at", "schedule_value", "set_impl",
    "Registry", "UnknownNameError", "STYLE_BLOCKS",
    "save_network", "load_network", "load_weights",
]

# Every network module is imported above; later registrations are refused (docs/architecture.md).
for _registry in (GENERATORS, DISCRIMINATORS, STYLE_BLOCKS):
    _registry.freeze()
