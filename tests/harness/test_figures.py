"""The report's figures: the same bytes from the same results, and axes a reader can read."""

import numpy as np
import pandas as pd

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


def test_log_axis_labels_minor_ticks_only_within_one_decade():
    """FID from 500 to 3000 has one major tick (1000), so its minor ticks carry the labels; precision
    from 0.004 to 0.6 spans two decades, where labelled minor ticks overlapped."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter

    figure, (narrow, wide) = plt.subplots(1, 2)
    try:
        figures.log_y_axis(narrow, pd.Series([500.0, 3000.0]))
        figures.log_y_axis(wide, pd.Series([0.004, 0.6]))
        assert narrow.get_yscale() == wide.get_yscale() == "log"
        assert isinstance(narrow.yaxis.get_minor_formatter(), FormatStrFormatter)
        assert not isinstance(wide.yaxis.get_minor_formatter(), FormatStrFormatter)
        assert isinstance(wide.yaxis.get_major_formatter(), FormatStrFormatter)
    finally:
        plt.close(figure)
