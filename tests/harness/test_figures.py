"""The report's figures render the same bytes from the same results."""

import numpy as np

from harness import figures

SPEED = {"img_per_s": {"A": [230.0, 234.0, 235.0], "E": [199.0, 200.0, 201.0]}, "device": "cpu"}


def test_a_jittered_strip_plot_renders_the_same_bytes_whatever_numpys_rng_holds():
    np.random.seed(1)
    first = figures.speed_rounds(SPEED)
    np.random.seed(2)
    assert figures.speed_rounds(SPEED) == first and first.startswith(figures.PNG_SIGNATURE)


def test_rendering_leaves_the_callers_random_stream_where_it_was():
    np.random.seed(3)
    expected = np.random.random()
    np.random.seed(3)
    figures.speed_rounds(SPEED)
    assert np.random.random() == expected
