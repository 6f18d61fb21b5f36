"""Losses and regularisers of StyleGAN2 training (SPEC.md section 3); pure functions of nets and tensors.

- Non-saturating logistic loss (Goodfellow et al. 2014): G minimises softplus(-D(G(z))),
  D minimises softplus(D(G(z))) + softplus(-D(x)).
- R1 (Mescheder et al. 2018): (gamma / 2) * E[||grad_x D(x)||^2] on reals.
- Path length (paper Eq. 4): E_{w,y}(||J_w^T y||_2 - a)^2, y ~ N(0, I) / sqrt(H * W),
  a an exponential moving average of the lengths.
- Style mixing (StyleGAN, Section 3.1): with probability p, layers from a random crossover on take
  their w from a second latent.
"""

import math

import torch
import torch.nn.functional as F

import variants


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating G loss: mean softplus(-D(G(z))). fake_logits: [N, 1] -> scalar."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic D loss: mean softplus(D(G(z))) + mean softplus(-D(x)). [N, 1] each -> scalar."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """||grad_x D(x)||^2 per sample, differentiable w.r.t. D's parameters.

    real_logits: [N, 1] computed from real_images [N, C, H, W] (which must require grad) -> [N].
    The R1 loss is (gamma / 2) * mean of this (times the lazy interval).
    """
    (gradients,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return gradients.square().sum(dim=(1, 2, 3))


def path_lengths(images: torch.Tensor, ws: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """||J_w^T y|| per sample, with J_w^T y = grad_w sum(g(w) * y).

    images: g(ws) [N, C, H, W]; ws: [N, num_ws, w_dim] (requires grad); noise: y [N, C, H, W],
    already scaled by 1 / sqrt(H * W). The squared norm is summed over w_dim and averaged over the
    num_ws layers (as in the official code, where every layer receives the same w) -> [N].
    """
    (gradients,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
    return gradients.square().sum(dim=2).mean(dim=1).sqrt()


def path_length_noise(images_shape, generator: torch.Generator, device) -> torch.Tensor:
    """y ~ N(0, I) of the images' shape [N, C, H, W], scaled by 1 / sqrt(H * W)."""
    height, width = images_shape[-2:]
    return torch.randn(images_shape, generator=generator, device=device) / math.sqrt(height * width)


def path_length_penalty(lengths: torch.Tensor, pl_mean: torch.Tensor, decay: float):
    """(penalty [N], new pl_mean): the EMA a <- a + decay * (mean(lengths) - a), then (length - a)^2.

    lengths: [N] from `path_lengths`; pl_mean: scalar tensor (the running a; not modified).
    """
    new_mean = pl_mean.lerp(lengths.detach().mean(), decay)
    return (lengths - new_mean).square(), new_mean


def sample_ws(mapping, z: torch.Tensor, z_mix: torch.Tensor, mix_draw: torch.Tensor, *,
              num_ws: int, mixing_prob: float, active_ws: int | None = None,
              update_w_avg: bool = False) -> torch.Tensor:
    """ws [N, num_ws, w_dim] for latents z [N, z_dim] with style mixing.

    mix_draw: two uniform numbers [2] in [0, 1) drawn by the caller (so every config consumes its
    random stream alike): the first decides whether to mix (< mixing_prob), the second picks the
    crossover layer in [1, active_ws), active_ws (default num_ws) being the ws the synthesis network
    uses while growing (variants.growing.active_ws; official: training/networks_stylegan2.py (TF
    StyleGAN2) G_main style mixing over cur_layers). Layers >= crossover take their w from z_mix
    [N, z_dim]; w_avg is updated from z's ws only.
    """
    ws = mapping(z, update_w_avg=update_w_avg)
    active = num_ws if active_ws is None else active_ws
    if not 1 <= active <= num_ws:
        raise ValueError(f"active_ws must lie in [1, num_ws={num_ws}], got {active_ws}")
    if active < 2 or float(mix_draw[0]) >= mixing_prob:
        return ws
    crossover = 1 + min(int(float(mix_draw[1]) * (active - 1)), active - 2)
    return variants.mix_styles(ws, mapping(z_mix, update_w_avg=False), crossover)
