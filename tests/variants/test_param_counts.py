"""Parameter counts at 1024x1024: the paper's footnote (E: G 25M, D 24M; F: 30M, 29M) and StyleGAN (A)."""

import pytest
import torch

import variants

PAPER_MILLIONS = {"E": (25.0, 24.0), "F": (30.0, 29.0)}


def count_parameters(module: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


@pytest.mark.parametrize("name", list(PAPER_MILLIONS))
def test_parameter_counts_match_the_paper(name):
    cfg = variants.get_config(name)
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        G, D = variants.build_generator(cfg), variants.build_discriminator(cfg)
    paper_g, paper_d = PAPER_MILLIONS[name]
    assert count_parameters(G) / 1e6 == pytest.approx(paper_g, rel=0.03)
    assert count_parameters(D) / 1e6 == pytest.approx(paper_d, rel=0.03)


def test_large_networks_add_about_five_million_each():
    counts = {}
    for name in ("E", "F"):
        with torch.device("meta"):
            cfg = variants.get_config(name)
            counts[name] = (count_parameters(variants.build_generator(cfg)),
                            count_parameters(variants.build_discriminator(cfg)))
    assert 4.5e6 < counts["F"][0] - counts["E"][0] < 6e6
    assert 4.5e6 < counts["F"][1] - counts["E"][1] < 6e6


def official_stylegan_counts(fmap_base: int, log2_res: int = 10, w_dim: int = 512) -> tuple[int, int]:
    """Trainable parameters of the official StyleGAN G_style and D_basic (training/networks_stylegan.py).

    nf(stage) = min(fmap_base / 2^stage, 512); 8 mapping layers; every synthesis layer has a noise
    weight [C], a bias [C] and a style dense layer w_dim -> 2C; ToRGB and FromRGB exist at every
    level 4x4 .. R (the 'recursive' growing structure builds all of them).
    """
    def nf(stage):
        return min(fmap_base // 2 ** stage, 512)
    levels = range(3, log2_res + 1)
    layer_channels = [nf(1), nf(1)] + [nf(res - 1) for res in levels for _ in range(2)]
    g = 8 * (w_dim * w_dim + w_dim) + nf(1) * 16  # mapping, constant
    g += sum(2 * c + 2 * c * w_dim + 2 * c for c in layer_channels)  # noise, bias, style per layer
    g += 9 * nf(1) ** 2 + sum(9 * nf(res - 2) * nf(res - 1) + 9 * nf(res - 1) ** 2 for res in levels)
    g += sum(3 * nf(res - 1) + 3 for res in range(2, log2_res + 1))  # ToRGB
    d = sum(4 * nf(res - 1) for res in range(2, log2_res + 1))  # FromRGB
    d += sum(9 * nf(res - 1) ** 2 + nf(res - 1) + 9 * nf(res - 1) * nf(res - 2) + nf(res - 2)
             for res in levels)  # Conv0, Conv1_down
    d += 9 * (nf(1) + 1) * nf(1) + nf(1) + 16 * nf(1) * nf(0) + nf(0) + nf(0) + 1  # 4x4 epilogue
    return g, d


# Official StyleGAN at 1024 (config A: fmap_base 8192; A-large: 16384), computed as above.
OFFICIAL_STYLEGAN = {"A": (26_219_627, 23_087_249), "A-large": (31_952_571, 27_801_889)}
# Built but never used when growing starts at 8x8: the 4x4 ToRGB (512 * 3 + 3) and FromRGB (3 * 512 + 512).
UNUSED_4X4_RGB_LAYERS = (1539, 2048)


@pytest.mark.parametrize("name", list(OFFICIAL_STYLEGAN))
def test_config_a_matches_the_official_stylegan_parameter_count(name):
    fmap_base = {"A": 8192, "A-large": 16384}[name]  # official fmap_base is half the registry's
    assert official_stylegan_counts(fmap_base) == OFFICIAL_STYLEGAN[name]
    with torch.device("meta"):
        cfg = variants.get_config(name)
        G, D = variants.build_generator(cfg), variants.build_discriminator(cfg)
    official_g, official_d = OFFICIAL_STYLEGAN[name]
    assert count_parameters(G) == official_g - UNUSED_4X4_RGB_LAYERS[0]
    assert count_parameters(D) == official_d - UNUSED_4X4_RGB_LAYERS[1]
