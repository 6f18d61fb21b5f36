"""The HTML report: published numbers, cell directions, rendering, escaping, and a real browser."""

import base64
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import pandas as pd
import pytest
from PIL import Image

from harness import report, report_tables
from harness.cells import summarize_cells
from harness.findings import evaluate_findings
from harness.learning import check_run, learning_checks
from harness.published import load_published
from harness.results import load_metric_rows, load_results, load_stats
from harness.verdicts import Outcome
from tests.harness.fixtures import (
    FFHQ_MIRROR_NOTE,
    XSS_DATASET,
    XSS_RUN_ID,
    build_fixture_tree,
    write_seeded_store,
    write_untrained_store,
)

ESCAPED_DATASET = "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_published_numbers_match_spec_section_5():
    published = load_published()
    assert len([v for v in published.values if v.table == "table1"]) == 6 * 8 + 4  # A-large: FFHQ only
    assert len([v for v in published.values if v.table == "table2"]) == 2 * 9 * 2
    assert len([v for v in published.values if v.table == "table3"]) == 2 * 4 * 2
    assert published.value("table1", "F", "LSUN Car", "recall").value == 0.514
    assert published.value("table1", "A-large", "LSUN Car", "fid") is None
    assert published.value("table2", "G residual", "LSUN Car", "fid", "D residual").value == 2.66
    car = published.value("table3", "StyleGAN", "LSUN Car", "ppl")
    assert car.value == 1485 and car.verified  # = Table 1 row A, LSUN Car (1484.5)
    assert published.value("table3", "StyleGAN", "LSUN Church", "fid").verified
    assert published.value("table3", "StyleGAN2", "LSUN Horse", "fid").verified
    assert not published.value("table3", "StyleGAN", "LSUN Cat", "fid").verified
    assert not published.value("table3", "StyleGAN2", "LSUN Church", "ppl").verified
    assert published.baseline("table1", "A-large").baseline_row == "A"
    assert published.baseline("table1", "A") is None
    skips = published.baseline("table2", "G output skips", "D input skips")
    assert (skips.baseline_row, skips.baseline_subcolumn) == ("G original", "D input skips")


METRICS = ("fid", "ppl", "precision", "recall")
INDEX = {(column, metric): i for i, (column, metric) in
         enumerate((c, m) for c in ("FFHQ", "LSUN Car") for m in METRICS)}


def table1_rows(root) -> dict:
    table = report_tables.build_table(load_published(), summarize_cells(load_results(root)), "table1")
    return {row.label.split()[0]: row for row in table.rows}


def test_one_seed_cells_are_inconclusive_unless_far_beyond_the_evaluation_spread(results_tree):
    rows = table1_rows(results_tree.root)
    b_fid = rows["B"].cells[INDEX[("FFHQ", "fid")]]
    assert b_fid.measured == "41.00 (n=1)" and b_fid.paper == "4.39" and b_fid.compared_with == "A"
    # 40 -> 41 against 10 x evaluation spread 0.14: inconclusive, so neither agreement nor a cross.
    assert (b_fid.measured_direction, b_fid.paper_direction, b_fid.agrees) == ("?", "≈", None)
    assert "one seed" in b_fid.verdict_detail
    e_fid = rows["E"].cells[INDEX[("FFHQ", "fid")]]  # D 39 -> E 35: 4 > 1.4, as the paper's 4.34 -> 3.31
    assert (e_fid.measured_direction, e_fid.paper_direction, e_fid.agrees) == ("↓", "↓", True)
    car = rows["B"].cells[INDEX[("LSUN Car", "fid")]]
    assert car.measured is None and car.paper == "3.04" and car.agrees is None
    assert rows["A"].cells[0].compared_with is None


def seeds(mean: float) -> list[float]:
    return [0.99 * mean, mean, 1.01 * mean]


