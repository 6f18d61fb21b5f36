"""Stopping a run that diverged: NaN/Inf in a loss, a gradient norm or a network's weights.

A step's losses and gradient norms are checked after every minibatch; the weights of G, D and G_ema
(parameters and buffers) before every snapshot and checkpoint, so that no non-finite network is
saved as a result (an `ema_kimg` of NaN, say, poisons G_ema while every loss stays finite).
"""

from pathlib import Path

import torch

from harness.rundir import RunDir


class NonFiniteError(RuntimeError):
    """A loss, gradient or weight became NaN or Inf; the message names the step and the quantity."""


def _kept(run_dir: Path) -> str:
    checkpoint = RunDir(run_dir).checkpoint_path
    return (f"the last good checkpoint is kept at {checkpoint}" if checkpoint.exists()
            else "no checkpoint had been written yet")


def check_finite(values: dict[str, torch.Tensor], step: int, images_shown: int, run_dir: Path) -> None:
    """Raise NonFiniteError naming the first NaN/Inf loss or gradient norm of this step."""
    if not values or bool(torch.isfinite(torch.stack([v.float() for v in values.values()])).all()):
        return
    name, value = next((k, v) for k, v in values.items() if not bool(torch.isfinite(v)))
    raise NonFiniteError(f"training stopped: {name} is {float(value)} at step {step} (after {images_shown} "
                         f"images); {_kept(run_dir)}. Lower the learning rate or R1 gamma, or check the "
                         f"data.")


def check_networks_finite(networks: dict[str, torch.nn.Module], images_shown: int, run_dir: Path) -> None:
    """Raise NonFiniteError naming the network and tensor holding the first NaN/Inf value.

    One fused reduction per network first (torch._foreach_norm: a NaN or Inf anywhere makes a
    norm non-finite), so the usual all-finite case needs one host sync per network.
    """
    for net_name, net in networks.items():
        named = [(name, tensor.detach()) for name, tensor in (*net.named_parameters(), *net.named_buffers())
                 if tensor.is_floating_point()]
        if not named or bool(torch.isfinite(torch.stack(torch._foreach_norm([t for _, t in named]))).all()):
            continue
        bad = [(name, int((~torch.isfinite(t)).sum())) for name, t in named]
        bad = [(name, count) for name, count in bad if count]
        if not bad:  # a norm overflowed on large but finite weights
            continue
        raise NonFiniteError(
            f"training stopped: {net_name} has {sum(count for _, count in bad)} non-finite weight(s) after "
            f"{images_shown} images (first in {bad[0][0]}); {_kept(run_dir)}, and nothing was saved from "
            f"this point. Check the options (ema_kimg, lr, adam_betas) or lower the learning rate.")
