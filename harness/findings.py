"""The seven findings of SPEC.md section 6, each judged from the results store.

Each finding is a small function of the `load_results` DataFrame (one row per suite cell) and
the `load_stats` DataFrame (one row per training tick) returning a `Finding`: reproduced / not
reproduced / not measured, with an evidence string quoting the numbers it used. A finding made of
several claims is reproduced only when every claim holds; any claim that fails makes it "not
reproduced"; otherwise a claim without data makes it "not measured".
"""

import math
from dataclasses import dataclass

import pandas as pd

from harness.published import combined_std

REPRODUCED, NOT_REPRODUCED, NOT_MEASURED = "reproduced", "not reproduced", "not measured"
DROPLET_RATIO = 1.5  # AdaIN's droplet statistic must exceed demod's by this factor (Fig. 1)
FID_TOLERANCE = 0.10  # "about equal FID": within 10% of the baseline (or 2 combined stds)
SPEEDUP_E_OVER_A = 1.15  # "E trains about 40% faster than A": clearly faster than A
PAPER_IMG_PER_S = {"A": 37.0, "E": 61.0, "F": 31.0}  # 1024x1024 on 8 V100 (paper text)


@dataclass(frozen=True, kw_only=True)
class Finding:
    number: int
    claim: str
    status: str  # REPRODUCED | NOT_REPRODUCED | NOT_MEASURED
    evidence: str


def _combine(number: int, claim: str, parts: list[tuple[bool | None, str]]) -> Finding:
    """parts: (holds, evidence) per claim; holds None = not measured."""
    outcomes = [holds for holds, _ in parts]
    if any(holds is False for holds in outcomes):
        status = NOT_REPRODUCED
    elif any(holds is None for holds in outcomes):
        status = NOT_MEASURED
    else:
        status = REPRODUCED
    return Finding(number=number, claim=claim, status=status, evidence="; ".join(text for _, text in parts))


def _number(value) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _cells(results: pd.DataFrame, table: str, row: str, subcolumn: str | None = None) -> dict:
    """{column: cell row (a Series)} of one table row (and Table 2 D column)."""
    if results.empty:
        return {}
    mask = (results["table"] == table) & (results["row"] == row)
    if subcolumn is not None:
        mask &= results["subcolumn"] == subcolumn
    return {cell["column"]: cell for _, cell in results[mask].iterrows()}


def _pairs(results, table, row_a, row_b, metrics, subcolumns=(None, None)) -> list[tuple[str, dict, dict]]:
    """(column, a, b) for the columns where both rows have every metric in `metrics`."""
    cells_a = _cells(results, table, row_a, subcolumns[0])
    cells_b = _cells(results, table, row_b, subcolumns[1])
    pairs = []
    for column in cells_a.keys() & cells_b.keys():
        a = {metric: _number(cells_a[column].get(metric)) for metric in metrics}
        b = {metric: _number(cells_b[column].get(metric)) for metric in metrics}
        for cell, values in ((cells_a[column], a), (cells_b[column], b)):
            values["fid_std"] = _number(cell.get("fid_std"))
        if all(a[m] is not None and b[m] is not None for m in metrics):
            pairs.append((column, a, b))
    return sorted(pairs, key=lambda pair: pair[0])


def _fid_about_equal(a: dict, b: dict) -> bool:
    spread = combined_std(a.get("fid_std"), b.get("fid_std")) or 0.0
    return abs(b["fid"] - a["fid"]) <= max(FID_TOLERANCE * a["fid"], 2 * spread)


def _final_droplets(results: pd.DataFrame, stats: pd.DataFrame) -> dict[str, list[float]]:
    """{style_block: [last droplet statistic of each run]}."""
    if stats.empty or "droplet" not in stats or results.empty or "config_style_block" not in results:
        return {}
    blocks = results.drop_duplicates("run").set_index("run")["config_style_block"].to_dict()
    found: dict[str, list[float]] = {}
    for run, ticks in stats.dropna(subset=["droplet"]).groupby("run"):
        if blocks.get(run) in ("adain", "demod"):
            found.setdefault(blocks[run], []).append(float(ticks["droplet"].iloc[-1]))
    return found


def finding_1_droplets(results: pd.DataFrame, stats: pd.DataFrame) -> Finding:
    claim = "AdaIN generators show droplet artifacts; demodulation removes them (Fig. 1, 3)"
    droplets = _final_droplets(results, stats)
    if not droplets.get("adain") or not droplets.get("demod"):
        return _combine(1, claim, [(None, "droplet statistic not measured for both AdaIN and demod runs")])
    adain = sum(droplets["adain"]) / len(droplets["adain"])
    demod = sum(droplets["demod"]) / len(droplets["demod"])
    holds = adain >= DROPLET_RATIO * demod
    evidence = (
        f"mean droplet statistic AdaIN {adain:.3f} ({len(droplets['adain'])} runs) vs demod {demod:.3f} "
        f"({len(droplets['demod'])} runs); needs AdaIN >= {DROPLET_RATIO}x demod"
    )
    return _combine(1, claim, [(holds, evidence)])