def test_cells_show_mean_ci_and_n_and_agree_with_the_findings(tmp_path):
    write_seeded_store(tmp_path, {
        "A": {"fid": seeds(40.0), "precision": seeds(0.60), "recall": seeds(0.30)},
        "B": {"fid": seeds(40.1), "precision": seeds(0.70), "recall": seeds(0.35)},  # precision rose
        "C": {"fid": seeds(39.9), "ppl": seeds(240.0)},
        "D": {"fid": seeds(39.0), "ppl": seeds(150.0)},
    })
    rows = table1_rows(tmp_path)
    d_ppl = rows["D"].cells[INDEX[("FFHQ", "ppl")]]
    assert d_ppl.measured == "150.0 ± 3.7 (n=3)"  # t(0.975, 2) x 1.5 / sqrt(3) = 3.73
    assert (d_ppl.measured_direction, d_ppl.agrees) == ("↓", True) and "95% CI" in d_ppl.verdict_detail
    b_precision = rows["B"].cells[INDEX[("FFHQ", "precision")]]
    b_directions = (b_precision.measured_direction, b_precision.paper_direction, b_precision.agrees)
    assert b_directions == ("↑", "↓", False)
    b_fid = rows["B"].cells[INDEX[("FFHQ", "fid")]]
    assert (b_fid.measured_direction, b_fid.agrees) == ("≈", True)
    # The findings judge the same changes with the same rule: D's PPL reproduced, B's precision contradicted.
    findings = evaluate_findings(load_results(tmp_path), load_stats(tmp_path))
    claims = {claim.text: claim.outcome for finding in findings for claim in finding.claims}
    assert claims["FFHQ: PPL D < C"] is Outcome.REPRODUCED
    assert claims["FFHQ: precision B < A"] is Outcome.CONTRADICTED
    assert claims["FFHQ: FID B ≈ A"] is Outcome.REPRODUCED


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The fixture store's report, rendered once for the module (figures take a few seconds)."""
    tree = build_fixture_tree(tmp_path_factory.mktemp("rendered") / "results")
    path = report.render_report(tree.root, tree.root / "out" / "report.html")
    return path, path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_report_has_tables_figures_and_escapes_names(rendered):
    path, html = rendered
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.html"]  # no temporary file left
    for table_id in ("table1", "table2-ffhq", "table2-lsun-car", "table3", "findings", "datasets-table"):
        assert f'id="{table_id}"' in html
    # 8 figures (no speed.json: no side-by-side figure) + 8 runs' two sample grids + 1 real-image grid.
    assert html.count('src="data:image/png;base64,') == 25
    assert "http://" not in html and "https://" not in html  # self-contained
    assert XSS_DATASET not in html and ESCAPED_DATASET in html
    assert XSS_RUN_ID not in html and "A-large__&lt;img src=x onerror=alert(2)&gt;" in html
    assert "Not comparable to published values" in html and "efficientnet-lite0" in html
    assert "CC BY-SA 4.0" in html and "OpenMoji" in html and "not measured" in html
    assert 'id="coverage"' in html and 'id="one-seed-note"' in html and 'id="margins"' in html
    assert "first snapshot | lowest FID" in html and "Training progress" in html
    assert "<th>R1 gamma</th>" in html and "<td>0.0024</td>" in html  # each run's gamma, as trained
    checks = learning_checks(load_metric_rows(path.parent.parent), load_results(path.parent.parent))
    learned = sum(check.learns for check in checks)
    assert html.count(f"FFHQ: {FFHQ_MIRROR_NOTE}.") == 1  # once for the suites that share a scale
    assert 'id="learning-check"' in html and f"<strong>{learned} of {len(checks)} runs</strong>" in html
    assert html.count("<td>yes</td>") + html.count("<td>no</td>") >= len(checks) > 0
    assert "runs that learned: A " in html  # the findings' claims count them from the same checks
    assert 'id="learning-by-cell"' in html and "<td>A (FFHQ)</td>" in html


