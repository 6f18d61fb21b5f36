"""Improved precision and recall (Kynkaanniemi et al. 2019), batched so 50k x 50k fits in bounded memory.

Each set's manifold is the union of hyperspheres around its points with radius the distance to the
k-th nearest neighbour (the (k+1)-th smallest distance, as the point itself is at 0). Precision = share
of generated samples inside the real manifold; recall = share of real samples inside the generated one.
Distances are compared squared (same order, no square roots); peak memory is row_batch x col_batch.

Two arithmetics (`precision=`):
- 'official': the float16 arithmetic of the code the paper's numbers came from (TF StyleGAN2
  metrics/precision_recall.py): features enter as float16 (its float16 placeholders), the squared
  distances |u|^2 - 2 u.v + |v|^2 are computed op by op in float16 (squares, norms, the matmul with
  float32 accumulation as on the GPU, each sum rounded to float16), the k-th neighbour radii are taken
  from and kept in float16, and the comparison is float16 against float16. (stylegan2-ada-pytorch
  metrics/precision_recall.py also rounds features to float16 but takes Euclidean, not squared,
  float16 distances from torch.cdist; its radii are float16 too.)
- 'exact': float64 throughout.
"""

from typing import Literal, get_args

import numpy as np
import torch

from common.options import check_choice
from harness.metrics.metric import Metric, register_metric

Precision = Literal["official", "exact"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
# official: stylegan2-ada-pytorch metrics/metric_main.py, pr50k3_full reads at most 200,000 reals.
PR_MAX_REAL = 200_000


def _round16(tensor: torch.Tensor) -> torch.Tensor:
    """Round to the nearest float16 (overflow -> inf), kept as float32 so every device computes it."""
    return tensor.half().float()


def _as_tensor(features, device, precision: str) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    if tensor.ndim != 2:
        raise ValueError(f"features must be [N, D], got shape {list(tensor.shape)}")
    if precision == "official":  # official: TF metrics/precision_recall.py, float16 feature placeholders
        return _round16(tensor.to(device=device, dtype=torch.float32))
    return tensor.to(device=device, dtype=torch.float64)


def squared_norms(features: torch.Tensor, precision: str) -> torch.Tensor:
    """|x|^2 [N]; 'official': float16 squares summed with float32 accumulation, rounded to float16."""
    if precision == "official":
        return _round16(_round16(features.square()).sum(dim=1))
    return features.square().sum(dim=1)


def squared_distances(rows: torch.Tensor, rows_sq: torch.Tensor, cols: torch.Tensor, cols_sq: torch.Tensor,
                      precision: str) -> torch.Tensor:
    """||r - c||^2 [R, C] as |r|^2 - 2 r.c + |c|^2 (the official op order), clamped at 0."""
    if precision == "official":  # official: TF metrics/precision_recall.py, batch_pairwise_distances
        products = _round16(2.0 * _round16(rows @ cols.T))
        return _round16(_round16(rows_sq[:, None] - products) + cols_sq[None, :]).clamp_(min=0)
    return (rows_sq[:, None] - 2.0 * rows @ cols.T + cols_sq[None, :]).clamp_(min=0)


def _distance_blocks(queries: torch.Tensor, points: torch.Tensor, batch_size: int, precision: str):
    """Yield (row_start, col_start, squared distances [R, C]) over batch_size x batch_size blocks."""
    query_norms, point_norms = squared_norms(queries, precision), squared_norms(points, precision)
    for start in range(0, len(queries), batch_size):
        stop = start + batch_size
        for col_start in range(0, len(points), batch_size):
            col_stop = col_start + batch_size
            yield start, col_start, squared_distances(queries[start:stop], query_norms[start:stop],
                                                      points[col_start:col_stop],
                                                      point_norms[col_start:col_stop], precision)


def kth_neighbour_radii(features: torch.Tensor, k: int, batch_size: int,
                        precision: str = "exact") -> torch.Tensor:
    """Squared distance [N] from each point to its k-th nearest other point in the same set (the point
    itself is among the candidates, at distance ~0, as in the official code)."""
    if len(features) <= k:
        raise ValueError(f"need more than k={k} samples to find k-th neighbours, got {len(features)}")
    radii = torch.empty(len(features), dtype=features.dtype, device=features.device)
    best = None  # the k+1 smallest squared distances of the current rows seen so far, [R, k+1]
    for start, col_start, block in _distance_blocks(features, features, batch_size, precision):
        candidates = block if col_start == 0 else torch.cat([best, block], dim=1)
        best = candidates.topk(min(k + 1, candidates.shape[1]), dim=1, largest=False).values
        if col_start + batch_size >= len(features):  # last column block of these rows
            radii[start:start + len(best)] = best[:, k]
    return radii


def manifold_coverage(manifold: torch.Tensor, radii: torch.Tensor, queries: torch.Tensor, batch_size: int,
                      precision: str = "exact") -> float:
    """Share of `queries` [Q, D] within the radius of some `manifold` point ([M, D]; radii [M] squared)."""
    hit = torch.zeros(len(queries), dtype=torch.bool, device=queries.device)
    for start, col_start, block in _distance_blocks(queries, manifold, batch_size, precision):
        inside = (block <= radii[None, col_start:col_start + block.shape[1]]).any(dim=1)
        hit[start:start + len(block)] |= inside
    return int(hit.sum()) / len(queries)


@torch.no_grad()
def precision_recall(real_features, fake_features, k: int = 3, *, batch_size: int = 10000,
                     device: torch.device | str | None = None,
                     precision: str = "exact") -> tuple[float, float]:
    """(precision, recall) of fake vs real features ([N, D], [M, D]; numpy arrays or tensors).

    `precision`: 'exact' (float64) or 'official' (the TF StyleGAN2 float16 arithmetic, see the module
    docstring); memory ~ batch_size^2 numbers.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    check_choice("precision", precision, PRECISIONS)
    device = torch.device(device) if device is not None else torch.device("cpu")
    real = _as_tensor(real_features, device, precision)
    fake = _as_tensor(fake_features, device, precision)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: real {real.shape[1]}, fake {fake.shape[1]}")
    real_radii = kth_neighbour_radii(real, k, batch_size, precision)
    fake_radii = kth_neighbour_radii(fake, k, batch_size, precision)
    return (manifold_coverage(real, real_radii, fake, batch_size, precision),
            manifold_coverage(fake, fake_radii, real, batch_size, precision))


@register_metric("pr", higher_is_better=True, features="vgg16", max_real=PR_MAX_REAL,
                 reports=("precision", "recall"))
class PrecisionRecall(Metric):
    """Reals and generated samples as features [N, D]; value = precision, recall recorded beside it."""

    parts = ("precision", "recall")

    def protocol(self, options, count: int | None) -> dict:
        return {"pr_k": options.pr_k, "pr_precision": options.pr_precision}

    def score(self, real, fake, options, repeat: int) -> dict:
        precision, recall = precision_recall(real["features"], fake, k=options.pr_k, device=options.device,
                                             precision=options.pr_precision)
        return {"value": precision, "precision": precision, "recall": recall}
