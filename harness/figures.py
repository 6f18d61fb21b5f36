"""The report's figures: seaborn/matplotlib plots rendered to PNG bytes for data: URIs.

Every function takes the loader's DataFrames and returns PNG bytes, or None when the data it
needs was not measured (the report then says so). Figures are drawn on `matplotlib.figure.Figure`
objects with the Agg canvas (no pyplot, no global backend or style state).
"""

import base64
import io
import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, FuncFormatter, MaxNLocator

from harness.cells import cell_label, in_paper_order
from harness.findings import figure8_runs, run_shares
from harness.rundir import RunDir, reported_fields
from harness.verdicts import t_interval

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DPI = 90


def data_uri(png: bytes) -> str:
    """PNG bytes -> 'data:image/png;base64,...' (raises ValueError for anything but a PNG)."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("data_uri expects PNG bytes (missing PNG signature)")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_file_uri(path: Path | str) -> str | None:
    """A run's PNG (sample grid, real-image grid) as a data: URI; None when missing or not a PNG."""
    path = Path(path)
    if not path.is_file():
        return None
    png = path.read_bytes()
    return data_uri(png) if png.startswith(PNG_SIGNATURE) else None


def _new_figure(width: float, height: float, rows: int = 1, columns: int = 1):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    return figure, axes


