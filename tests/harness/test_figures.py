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


def test_log_axis_labels_minor_ticks_by_the_decades_spanned():
    """FID from 500 to 1400 may have no major tick, so all its minor ticks carry labels; from 250 to
    2600 labelling all overlapped (1000 beside 900, 800, 700) and matplotlib's default wrote some as
    3x10^2, so only 2x, 3x and 5x are labelled, in plain numbers; precision from 0.004 to 0.6 spans
    two decades, where labelled minor ticks overlapped."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter

    figure, (narrow, middle, wide) = plt.subplots(1, 3)
    try:
        figures.log_y_axis(narrow, pd.Series([500.0, 1400.0]))
        figures.log_y_axis(middle, pd.Series([250.0, 2600.0]))
        figures.log_y_axis(wide, pd.Series([0.004, 0.6]))
        assert narrow.get_yscale() == middle.get_yscale() == wide.get_yscale() == "log"
        minor = [ax.yaxis.get_minor_formatter() for ax in (narrow, middle, wide)]
        assert [minor[0](value) for value in (600.0, 700.0, 900.0)] == ["600", "700", "900"]
        labels = [minor[1](value) for value in (300.0, 400.0, 500.0, 900.0, 2000.0)]
        assert labels == ["300", "", "500", "", "2000"]
        assert [minor[2](value) for value in (0.002, 0.02, 0.05, 0.3)] == ["", "", "", ""]
        assert isinstance(wide.yaxis.get_major_formatter(), FormatStrFormatter)
    finally:
        plt.close(figure)
