"""Markdown tables from one pytest-benchmark JSON file: training img/s and energy, op speed-ups, bandwidth.

    python -m benchmarks.summarize results/bench/<machine kind>/<machine id>/0001_baseline.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def _table(header: list[str], rows: list[list[object]]) -> str:
    if not rows:
        return ""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _benchmarks(data: dict, function: str) -> list[dict]:
    return [bench for bench in data["benchmarks"] if bench["name"].startswith(function)]


def training_rows(data: dict) -> list[list[object]]:
    rows = []
    for bench in _benchmarks(data, "test_train_iteration"):
        info = bench["extra_info"]
        shares = info.get("phase_share") or {}
        rows.append([info["config"], info["device"], info["resolution"], info["batch"],
                     info.get("speed", info["impl"]), info.get("images_per_s"), info.get("energy_j_per_kimg"),
                     " ".join(f"{phase} {share:.0%}" for phase, share in shares.items() if share)])
    return sorted(rows, key=lambda row: (row[1], row[2], row[0], str(row[4])))


def impl_times(benchmarks: list[dict], stat: str = "mean") -> dict[str, dict[str, float]]:
    """{group: {'ref': seconds, 'fused': seconds}} (statistic `stat`) for groups timing both impls."""
    times: dict[str, dict[str, float]] = defaultdict(dict)
    for bench in benchmarks:
        impl = bench.get("extra_info", {}).get("impl")
        if impl in ("ref", "fused"):
            times[bench["group"]][impl] = bench["stats"][stat]
    return {group: pair for group, pair in times.items() if len(pair) == 2}


def op_ratio_rows(data: dict) -> list[list[object]]:
    """ref mean time / fused mean time per op and shape (> 1: the fused path is faster)."""
    means = impl_times(_benchmarks(data, "test_cpu") + _benchmarks(data, "test_cuda"))
    return [[group, f"{impls['ref'] * 1e3:.3f}", f"{impls['fused'] * 1e3:.3f}",
             f"{impls['ref'] / impls['fused']:.2f}"]
            for group, impls in sorted(means.items())]


def bandwidth_rows(data: dict) -> list[list[object]]:
    rows = []
    for bench in _benchmarks(data, "test_bandwidth"):
        info = bench["extra_info"]
        rows.append([info["op"], info["shape"], info["device"], info["impl"], info.get("bandwidth_gb_s"),
                     info.get("peak_bandwidth_gb_s"), info.get("fraction_of_peak")])
    return sorted(rows, key=lambda row: (row[2], row[0], row[1], row[3]))


def feature_rows(data: dict) -> list[list[object]]:
    rows = []
    for bench in _benchmarks(data, "test_feature_network") + _benchmarks(data, "test_perceptual_distance"):
        info = bench["extra_info"]
        rows.append([bench["name"], info.get("batch"), info.get("images_per_s")])
    return sorted(rows)


def summarize(data: dict) -> str:
    """Markdown: the machine, then one table per benchmark family present in `data`."""
    machine = data.get("machine_info", {})
    accelerator = machine.get("accelerator", {})
    parts = [f"Machine kind: {machine.get('machine_kind', 'unknown')} ({accelerator.get('name')}, "
             f"{machine.get('usable_cpus')} usable CPUs); run {data.get('datetime')}, "
             f"commit {data.get('commit_info', {}).get('id')}"]
    tables = [
        ("Training iteration (16 minibatches a round)",
         ["config", "device", "resolution", "batch", "impl / speed", "img/s", "J/kimg", "phase share"],
         training_rows(data)),
        ("Fused ops: mean ms per forward + backward",
         ["group", "ref ms", "fused ms", "ref / fused"], op_ratio_rows(data)),
        ("Achieved memory bandwidth (forward)",
         ["op", "shape", "device", "impl", "GB/s", "peak GB/s", "fraction of peak"], bandwidth_rows(data)),
        ("Metric networks", ["benchmark", "batch", "images/s"], feature_rows(data)),
    ]
    for title, header, rows in tables:
        if rows:
            parts.append(f"### {title}\n\n{_table(header, rows)}")
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.summarize", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json_file", type=Path)
    args = parser.parse_args(argv)
    print(summarize(json.loads(args.json_file.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
