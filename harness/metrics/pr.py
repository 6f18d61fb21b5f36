"""Improved precision and recall (Kynkaanniemi et al. 2019), batched so 50k x 50k fits in bounded memory.

Each set's manifold is the union of hyperspheres around its points with radius the distance to the
k-th nearest neighbour (the (k+1)-th smallest distance, as the point itself is at 0). Precision = share
of generated samples inside the real manifold; recall = share of real samples inside the generated one.
Distances are compared squared (same order, no square roots); peak memory is row_batch x col_batch.
"""

import numpy as np
import torch

HIGHER_IS_BETTER = True


def _as_tensor(features, device, dtype) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    if tensor.ndim != 2:
        raise ValueError(f"features must be [N, D], got shape {list(tensor.shape)}")
    return tensor.to(device=device, dtype=dtype)


def _squared_distances(rows: torch.Tensor, cols: torch.Tensor, cols_sq: torch.Tensor) -> torch.Tensor:
    """||r - c||^2 [R, C] via |r|^2 + |c|^2 - 2 r.c, clamped at 0 against round-off."""
    rows_sq = rows.square().sum(dim=1, keepdim=True)
    return (rows_sq + cols_sq[None, :] - 2.0 * rows @ cols.T).clamp_(min=0)


def kth_neighbour_radii(features: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Squared distance [N] from each point to its k-th nearest other point in the same set."""
    if len(features) <= k:
        raise ValueError(f"need more than k={k} samples to find k-th neighbours, got {len(features)}")
    squared_norms = features.square().sum(dim=1)
    radii = torch.empty(len(features), dtype=features.dtype, device=features.device)
    for start in range(0, len(features), batch_size):
        rows = features[start:start + batch_size]
        best = None  # the k+1 smallest squared distances seen so far, [R, k+1]
        for col_start in range(0, len(features), batch_size):
            cols = features[col_start:col_start + batch_size]
            block = _squared_distances(rows, cols, squared_norms[col_start:col_start + batch_size])
            candidates = block if best is None else torch.cat([best, block], dim=1)
            best = candidates.topk(min(k + 1, candidates.shape[1]), dim=1, largest=False).values
        radii[start:start + len(rows)] = best[:, k]
    return radii


def manifold_coverage(manifold: torch.Tensor, radii: torch.Tensor, queries: torch.Tensor,
                      batch_size: int) -> float:
    """Share of `queries` [Q, D] within the radius of some `manifold` point ([M, D]; radii [M] squared)."""
    squared_norms = manifold.square().sum(dim=1)
    inside = 0
    for start in range(0, len(queries), batch_size):
        rows = queries[start:start + batch_size]
        hit = torch.zeros(len(rows), dtype=torch.bool, device=rows.device)
        for col_start in range(0, len(manifold), batch_size):
            cols = manifold[col_start:col_start + batch_size]
            block = _squared_distances(rows, cols, squared_norms[col_start:col_start + batch_size])
            hit |= (block <= radii[None, col_start:col_start + batch_size]).any(dim=1)
        inside += int(hit.sum())
    return inside / len(queries)


@torch.no_grad()
def precision_recall(real_features, fake_features, k: int = 3, *, batch_size: int = 10000,
                     device: torch.device | str | None = None) -> tuple[float, float]:
    """(precision, recall) of fake vs real features ([N, D], [M, D]; numpy arrays or tensors).

    Computed in float64 when either input is float64, else float32; memory ~ batch_size^2 numbers.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    inputs = (real_features, fake_features)
    is_double = any(getattr(f, "dtype", None) in (np.float64, torch.float64) for f in inputs)
    dtype = torch.float64 if is_double else torch.float32
    device = torch.device(device) if device is not None else torch.device("cpu")
    real = _as_tensor(real_features, device, dtype)
    fake = _as_tensor(fake_features, device, dtype)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: real {real.shape[1]}, fake {fake.shape[1]}")
    precision = manifold_coverage(real, kth_neighbour_radii(real, k, batch_size), fake, batch_size)
    recall = manifold_coverage(fake, kth_neighbour_radii(fake, k, batch_size), real, batch_size)
    return precision, recall