def _to_png(figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


@contextmanager
def _style():
    """The report's plot style, with numpy's global RNG (seaborn's strip-plot jitter) held at one
    seed and restored after: the same results render to the same bytes."""
    import seaborn as sns

    state = np.random.get_state()
    np.random.seed(0)
    try:
        with sns.axes_style("whitegrid"):
            yield
    finally:
        np.random.set_state(state)


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def figure8_areas(results: pd.DataFrame, stats: pd.DataFrame) -> bytes | None:
    """Figure 8: stacked per-resolution ToRGB shares (percent) over training, (a) E and (b) F."""
    import seaborn as sns

    runs = figure8_runs(results)  # the first training seed's run of each configuration
    panels = [(config, run_shares(stats, runs[config][0])) for config in ("E", "F") if runs.get(config)]
    panels = [(config, shares) for config, shares in panels if not shares.empty]
    if not panels:
        return None
    with _style():
        figure, axes = _new_figure(4.2 * len(panels), 3.2, 1, len(panels))
        for ax, (config, shares) in zip(axes[0], panels, strict=True):
            resolutions = list(shares.columns[1:])
            ax.stackplot(
                shares["kimg"].to_numpy(dtype=float),
                [100 * shares[res].to_numpy(dtype=float) for res in resolutions],
                labels=[f"{res}x{res}" for res in resolutions],
                colors=sns.color_palette("mako", len(resolutions)),
            )
            ax.set(
                title=f"config {config}",
                xlabel="training progress (kimg)",
                ylabel="contribution (%)",
                ylim=(0, 100),
            )
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            ax.legend(title="resolution", fontsize="small", loc="upper left", reverse=True)
        return _to_png(figure)


def metric_bars(cells: pd.DataFrame, table: str, metrics=("fid", "ppl")) -> bytes | None:
    """Bars of each metric per configuration from harness.cells.summarize_cells, one panel per
    metric x dataset column: the mean over training seeds, error bars the 95% CI over seeds (with
    one seed, the std of the metric's repeated evaluations)."""
    import seaborn as sns

    if cells.empty:
        return None
    cells = cells[cells["table"] == table]
    panels = []
    for metric in metrics:
        if metric not in cells:
            continue
        for column, group in cells.groupby("column", sort=False):
            measured = group[group[metric].map(_finite)]
            if not measured.empty:
                panels.append((metric, column, measured))
    if not panels:
        return None
    with _style():
        figure, axes = _new_figure(4.0 * len(panels), 3.4, 1, len(panels))
        for ax, (metric, column, measured) in zip(axes[0], panels, strict=True):
            labels = [cell_label(cell) for _, cell in measured.iterrows()]
            values = measured[metric].astype(float).to_numpy()
            errors = [ci if _finite(ci) else std for ci, std in
                      zip(measured[f"{metric}_ci95"], measured[f"{metric}_eval_std"], strict=True)]
            errors = np.array([error if _finite(error) else 0.0 for error in errors], dtype=float)
            sns.barplot(x=labels, y=values, hue=labels, palette="crest", legend=False, ax=ax)
            ax.errorbar(range(len(values)), values, yerr=errors, fmt="none", ecolor="black", capsize=3)
            ax.set(title=f"{metric.upper()} on {column}", ylabel=metric.upper())
            ax.tick_params(axis="x", labelrotation=60 if table == "table2" else 0, labelsize="small")
        return _to_png(figure)


def _curve_points(metric_rows: pd.DataFrame) -> pd.DataFrame:
    """[run, metric, snapshot_kimg, value]: one point per quantity a row reports (harness.rundir.
    reported_fields: precision and recall out of the 'pr' rows); the latest row of each (run,
    quantity, snapshot)."""
    points = [{"run": row.get("run"), "metric": name, "snapshot_kimg": row.get("snapshot_kimg"),
               "value": row.get(value)}
              for row in metric_rows.to_dict("records")
              for name, (value, _, _) in reported_fields(row).items()]
    points = pd.DataFrame(points, columns=["run", "metric", "snapshot_kimg", "value"])
    points = points.dropna(subset=["snapshot_kimg", "value"])
    points = points[points["value"].map(_finite)]
    return points.drop_duplicates(["run", "metric", "snapshot_kimg"], keep="last")


def _config_order(results: pd.DataFrame) -> list[str]:
    """Configurations in the paper's order: Table 1's rows, then Table 2's, then the rest."""
    return list(dict.fromkeys(in_paper_order(results)["config"].dropna()))


def training_curves(metric_rows: pd.DataFrame, results: pd.DataFrame) -> bytes | None:
    """Every metric that some run measured at two or more snapshots, against kimg: one panel per
    (metric, dataset column), one thin line per run (each training seed its own line), coloured by
    configuration; log scale where every value is positive."""
    import seaborn as sns

    if metric_rows.empty or "metric" not in metric_rows or results.empty:
        return None
    runs = results.drop_duplicates("run").set_index("run")[["config", "column"]]
    points = _curve_points(metric_rows).merge(runs, left_on="run", right_index=True)
    snapshots = points.groupby(["run", "metric"])["snapshot_kimg"].transform("nunique")
    points = points[snapshots >= 2].astype({"value": float, "snapshot_kimg": float})
    if points.empty:
        return None
    metrics, columns = list(dict.fromkeys(points["metric"])), list(dict.fromkeys(points["column"]))
    configs = _config_order(results)
    palette = dict(zip(configs, sns.color_palette("husl", len(configs)), strict=True))
    with _style():
        figure, axes = _new_figure(3.3 * len(columns) + 1.6, 2.6 * len(metrics), len(metrics), len(columns))
        for (row, metric), (col, column) in ((m, c) for m in enumerate(metrics) for c in enumerate(columns)):
            ax, panel = axes[row][col], points[(points["metric"] == metric) & (points["column"] == column)]
            if not panel.empty:
                sns.lineplot(data=panel.sort_values("snapshot_kimg"), x="snapshot_kimg", y="value",
                             hue="config", units="run", estimator=None, palette=palette, linewidth=0.9,
                             marker=".", legend=False, ax=ax)
                if (panel["value"] > 0).all():
                    log_y_axis(ax, panel["value"])
            ax.set(title=f"{metric.upper() if metric in ('fid', 'kid', 'ppl') else metric} on {column}",
                   xlabel="training images (kimg)", ylabel=metric)
        handles = [Line2D([], [], color=palette[config], label=config) for config in configs
                   if config in set(points["config"])]
        figure.legend(handles=handles, loc="outside right upper", fontsize="small", title="configuration")
        return _to_png(figure)


def log_y_axis(ax, values: pd.Series) -> None:
    """A log y axis labelled in plain numbers (2900, not 2.9x10^3). Minor ticks are labelled by how
    many decades the values span: all of them within half a decade (where they are the only labels),
    those at 2x, 3x and 5x a power of ten within two, none beyond (closer labels overlap in a
    panel a few inches high)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    decades = math.log10(values.max() / values.min()) if values.min() > 0 else math.inf
    leading = range(1, 10) if decades < 0.5 else (2, 3, 5) if decades < 2 else ()
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: _minor_label(value, leading)))


def _minor_label(value: float, leading) -> str:
    """`value` as %g when its leading digit is in `leading`, else no label."""
    digit = round(value / 10 ** math.floor(math.log10(value))) if value > 0 else 0
    return f"{value:g}" if digit in leading else ""


def speed_rounds(speed: dict | None) -> bytes | None:
    """img/s per timing round of each configuration in speed.json (dots) with the mean and its 95%
    t-interval over rounds (bar and error bar)."""
    import seaborn as sns

    rounds = (speed or {}).get("img_per_s") or {}
    if not rounds:
        return None
    configs = list(rounds)
    data = pd.DataFrame([(config, float(value)) for config in configs for value in rounds[config]],
                        columns=["config", "img/s"])
    intervals = [t_interval(rounds[config]) for config in configs]
    with _style():
        figure, axes = _new_figure(1.2 + 0.9 * len(configs), 3.2)
        ax = axes[0][0]
        ax.bar(range(len(configs)), [mean for mean, _, _ in intervals], color="#cfd8dc",
               yerr=[half or 0.0 for _, half, _ in intervals], capsize=4)
        sns.stripplot(data=data, x="config", y="img/s", order=configs, color="black", size=4, ax=ax)
        ax.set(title=f"side by side on {speed.get('device', 'one device')}", xlabel="configuration",
               ylabel="training img/s")
        return _to_png(figure)


def cost_bars(results: pd.DataFrame) -> bytes | None:
    """Training images/s and energy per thousand images (kJ) per configuration (mean over its runs)."""
    import seaborn as sns

    if results.empty:
        return None
    runs = results.drop_duplicates("run")
    order = _config_order(results)  # A-F, A-large, then Table 2
    panels = []
    for column, label, scale in (
        ("img_per_s", "training img/s", 1.0),
        ("energy_j_per_kimg", "kJ / kimg", 1e-3),
    ):
        if column in runs:
            measured = runs[runs[column].map(_finite)]
            if not measured.empty:
                means = measured.groupby("config")[column].mean().reindex(order).dropna() * scale
                panels.append((label, means))
    if not panels:
        return None
    with _style():
        figure, axes = _new_figure(4.5 * len(panels), 0.5 + 0.28 * len(order), 1, len(panels))
        for ax, (label, means) in zip(axes[0], panels, strict=True):
            names = list(means.index)
            sns.barplot(x=means.to_numpy(), y=names, hue=names, palette="flare", legend=False, ax=ax)
            ax.set(title=label, xlabel=label, ylabel="")
            ax.tick_params(axis="y", labelsize="small")
        return _to_png(figure)


def droplet_figure(results: pd.DataFrame, stats: pd.DataFrame) -> bytes | None:
    """The droplet statistic over training per run, coloured AdaIN vs demod (Fig. 1's artifact)."""
    import seaborn as sns

    if stats.empty or "droplet" not in stats or results.empty or "config_style_block" not in results:
        return None
    blocks = results.drop_duplicates("run").set_index("run")[["config_style_block", "config"]]
    ticks = stats.dropna(subset=["droplet"]).merge(blocks, left_on="run", right_index=True, how="inner")
    ticks = ticks[ticks["config_style_block"].isin(["adain", "demod"])]
    if ticks.empty:
        return None
    final = ticks.groupby("run", sort=False).tail(1)
    with _style():
        figure, axes = _new_figure(9.0, 3.4, 1, 2)
        sns.lineplot(
            data=ticks,
            x="kimg",
            y="droplet",
            hue="config_style_block",
            units="run",
            estimator=None,
            ax=axes[0][0],
        )
        axes[0][0].set(
            title="droplet statistic over training",
            xlabel="kimg",
            ylabel="share of |activation| in top 1% pixels",
        )
        sns.stripplot(
            data=final,
            x="config_style_block",
            y="droplet",
            hue="config_style_block",
            size=8,
            legend=False,
            ax=axes[0][1],
            order=["adain", "demod"],
        )
        axes[0][1].set(title="at the end of training", xlabel="style block", ylabel="droplet statistic")
        for ax in axes[0]:
            ax.ticklabel_format(axis="y", useOffset=False)  # a flat curve must not read "1e-7+5.42e-2"
        return _to_png(figure)


def ppl_histograms(results: pd.DataFrame) -> bytes | None:
    """Figure 5: histograms of per-image path lengths with and without path length regularisation."""
    import seaborn as sns

    if results.empty or "ppl_distances_file" not in results:
        return None
    frames = []
    table1 = results[results["table"] == "table1"] if "table" in results else results
    for _, run in table1.drop_duplicates("run").iterrows():  # Figure 5 contrasts Table 1's configs
        path = run.get("ppl_distances_file")
        if not isinstance(path, str) or not Path(path).is_file():
            continue
        distances = np.load(path, allow_pickle=False).astype(float).ravel()
        distances = distances[np.isfinite(distances)]
        if distances.size == 0:
            continue
        low, high = np.percentile(distances, [1, 99])  # the metric drops the same tails
        weight = run.get("config_pl_weight")
        regularised = "with path length reg." if _finite(weight) and weight > 0 else "without"
        kept = distances[(distances >= low) & (distances <= high)]
        frames.append(pd.DataFrame({"path length": kept, "configs": regularised}))
    if not frames:
        return None
    data = pd.concat(frames, ignore_index=True)
    with _style():
        figure, axes = _new_figure(6.0, 3.4)
        sns.histplot(
            data=data,
            x="path length",
            hue="configs",
            stat="density",
            common_norm=False,
            element="step",
            ax=axes[0][0],
        )
        axes[0][0].set(title="per-image path length of Table 1's runs (Figure 5)")
        return _to_png(figure)


def _heatmap_runs(results: pd.DataFrame) -> list[tuple[str, Path]]:
    """One AdaIN and one demod run with feature maps, preferring Table 1's A and B."""
    chosen = []
    if results.empty or "config_style_block" not in results:
        return chosen
    ordered = results.drop_duplicates("run").sort_values(
        by="config", key=lambda configs: configs.map({"A": 0, "B": 1}).fillna(2)
    )
    for block in ("adain", "demod"):
        for _, run in ordered[ordered["config_style_block"] == block].iterrows():
            path = RunDir(str(run.get("run_dir"))).figure(RunDir.FEATURE_MAPS)
            if path.is_file():
                chosen.append((f"{run['config']} ({block})", path))
                break
    return chosen


def feature_map_heatmaps(results: pd.DataFrame, max_maps: int = 4) -> bytes | None:
    """Figure 1-style heat maps of mean |activation| of an AdaIN and a demod generator's feature maps."""
    import seaborn as sns

    runs = [(label, np.load(path, allow_pickle=False)) for label, path in _heatmap_runs(results)]
    runs = [(label, maps if maps.ndim == 3 else maps[None]) for label, maps in runs if maps.ndim in (2, 3)]
    if not runs:
        return None
    columns = min(max_maps, max(maps.shape[0] for _, maps in runs))
    with _style():
        figure, axes = _new_figure(2.4 * columns, 2.4 * len(runs), len(runs), columns)
        for row, (label, maps) in enumerate(runs):
            for index in range(columns):
                ax = axes[row][index]
                ax.set_axis_off()
                if index < maps.shape[0]:
                    sns.heatmap(
                        maps[index],
                        cmap="magma",
                        cbar=False,
                        square=True,
                        xticklabels=False,
                        yticklabels=False,
                        ax=ax,
                    )
                    ax.set_title(f"{label} map {index}", fontsize="small")
        return _to_png(figure)