def test_no_banner_when_every_metric_is_comparable(results_tree):
    for path in results_tree.root.glob("*/*/metrics.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps({**row, "comparable_to_published": True}) + "\n" for row in rows))
    assert not report.comparability_banner(load_results(results_tree.root))["show"]


def test_banner_and_cells_show_the_comparability_label(results_tree):
    for path in results_tree.root.glob("*/*/metrics.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        label = {"comparability": "approximately comparable", "comparability_reason": "10,000 samples"}
        labelled = [{**row, **label} for row in rows]
        path.write_text("".join(json.dumps(row) + "\n" for row in labelled))
    results = load_results(results_tree.root)
    banner = report.comparability_banner(results)
    assert banner["show"] and banner["headline"] == "Approximately comparable to published values."
    assert banner["reasons"] == ["10,000 samples"]
    fid = table1_rows(results_tree.root)["B"].cells[INDEX[("FFHQ", "fid")]]
    assert fid.comparability == "approximately comparable"


def test_empty_store_renders_not_measured(tmp_path):
    (tmp_path / "results").mkdir()
    html = report.render_report(tmp_path / "results").read_text()
    assert "No suite has been run yet" in html and html.count("not measured") > 100
    with pytest.raises(ValueError, match="does not exist"):
        report.render_report(tmp_path / "absent")


# ---- a real browser ------------------------------------------------------------------------------


def find_or_install_chromium() -> str:
    """Debian's chromium, installed with apt-get (as root, with a timeout) where missing."""
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("headless Chromium not found and cannot be installed (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "install", "-y", "chromium"], ["apt-get", "update"],
                    ["apt-get", "install", "-y", "chromium"]):
        try:
            subprocess.run(command, env=env, capture_output=True, timeout=600, check=False)
        except subprocess.TimeoutExpired:
            pytest.skip(f"installing Chromium timed out ({' '.join(command)})")
        if shutil.which("chromium"):
            return shutil.which("chromium")
    pytest.skip("apt-get could not install the chromium package")


class DomSummary(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.images, self.scripts, self.text = {}, [], 0, []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.scripts += tag == "script"
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.browser
@pytest.mark.slow
def test_report_in_headless_chromium(rendered, tmp_path):
    chromium = find_or_install_chromium()
    path, _ = rendered
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom", path.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0 and "<h1>" in done.stdout, done.stderr[-2000:]
    dom = DomSummary()
    dom.feed(done.stdout)
    assert dom.tags["table"] >= 8 and dom.tags["tr"] >= 40
    assert dom.scripts == 0  # the `<script>` in a dataset name stayed text
    text = "".join(dom.text)
    assert XSS_DATASET in text and XSS_RUN_ID in text  # shown as text, exactly as named
    assert len(dom.images) == 25
    for src in dom.images:
        assert src.startswith("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as image:
            image.verify()
            assert image.format == "PNG" and min(image.size) > 0


def test_figures_without_data_are_none_and_only_pngs_are_embedded(tmp_path):
    import pandas as pd

    from harness import figures

    empty, no_stats = pd.DataFrame(), pd.DataFrame(columns=["run"])
    assert figures.figure8_areas(empty, no_stats) is None and figures.metric_bars(empty, "table1") is None
    assert figures.cost_bars(empty) is None and figures.droplet_figure(empty, no_stats) is None
    assert figures.ppl_histograms(empty) is None and figures.feature_map_heatmaps(empty) is None
    with pytest.raises(ValueError, match="PNG signature"):
        figures.data_uri(b"<svg onload=alert(1)>")
    (tmp_path / "fake.png").write_bytes(b"GIF89a")
    assert figures.png_file_uri(tmp_path / "fake.png") is None
    assert figures.png_file_uri(tmp_path / "no.png") is None


def test_report_of_a_store_with_no_trained_run(tmp_path):
    write_untrained_store(tmp_path)
    html = report.render_report(tmp_path).read_text()
    assert "Not comparable" not in html and "missing" in html and "openmoji" in html


def test_suites_at_the_same_scale_show_their_values_and_dataset_notes_once():
    mirrored = {"FFHQ": {"note": "x-flipped reals are not mirrored by the metrics"}, "LSUN Car": {}}
    suites = [dict(suite=name, scale="cpu", scale_values={"kimg": 20}, description=name.upper(),
                   dataset_settings=mirrored) for name in ("table1", "table2")]
    suites.append(dict(suite="table3", scale="cpu", scale_values={"kimg": 40}, dataset_settings=mirrored))
    first, second = report.scale_groups(suites)
    assert first["suites"] == [("table1", "TABLE1"), ("table2", "TABLE2")]
    assert first["scale_values"] == {"kimg": 20}
    assert first["dataset_notes"] == [("FFHQ", "x-flipped reals are not mirrored by the metrics")]
    assert second["suites"] == [("table3", None)] and second["dataset_notes"] == first["dataset_notes"]


def test_counts_per_cell_cover_shared_runs_in_every_cell_and_skip_unchecked_cells():
    checks = [check_run("t1/E", {1.0: 2000.0, 10.0: 900.0}, budget_kimg=10),
              check_run("t2/x", {1.0: 2000.0, 10.0: 1500.0}, budget_kimg=10)]
    cells = pd.DataFrame([
        dict(table="table1", row="E", column="FFHQ", subcolumn=None, runs=("t1/E",)),
        dict(table="table2", row="G output skips", column="FFHQ", subcolumn="D residual",
             runs=("t1/E", "t2/x")),
        dict(table="table3", row="A", column="LSUN Cat", subcolumn=float("nan"), runs=("t3/never-measured",)),
    ])
    counts = report.learning_by_cell(checks, cells)
    assert [(c.table, c.cell, c.learned, c.checked) for c in counts] == [
        ("table1", "E (FFHQ)", 1, 1), ("table2", "G output skips, D residual (FFHQ)", 1, 2)]


def test_datasets_table_names_the_channels_each_run_trained():
    """A grayscale run trained one channel; a run whose config.json predates img_channels trained
    RGB (the default 3), and shows so rather than a blank; a run not started yet trained nothing."""
    car, sneaker = "LSUN Car", "fashion-mnist:sneaker"
    runs = pd.DataFrame([
        dict(paper_dataset=car, dataset=sneaker, config_resolution=16, config_img_channels=1.0),
        dict(paper_dataset=car, dataset=sneaker, config_resolution=16, config_img_channels=None),
        dict(paper_dataset=car, dataset=sneaker, config_resolution=16, config_img_channels=1.0),
        dict(paper_dataset=car, dataset=sneaker, config_resolution=None, config_img_channels=None),
    ])
    records = report._dataset_records(runs, ["paper_dataset", "dataset", "config_img_channels"])
    assert [record["config_img_channels"] for record in records] == [1, 3, None]