def finding_2_precision_recall(results: pd.DataFrame, stats: pd.DataFrame) -> Finding:
    claim = "Demodulation shifts precision towards recall at about equal FID (Table 1, A -> B)"
    pairs = _pairs(results, "table1", "A", "B", ("fid", "precision", "recall"))
    if not pairs:
        return _combine(2, claim, [(None, "FID, precision and recall not measured for both A and B")])
    parts = []
    for column, a, b in pairs:
        holds = b["recall"] > a["recall"] and b["precision"] < a["precision"] and _fid_about_equal(a, b)
        parts.append(
            (
                holds,
                (
                    f"{column}: precision {a['precision']:.3f} -> {b['precision']:.3f}, "
                    f"recall {a['recall']:.3f} -> {b['recall']:.3f}, FID {a['fid']:.2f} -> {b['fid']:.2f}"
                ),
            )
        )
    return _combine(2, claim, parts)


def finding_3_lazy_r1(results: pd.DataFrame, stats: pd.DataFrame) -> Finding:
    claim = "Lazy R1 (every 16 minibatches) does no harm and is cheaper (Table 1, B -> C)"
    pairs = _pairs(results, "table1", "B", "C", ("fid",))
    if not pairs:
        return _combine(3, claim, [(None, "FID not measured for both B and C")])
    parts = []
    for column, b, c in pairs:
        no_harm = c["fid"] <= b["fid"] or _fid_about_equal(b, c)
        parts.append((no_harm, f"{column}: FID {b['fid']:.2f} -> {c['fid']:.2f}"))
    speed = _pairs(results, "table1", "B", "C", ("img_per_s",))
    if not speed:
        parts.append((None, "img/s not measured for both B and C"))
    for column, b, c in speed:
        parts.append(
            (
                c["img_per_s"] > b["img_per_s"],
                (f"{column}: {b['img_per_s']:.1f} -> {c['img_per_s']:.1f} img/s"),
            )
        )
    return _combine(3, claim, parts)


def finding_4_path_length(results: pd.DataFrame, stats: pd.DataFrame) -> Finding:
    claim = "Path length regularisation lowers PPL (Table 1, C -> D)"
    pairs = _pairs(results, "table1", "C", "D", ("ppl",))
    if not pairs:
        return _combine(4, claim, [(None, "PPL not measured for both C and D")])
    return _combine(
        4,
        claim,
        [(d["ppl"] < c["ppl"], f"{column}: PPL {c['ppl']:.1f} -> {d['ppl']:.1f}") for column, c, d in pairs],
    )


TABLE2_D = ("D original", "D input skips", "D residual")
TABLE2_G = ("G original", "G output skips", "G residual")


def finding_5_architectures(results: pd.DataFrame, stats: pd.DataFrame) -> Finding:
    claim = "Output skips in G lower PPL in every D configuration; a residual D lowers FID (Table 2)"
    skip_parts = [
        (
            skip["ppl"] < orig["ppl"],
            f"{column} {d}: PPL G original {orig['ppl']:.1f} vs skips {skip['ppl']:.1f}",
        )
        for d in TABLE2_D
        for column, orig, skip in _pairs(results, "table2", "G original", "G output skips", ("ppl",), (d, d))
    ]
    residual_parts = [
        (
            res["fid"] < orig["fid"],
            f"{column} {g}: FID D original {orig['fid']:.2f} vs residual {res['fid']:.2f}",
        )
        for g in TABLE2_G
        for column, orig, res in _pairs(results, "table2", g, g, ("fid",), ("D original", "D residual"))
    ]
    parts = skip_parts or [(None, "PPL of G original and G output skips not measured in any D column")]
    parts += residual_parts or [(None, "FID of D original and D residual not measured in any G row")]
    return _combine(5, claim, parts)


# Figure 8 shares in stats.jsonl: harness.train writes `fig8` ({resolution: share}); the store's
# contract also allows `fig8_shares`. Flattened by load_stats to "<key>.<resolution>" columns.
SHARE_PREFIXES = ("fig8.", "fig8_shares.")


