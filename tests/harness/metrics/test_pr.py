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
