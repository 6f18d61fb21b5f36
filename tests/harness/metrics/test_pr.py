"""Precision and recall (Kynkaanniemi et al. 2019) on point sets with known answers."""

import numpy as np
import pytest
import torch

from harness.metrics import precision_recall
from harness.metrics.pr import kth_neighbour_radii


def _coverage_by_definition(manifold, queries, k):
    distances = np.linalg.norm(manifold[:, None] - manifold[None], axis=2)
    radii = np.sort(distances, axis=1)[:, k]  # index 0 is the point itself
    to_manifold = np.linalg.norm(queries[:, None] - manifold[None], axis=2)
    return float(np.mean((to_manifold <= radii[None]).any(axis=1)))


def _line(n):
    return np.stack([np.arange(n, dtype=np.float64), np.zeros(n)], axis=1)


def test_kth_neighbour_radius_excludes_the_point_itself():
    radii = kth_neighbour_radii(torch.tensor(_line(10)), k=3, batch_size=4)
    # Squared distances: an end point's 3rd neighbour is 3 away, a middle point's is 2 away.
    assert radii[0].item() == 9 and radii[9].item() == 9
    assert radii[5].item() == 4


def test_precision_and_recall_on_a_constructed_set():
    real = _line(10)  # points 0..9 on the x axis; radii 3 at the ends, 2 in the middle (k = 3)
    fake = np.array([[4.5, 0.0], [5.0, 1.5], [30.0, 0.0], [0.0, 10.0]])
    # Inside: (4.5, 0) and (5, 1.5) (1.5 <= 2); outside: the two far points -> precision 2/4.
    # With 4 fake points and k = 3 each radius is the distance to the farthest other fake point
    # (25.5 for (4.5, 0)), which covers every real point -> recall 1.
    assert precision_recall(real, fake, k=3) == (0.5, 1.0)
    # k = 1: (4.5, 0) covers reals 3..6 (radius 1.58); (30, 0) has radius 25.04 (to (5, 1.5)) and
    # covers reals 5..9; (0, 10) covers none -> reals 3..9, recall 7/10.
    assert precision_recall(real, fake, k=1)[1] == pytest.approx(7 / 10)


def test_matches_definition_on_random_sets_and_is_batch_size_invariant():
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((60, 5)), rng.standard_normal((50, 5)) * 1.3 + 0.4
    expected = (_coverage_by_definition(real, fake, 3), _coverage_by_definition(fake, real, 3))
    assert precision_recall(real, fake, k=3) == pytest.approx(expected)
    assert precision_recall(real, fake, k=3, batch_size=7) == pytest.approx(expected)
    as_tensors = precision_recall(torch.tensor(real), torch.tensor(fake), k=3, batch_size=16)
    assert as_tensors == pytest.approx(expected)


def test_identical_sets_and_far_apart_sets():
    points = np.random.default_rng(1).standard_normal((40, 3)).astype(np.float32)
    assert precision_recall(points, points) == (1.0, 1.0)
    assert precision_recall(points, points + 100.0) == (0.0, 0.0)


def test_mode_collapse_keeps_precision_and_loses_recall():
    real = np.random.default_rng(2).standard_normal((200, 2))
    collapsed = real[real[:, 0] > 1.0]  # the generator covers only one side of the real set
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.5


def test_errors():
    with pytest.raises(ValueError, match="dimensions differ"):
        precision_recall(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="more than k=3"):
        precision_recall(np.zeros((3, 2)), np.zeros((5, 2)))


def _float16_reference(real, fake, k=3):
    """The TF StyleGAN2 arithmetic written out in numpy: float16 features; |u|^2 - 2 u.v + |v|^2 with
    float16 squares, float32-accumulated sums and matmul rounded to float16, float16 adds; float16 radii."""
    f16 = np.float16

    def distances(u, v):
        norm_u = np.square(u).astype(np.float32).sum(1).astype(f16)
        norm_v = np.square(v).astype(np.float32).sum(1).astype(f16)
        products = (u.astype(np.float32) @ v.astype(np.float32).T).astype(f16)
        return np.maximum(norm_u[:, None] - f16(2) * products + norm_v[None, :], f16(0))

    real, fake = real.astype(f16), fake.astype(f16)
    real_radii = np.partition(distances(real, real), k, axis=1)[:, k]
    fake_radii = np.partition(distances(fake, fake), k, axis=1)[:, k]
    return (float((distances(fake, real) <= real_radii[None]).any(1).mean()),
            float((distances(real, fake) <= fake_radii[None]).any(1).mean()))


def _dyadic_sets(seed):
    # Multiples of 1/8 below 8 in 8-d: every float32 sum is exact, so only the float16 roundings differ.
    rng = np.random.default_rng(seed)
    return rng.integers(0, 64, (60, 8)) / 8, rng.integers(0, 64, (50, 8)) / 8 + 0.25


@pytest.mark.parametrize("seed", [0, 13])
def test_official_precision_matches_a_float16_reference_and_exact_a_float64_one(seed):
    real, fake = _dyadic_sets(seed)
    assert precision_recall(real, fake, precision="official", batch_size=16) == _float16_reference(real, fake)
    expected = (_coverage_by_definition(real, fake, 3), _coverage_by_definition(fake, real, 3))
    assert precision_recall(real, fake, precision="exact", batch_size=16) == expected


def test_the_two_precisions_differ_where_float16_rounding_moves_a_radius():
    real, fake = _dyadic_sets(13)
    official, exact = (precision_recall(real, fake, precision=p) for p in ("official", "exact"))
    assert official[1] == pytest.approx(55 / 60) and exact[1] == pytest.approx(54 / 60)


def test_unknown_precision_is_named():
    with pytest.raises(ValueError, match="precision must be one of"):
        precision_recall(np.zeros((5, 2)), np.zeros((5, 2)), precision="half")
