"""Progress output: a bar only on a terminal outside CI; plain lines carry rate and ETA."""

import io

from harness.train.progress import Progress, use_bar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_only_on_a_terminal_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert use_bar("auto", Terminal()) and not use_bar("auto", io.StringIO())
    monkeypatch.setenv("CI", "true")
    assert not use_bar("auto", Terminal())
    assert use_bar("bar") and not use_bar("lines")


def test_plain_line_has_rate_and_eta(capsys):
    progress = Progress(1000, 0, "lines", label="E")
    progress.tick({"tick": 3, "kimg": 0.5, "images_shown": 500, "resolution": 16, "img_per_s": 50.0,
                   "loss/G": 0.7, "loss/D": 1.3})
    line = capsys.readouterr().out
    assert "E tick    3" in line and "50.0 img/s" in line and "eta 0:00:10" in line


def test_unmeasured_loss_prints_a_question_mark(capsys):
    progress = Progress(1000, 0, "lines", label="E")
    progress.tick({"tick": 0, "kimg": 0.1, "images_shown": 100, "resolution": 16, "img_per_s": None,
                   "loss/G": None, "loss/D": 1.3})
    assert "loss G ?  D 1.300" in capsys.readouterr().out
