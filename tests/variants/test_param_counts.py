"""Parameter counts at 1024x1024 against the paper's footnote (E: G 25M, D 24M; F: 30M, 29M)."""

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
