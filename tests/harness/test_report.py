"""The HTML report: published numbers, cell directions, rendering, escaping, and a real browser."""

import argparse
import base64
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from PIL import Image

from harness import report
from harness.published import DOWN, SAME, UP, direction, load_published
from harness.results import load_results
from tests.harness.fixtures import XSS_DATASET, XSS_RUN_ID, build_fixture_tree, write_untrained_store

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


def test_direction():
    assert direction(4.39, 4.40) == SAME  # within 2%
    assert direction(3.31, 4.34) == DOWN and direction(0.449, 0.418) == UP
    assert direction(10.5, 10.0, spread=1.0) == SAME and direction(12.0, 10.0, spread=1.0) == UP
    assert direction(None, 1.0) is None and direction(float("nan"), 1.0) is None


def test_cells_show_direction_and_agreement(results_tree):
    published = load_published()
    table = report.build_table(published, load_results(results_tree.root), "table1")
    metrics = ("fid", "ppl", "precision", "recall")
    index = {(column, metric): i for i, (column, metric) in
             enumerate((c, m) for c in ("FFHQ", "LSUN Car") for m in metrics)}
    rows = {row.label.split()[0]: row for row in table.rows}
    b_fid = rows["B"].cells[index[("FFHQ", "fid")]]
    assert b_fid.measured == "41.00 ± 0.10" and b_fid.paper == "4.39" and b_fid.compared_with == "A"
    assert (b_fid.measured_direction, b_fid.paper_direction, b_fid.agrees) == (UP, SAME, False)
    d_ppl = rows["D"].cells[index[("FFHQ", "ppl")]]
    assert (d_ppl.measured_direction, d_ppl.paper_direction, d_ppl.agrees) == (DOWN, DOWN, True)
    car = rows["B"].cells[index[("LSUN Car", "fid")]]
    assert car.measured is None and car.paper == "3.04" and car.agrees is None
    assert rows["A"].cells[0].compared_with is None


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
    # 7 figures + 8 runs' sample grids + 1 real-image grid, all inline.
    assert html.count('src="data:image/png;base64,') == 16
    assert "http://" not in html and "https://" not in html  # self-contained
    assert XSS_DATASET not in html and ESCAPED_DATASET in html
    assert XSS_RUN_ID not in html and "A-large__&lt;img src=x onerror=alert(2)&gt;" in html
    assert "Not comparable to published values" in html and "efficientnet-lite0" in html
    assert "CC BY-SA 4.0" in html and "OpenMoji" in html and "not measured" in html


def test_no_banner_when_every_metric_is_comparable(results_tree):
    for path in results_tree.root.glob("*/*/metrics.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps({**row, "comparable_to_published": True}) + "\n" for row in rows))
    assert report.comparability_banner(load_results(results_tree.root)) == {"show": False, "networks": []}


def test_empty_store_renders_not_measured(tmp_path):
    (tmp_path / "results").mkdir()
    html = report.render_report(tmp_path / "results").read_text()
    assert "No suite has been run yet" in html and html.count("not measured") > 100
    with pytest.raises(ValueError, match="does not exist"):
        report.render_report(tmp_path / "absent")


def test_cli_hooks(results_tree, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "_figure_views", lambda results, stats: [])  # figures tested above
    parser = argparse.ArgumentParser()
    report.add_arguments(parser)
    args = parser.parse_args(["--results", str(results_tree.root), "--out", str(tmp_path / "r.html")])
    assert report.run(args) == 0 and (tmp_path / "r.html").stat().st_size > 0
    assert parser.parse_args([]).out is None


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
    assert len(dom.images) == 16
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
