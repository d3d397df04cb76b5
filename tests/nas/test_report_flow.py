"""The report of a real (tiny) search: written by ``nas search`` (and copied into reports/),
rebuilt from the run directory with the same numbers, opened offline in headless Chromium,
safe with hostile column names, and never lost to a failed explanation."""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import torch

from nas.reporting import collect
from tests.conftest import explain_helper

TINY_FNN = """\
space = "fnn"
[fnn]
n_blocks = 1
units = { choices = [8, 16] }
[head]
hidden = 0
[train]
batch_size = 32
"""
SECTIONS = ("overview", "search", "winner", "explanations", "reproduce")
XSS_FEATURE = "<script>alert(1)</script>"
XSS_CLASS = "<img src=x onerror=alert(1)>"


def nas_cli(*args: str | Path) -> Any:
    """``nas ARGS`` in-process (stdout and stderr apart)."""
    from typer.testing import CliRunner

    from nas.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@dataclass(frozen=True)
class Searched:
    """A CLI search run in ``cwd`` (so its reports/ folder is there, not in the repo)."""

    cwd: Path
    run: Path
    stdout: str
    stderr: str


def search_in(cwd: Path, *args: str | Path) -> Searched:
    """``nas search --trials 3 --epochs 2 ... ARGS`` (a tiny space) with ``cwd`` as the current
    folder; torch's thread count and Optuna's verbosity are restored after."""
    space = cwd / "space.toml"
    space.write_text(TINY_FNN, encoding="utf-8")
    threads, verbosity = torch.get_num_threads(), optuna.logging.get_verbosity()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(cwd)
            result = nas_cli(
                "search", "--space", space, "--trials", "3", "--epochs", "2", "--seed", "3",
                "--out", cwd / "run", "--threads", "1", *args,
            )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
        optuna.logging.set_verbosity(verbosity)
    assert result.exit_code == 0, result.output + result.stderr
    return Searched(cwd, cwd / "run", result.stdout, result.stderr)


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Searched:
    """``nas search --dataset iris ...`` with the defaults: explained and reported."""
    return search_in(tmp_path_factory.mktemp("report-flow"), "--dataset", "iris")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium (see tests/explain/headless_chromium.py); skips without one."""
    hc = explain_helper("headless_chromium")
    binary = hc.find_chromium()
    if binary is None:
        pytest.skip("Chromium is not installed: run scripts/install-chromium.sh (as root).")
    chrome = hc.Chromium(binary, tmp_path_factory.mktemp("chromium-profile"))
    try:
        chrome.send("Browser.getVersion", timeout=60)
    except (TimeoutError, RuntimeError) as exc:
        chrome.close()
        pytest.skip(f"Chromium at {binary} did not answer on its debugging pipe: {exc}")
    chrome.on_event = lambda e: (  # a dialog would block the page: dismiss it (it is recorded)
        chrome.post("Page.handleJavaScriptDialog", {"accept": False}, e["sessionId"])
        if e["method"] == "Page.javascriptDialogOpening"
        else None
    )
    yield chrome
    chrome.close()


def open_page(browser: Any, path: Path) -> Any:
    return explain_helper("headless_chromium").Page(browser, path)


# --- nas search: explained and reported by default ------------------------------------------


def test_search_explains_the_winner_and_writes_the_report_twice(searched: Searched) -> None:
    run = searched.run
    assert (run / "explain" / "explanations.json").is_file()
    assert (run / "explain" / "attributions.npz").is_file()
    report = run / "report.html"
    copy = searched.cwd / "reports" / "run.html"  # reports/<run dir name>.html, from the cwd
    assert report.is_file()
    mark = rb'\n<meta name="nas-run" content="[0-9a-f]{16}">'  # which run the copy is of
    assert re.sub(mark, b"", copy.read_bytes(), count=1) == report.read_bytes() != copy.read_bytes()
    assert f"report:{report}" in "".join(searched.stdout.split())  # however Rich wrapped it
    data = collect(run)
    exp = data["explanations"]
    assert exp is not None and exp["n_explained"] > 0
    assert "integrated_gradients" in exp["global"]
    html = report.read_text(encoding="utf-8")
    assert "integrated_gradients" in html and "completeness" in html


def test_the_reports_folder_never_loses_another_runs_report_or_a_users_file(
    tmp_path: Path,
) -> None:
    from nas.reporting import copy_into

    page = tmp_path / "page.html"
    page.write_text('<html><head>\n<meta name="generator" content="nas explain.report">\n'
                    "<title>r</title></head></html>")  # fmt: skip
    folder = tmp_path / "reports"
    a, b = tmp_path / "a" / "digits", tmp_path / "b" / "digits"
    assert copy_into(page, a, folder) == folder / "digits.html"
    assert copy_into(page, b, folder) == folder / "digits-2.html"  # same name, another run
    assert copy_into(page, a, folder) == folder / "digits.html"  # its own copy, replaced
    assert copy_into(page, b, folder) == folder / "digits-2.html"
    (folder / "notes.html").write_text("my notes")
    assert copy_into(page, tmp_path / "notes", folder) == folder / "notes-2.html"
    assert (folder / "notes.html").read_text() == "my notes"
    assert sorted(p.name for p in folder.iterdir()) == [
        "digits-2.html", "digits.html", "notes-2.html", "notes.html"]  # fmt: skip
    assert str(tmp_path).encode() not in (folder / "digits.html").read_bytes()  # a hash only


@pytest.mark.parametrize("flag", ["--no-explain", "--no-report"])
def test_no_explain_and_no_report_skip_them(tmp_path: Path, flag: str) -> None:
    s = search_in(tmp_path, "--dataset", "iris", flag)
    assert (s.run / "best" / "model.pt").is_file()
    explained = (s.run / "explain").exists()
    reported = (s.run / "report.html").exists()
    assert (explained, reported) == ((False, True) if flag == "--no-explain" else (True, False))
    assert (tmp_path / "reports").exists() == reported
    if reported:  # the report says there are no explanations, rather than showing none
        assert collect(s.run)["explanations"] is None
        html = (s.run / "report.html").read_text(encoding="utf-8")
        assert "nas explain" in html


# --- the same report, rebuilt from the run directory ----------------------------------------

_GENERATED = re.compile(r'<div class="meta">([^<]*)</div>')
_FIGURES = re.compile(r'<script type="application/json" id="report-figures">(.*?)</script>', re.S)


def test_a_rebuilt_report_shows_the_same_numbers(searched: Searched, tmp_path: Path) -> None:
    before = collect(searched.run)
    other = tmp_path / "other.html"
    result = nas_cli("report", searched.run, "-o", other)
    assert result.exit_code == 0, result.output + result.stderr
    after = collect(searched.run)
    assert {k: v for k, v in before.items() if k != "generated"} == {
        k: v for k, v in after.items() if k != "generated"
    }
    first = (searched.run / "report.html").read_text(encoding="utf-8")
    again = other.read_text(encoding="utf-8")
    figures = [json.loads(_FIGURES.search(html).group(1)) for html in (first, again)]
    assert figures[0] == figures[1] and len(figures[0]) > 8
    # Everything else is the same too, once the generation time is taken out.
    stamps = [_GENERATED.search(html).group(1) for html in (first, again)]
    assert all(stamps)
    assert first.replace(stamps[0], "") == again.replace(stamps[1], "")


@pytest.mark.parametrize(
    ("costs", "labels"),
    [
        ([12_000, 67_000], ["10 k", "20 k", "50 k", "100 k"]),  # no decade in view
        ([482, 317_000], ["100", "1 k", "10 k", "100 k", "1 M"]),  # decades only
        ([21_000, 24_000], ["20 k", "30 k"]),
        ([0.2, 0.4], ["0.1", "0.2", "0.3", "0.4", "0.5"]),  # latency in ms
    ],
)
def test_log_cost_axes_say_their_scale(costs: list[float], labels: list[str]) -> None:
    """Plotly's "D2" log ticks read "2" and "5" for 20 k and 50 k: with no decade in view the
    reader cannot tell the scale. The Pareto figure labels every tick in full."""
    from explain.report.plots import log_ticks

    vals, texts = log_ticks(costs)
    assert texts == labels and vals == sorted(vals)


def test_the_pareto_figure_of_a_real_report_labels_its_ticks(searched: Searched) -> None:
    html = (searched.run / "report.html").read_text(encoding="utf-8")
    figures = json.loads(_FIGURES.search(html).group(1))
    (pareto,) = [f for f in figures.values() if f["layout"]["xaxis"].get("type") == "log"]
    axis = pareto["layout"]["xaxis"]
    assert len(axis["tickvals"]) == len(axis["ticktext"]) >= 2
    buttons = pareto["layout"]["updatemenus"][0]["buttons"]
    for b in buttons:  # each cost brings its own labelled ticks
        assert len(b["args"][1]["xaxis.ticktext"]) >= 2


def test_a_report_never_shows_explanations_of_an_earlier_winner(
    searched: Searched, tmp_path: Path
) -> None:
    """A resumed search with --no-explain (or whose explaining failed) keeps the old explain/
    folder: the report leaves it out and says so, until ``nas explain`` runs again."""
    run = Path(shutil.copytree(searched.run, tmp_path / "run"))
    state = torch.load(run / "best" / "model.pt", weights_only=True)
    torch.save({k: v + 0.5 if v.is_floating_point() else v for k, v in state.items()},
               run / "best" / "model.pt")  # fmt: skip
    # as a resumed search saves its new winner: the digests of its files with them
    from nas import run as rundir

    rundir.write_json(run / "best" / rundir.SUMS,
                      {n: rundir.file_sha256(run / "best" / n) for n in rundir.SUMMED})  # fmt: skip
    data = collect(run)
    assert data["explanations"] is None
    assert any("earlier winner" in a["text"] and a["level"] == "warn" for a in data["alerts"])
    assert (
        nas_cli("explain", run, "--samples", "4", "--methods", "integrated_gradients").exit_code
        == 0
    )
    data = collect(run)
    assert data["explanations"] is not None
    assert not any("earlier winner" in a["text"] for a in data["alerts"])
    (run / "explain" / "source.json").write_text("garbage{")  # its record of the model, damaged
    data = collect(run)
    assert data["explanations"] is None
    texts = [a["text"] for a in data["alerts"]]
    assert any("could not be read" in t and "source.json is damaged" in t for t in texts), texts
    assert not any("earlier winner" in t for t in texts)


# --- in a browser -----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_report_opens_offline_in_chromium(browser: Any, searched: Searched) -> None:
    page = open_page(browser, searched.run / "report.html")
    try:
        assert page.problems() == {}  # no console error, exception, request or failed load
        missing = page.evaluate(f"{list(SECTIONS)}.filter(id => !document.getElementById(id))")
        assert missing == []
        n_plots = page.evaluate("document.querySelectorAll('.plot').length")
        drawn = page.evaluate("document.querySelectorAll('.plot.js-plotly-plot').length")
        assert drawn == n_plots > 8
        explained = page.evaluate("document.querySelectorAll('#explanations .plot').length")
        assert explained >= 3  # global, local and check views of the winner
        text = page.evaluate("document.getElementById('explanations').innerText")
        assert "integrated_gradients" in text and "completeness" in text
    finally:
        page.close()


def hostile_csv(path: Path, n: int = 120) -> Path:
    """A CSV whose first feature is named like a script tag and whose class label is an image
    tag with an error handler; the label depends on that feature, so it gets attributions."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, XSS_CLASS, "plain")
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([XSS_FEATURE, "b", "c", "label"])
        w.writerows([*(f"{v:.3f}" for v in X[i]), y[i]] for i in range(n))
    return path