def run_shares(stats: pd.DataFrame, run: str) -> pd.DataFrame:
    """Figure 8 shares of one run: [kimg, <resolution>...] (ints as column names, ascending), one row
    per tick where they were measured; empty when the run has none."""
    if stats.empty or "run" not in stats:
        return pd.DataFrame()
    ticks = stats[stats["run"] == run]
    for prefix in SHARE_PREFIXES:
        columns = {
            int(name[len(prefix):]): name for name in ticks.columns
            if name.startswith(prefix) and name[len(prefix):].isdigit() and ticks[name].notna().any()
        }
        if columns:
            ordered = [columns[res] for res in sorted(columns)]
            shares = ticks.dropna(subset=ordered)[["kimg", *ordered]]
            return shares.set_axis(["kimg", *sorted(columns)], axis=1).reset_index(drop=True)
    return pd.DataFrame()


def top_share_curve(stats: pd.DataFrame, run: str) -> pd.DataFrame:
    """[kimg, top_share] ticks of `run` where Figure 8 shares were measured (empty when none)."""
    shares = run_shares(stats, run)
    if shares.empty:
        return pd.DataFrame(columns=["kimg", "top_share"])
    return pd.DataFrame({"kimg": shares["kimg"], "top_share": shares[shares.columns[-1]]})


def figure8_runs(results: pd.DataFrame) -> dict[str, str]:
    """{'E': run, 'F': run} for Figure 8, preferring the figure8 suite's cells over Table 1's."""
    runs: dict[str, str] = {}
    if results.empty:
        return runs
    for table in ("table1", "figure8"):  # later tables override earlier ones
        for _, cell in results[results["table"] == table].iterrows():
            config = cell.get("config") or cell.get("config_name")
            if config in ("E", "F") and (table == "figure8" or cell["column"] == "FFHQ"):
                runs[config] = cell["run"]
    return runs


def finding_6_resolution_usage(results: pd.DataFrame, stats: pd.DataFrame) -> Finding:
    claim = (
        "Without growing the skip G shifts towards high resolutions over training; larger networks "
        "raise the top resolution's share and improve FID and recall (Fig. 8, config F)"
    )
    runs = figure8_runs(results)
    curves = {config: top_share_curve(stats, run) for config, run in runs.items()}
    parts = []
    for config in ("E", "F"):
        curve = curves.get(config)
        if curve is None or len(curve) < 2:
            parts.append((None, f"config {config}: Figure 8 shares not measured over training"))
            continue
        first, last = float(curve["top_share"].iloc[0]), float(curve["top_share"].iloc[-1])
        parts.append((last > first, f"config {config}: top-resolution share {first:.1%} -> {last:.1%}"))
    if all(len(curves.get(config, ())) >= 1 for config in ("E", "F")):
        end_e, end_f = (float(curves[config]["top_share"].iloc[-1]) for config in ("E", "F"))
        parts.append((end_f > end_e, f"final top share E {end_e:.1%} vs F {end_f:.1%}"))
    pairs = _pairs(results, "table1", "E", "F", ("fid", "recall"))
    if not pairs:
        parts.append((None, "FID and recall of E and F not measured"))
    for column, e, f in pairs:
        parts.append(
            (
                f["fid"] < e["fid"] and f["recall"] > e["recall"],
                (
                    f"{column}: FID E {e['fid']:.2f} vs F {f['fid']:.2f}, "
                    f"recall {e['recall']:.3f} vs {f['recall']:.3f}"
                ),
            )
        )
    return _combine(6, claim, parts)


def finding_7_speed(results: pd.DataFrame, stats: pd.DataFrame) -> Finding:
    claim = "Config E trains about 40% faster than A; F is slightly slower than A"
    paper = (
        f"paper: E/A {PAPER_IMG_PER_S['E'] / PAPER_IMG_PER_S['A']:.2f}, "
        f"F/A {PAPER_IMG_PER_S['F'] / PAPER_IMG_PER_S['A']:.2f}"
    )
    parts = []
    for faster, row in ((True, "E"), (False, "F")):
        pairs = _pairs(results, "table1", "A", row, ("img_per_s",))
        if not pairs:
            parts.append((None, f"img/s of A and {row} not measured"))
            continue
        ratios = [other["img_per_s"] / a["img_per_s"] for _, a, other in pairs if a["img_per_s"] > 0]
        ratio = sum(ratios) / len(ratios) if ratios else float("nan")
        holds = ratio >= SPEEDUP_E_OVER_A if faster else ratio < 1.0
        parts.append((holds, f"img/s {row}/A {ratio:.2f} (mean over {', '.join(c for c, _, _ in pairs)})"))
    parts.append((True, paper))
    return _combine(7, claim, parts)


FINDINGS = (
    finding_1_droplets,
    finding_2_precision_recall,
    finding_3_lazy_r1,
    finding_4_path_length,
    finding_5_architectures,
    finding_6_resolution_usage,
    finding_7_speed,
)


def evaluate_findings(results: pd.DataFrame, stats: pd.DataFrame) -> list[Finding]:
    """All seven findings of SPEC.md section 6, in order."""
    return [finding(results, stats) for finding in FINDINGS]