@pytest.mark.slow
def test_hostile_names_from_a_csv_are_shown_as_text(browser: Any, tmp_path: Path) -> None:
    data = hostile_csv(tmp_path / "hostile.csv")
    s = search_in(tmp_path, "--data", data, "--target", "label")
    report = s.run / "report.html"
    html = report.read_text(encoding="utf-8")
    assert XSS_FEATURE not in html and XSS_CLASS not in html  # never raw markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert XSS_FEATURE in collect(s.run)["explanations"]["feature_names"]
    page = open_page(browser, report)
    try:
        time.sleep(0.3)  # an injected onerror handler would fire right after load
        assert page.problems() == {}  # above all: no alert dialog
        text = page.evaluate("document.body.innerText")
        assert XSS_FEATURE in text and XSS_CLASS in text  # visible, as text
        assert page.evaluate("document.scripts.length") == 4  # ours: data, config, plotly, app
        assert page.evaluate("document.querySelectorAll('img, iframe').length") == 0
    finally:
        page.close()


# --- explanation failures never lose the search -----------------------------------------------


def test_a_failed_explanation_keeps_the_search_and_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_global_state: None
) -> None:
    import nas
    import nas.explaining

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("attributions exploded")

    monkeypatch.setattr(nas.explaining, "explain_run", broken)
    space = tmp_path / "space.toml"
    space.write_text(TINY_FNN, encoding="utf-8")
    result = nas.search(
        dataset="iris", space=str(space), n_trials=3, epochs=2, seed=3, out=tmp_path / "run",
        threads=1, explain=True, report=True, reports_dir=tmp_path / "reports",
    )  # fmt: skip
    run = tmp_path / "run"
    assert result.spec is not None and result.explanations is None
    assert {p.name for p in (run / "best").iterdir()} >= {"spec.json", "model.pt", "metrics.json"}
    assert len(result.warnings) == 1
    assert "explanations failed (attributions exploded)" in result.warnings[0]
    assert f"nas explain {run}" in result.warnings[0]
    assert result.report_path == run / "report.html" and result.report_path.is_file()
    assert (tmp_path / "reports" / "run.html").is_file()
    assert collect(run)["explanations"] is None and nas.load_model(run) is not None


def test_importances_of_equal_value_come_in_a_fixed_order(tmp_path: Path) -> None:
    """Parameters of equal importance (here the eight that do not matter) are listed by name,
    not in the order of Python's per-process string hashing."""
    import optuna

    from nas.config import SearchConfig
    from nas.reporting import _study_data

    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="ties", storage=url,
                                sampler=optuna.samplers.RandomSampler(seed=0))  # fmt: skip
    names = [f"p{i}" for i in range(8)]
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + 0 * sum(
        t.suggest_categorical(n, ["a", "b"]) == "a" for n in names), n_trials=12)  # fmt: skip
    config = SearchConfig.create("iris", study="ties")
    _, importances, _ = _study_data(tmp_path, config, url)
    assert importances is not None and set(importances) == {"x", *names}
    assert list(importances) == sorted(importances, key=lambda k: (-importances[k], k))
