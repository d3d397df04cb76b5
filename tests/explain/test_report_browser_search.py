"""The Search section's leaderboard in headless Chromium (network off): readable at 800 px wide
(it scrolls in its card; no cell breaks a word), the text filter hides rows, the CSV link holds
every row, and the winner comes first, marked. Skips without a Chromium binary."""

from __future__ import annotations

import copy
import csv
import io
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from explain.report import render_report
from explain.report.search_section import COLUMNS, hparams_text
from tests.conftest import explain_helper

fx = explain_helper("report_fixtures")
hc = explain_helper("headless_chromium")
Chromium, Page = hc.Chromium, hc.Page

# Every text of a cell in the search tables, word by word: a word drawn on two lines, or wider
# than its cell's content box, is a word broken (or cut) by a squeezed column; a one-line cell
# must not overflow its box. The leaderboard's hyperparameters are cut with an ellipsis on
# purpose (their title holds them whole): skipped.
BROKEN_WORDS = """(function (selector) {
  var out = [];
  document.querySelectorAll(selector || "#search table td").forEach(function (td) {
    if (td.matches("#leaderboard td.hp:not(.open)")) { return; }
    var cs = getComputedStyle(td);
    var box = td.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    var walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT), node;
    while ((node = walker.nextNode())) {
      var re = /\\S+/g, m;
      while ((m = re.exec(node.data))) {
        var r = document.createRange();
        r.setStart(node, m.index);
        r.setEnd(node, m.index + m[0].length);
        var rects = Array.from(r.getClientRects()).filter(function (x) { return x.width > 0; });
        var lines = new Set(rects.map(function (x) { return Math.round(x.top); })).size;
        var width = r.getBoundingClientRect().width;
        if (lines > 1 || width > box + 0.5) { out.push(m[0] + " (" + lines + " lines, " +
          width.toFixed(1) + " px in " + box.toFixed(1) + " px)"); }
      }
    }
    if (cs.whiteSpace === "nowrap" && td.scrollWidth > td.clientWidth) {
      out.push("overflow: " + td.textContent);
    }
  });
  return out;
})"""
EVERY_TABLE = BROKEN_WORDS + "('table td')"
BROKEN_WORDS += "()"
SQUEEZE = """(function () {
  var s = document.createElement("style");
  s.textContent = "#search table { table-layout: fixed !important; width: 100% !important; "
    + "min-width: 0 !important } #search td, #search th { white-space: normal !important; "
    + "overflow-wrap: anywhere !important; min-width: 0 !important }";
  document.head.appendChild(s);
  return 1;
})()"""


def search_data() -> dict[str, Any]:
    """The tabular fixture with what nas now records per trial: searched hyperparameters (one
    trial with sgd), depth, and the last reported value of the trials that have one."""
    data = copy.deepcopy(fx.tabular_classification(n_local=2))
    for r in data["trials"]:
        n, fam = r["number"], r["family"]
        r["hparams"] = {
            "family": fam,
            f"{fam}.n_blocks": 1 + n % 4,
            f"{fam}.units": 16 * (1 + n % 5),
            "train.lr": round(1e-4 * (1 + n), 6),
            "train.batch_size": 128,
            "train.optimizer": "sgd" if n == 7 else "adamw",
        }
        r["depth"] = 1 + n % 4
        if r["state"] == "pruned":
            r["last_value"], r["last_step"] = 0.5 + n / 100, 3
    return data


@pytest.fixture(scope="module")
def page(browser: Chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The report opened at 800 x 900 (set before a reload, so it is laid out at that width)."""
    p = _at_800(
        browser, render_report(search_data(), tmp_path_factory.mktemp("search") / "report.html")
    )
    try:
        yield p
    finally:
        p.close()


def test_the_page_is_800_px_wide_and_the_leaderboard_scrolls_in_its_card(page: Any) -> None:
    assert page.evaluate("window.innerWidth") == 800
    assert page.evaluate("document.documentElement.scrollWidth") <= 800  # the page never scrolls
    box = page.evaluate(
        "(function () { var s = document.getElementById('leaderboard').parentElement;"
        " return [s.scrollWidth, s.clientWidth, getComputedStyle(s).overflowX]; })()"
    )
    assert box[0] > box[1] and box[2] == "auto"  # wider than its card: it scrolls, not squeezes
    assert page.problems() == {}


def test_no_search_table_cell_breaks_a_word_at_800_px(page: Any) -> None:
    n_cells = page.evaluate("document.querySelectorAll('#search table td').length")
    assert n_cells >= 40 * len(COLUMNS)  # the leaderboard, the families and the top models
    assert page.evaluate(BROKEN_WORDS) == []


def test_a_squeezed_table_is_caught(browser: Chromium, tmp_path: Path) -> None:
    """A negative control: the same report with the tables forced to fit (words broken
    anywhere) fails the check above."""
    p = Page(browser, render_report(search_data(), tmp_path / "squeezed.html"))
    try:
        p.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 800, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        p.evaluate(SQUEEZE)
        broken = p.evaluate(BROKEN_WORDS)
    finally:
        p.close()
    assert len(broken) > 10


def test_the_winner_comes_first_marked_and_in_view(page: Any) -> None:
    data = search_data()
    win = data["best"]["trial"]
    first = page.evaluate(
        "(function () { var r = document.querySelector('#leaderboard tbody tr');"
        " var b = r.querySelector('.badge-winner'), s = r.closest('.scroll');"
        " var br = b.getBoundingClientRect(), sr = s.getBoundingClientRect();"
        " var other = r.nextElementSibling.cells[1];"
        " return [r.cells[0].getAttribute('data-v'), r.className, b.textContent,"
        " br.width > 0 && br.left >= sr.left && br.right <= sr.right,"
        " getComputedStyle(r.cells[1]).backgroundColor, getComputedStyle(other).backgroundColor,"
        " document.querySelectorAll('#leaderboard .badge-winner').length]; })()"
    )
    assert first[0] == str(win) and "winner" in first[1].split() and first[2] == "winner"
    assert first[3] is True  # the badge is inside the card's visible width
    assert first[4] != first[5]  # highlighted
    assert first[6] == 1


def visible_numbers(page: Any, text: str) -> tuple[list[int], str, bool]:
    """Type ``text`` in the filter; the trial numbers of the rows left, the count's words and
    whether the "no row" note shows."""
    page.evaluate(
        "(function () { var i = document.getElementById('leaderboard-filter');"
        f" i.value = {text!r}; i.dispatchEvent(new Event('input')); return 1; }})()"
    )
    numbers = page.evaluate(
        "Array.from(document.querySelectorAll('#leaderboard tbody tr'))"
        ".filter(r => !r.hidden && r.offsetHeight > 0).map(r => Number(r.cells[0].dataset.v))"
    )
    count = page.evaluate("document.getElementById('leaderboard-count').textContent")
    empty = page.evaluate("!document.getElementById('leaderboard-empty').hidden")
    return sorted(numbers), count, empty


def test_the_text_filter_hides_rows(page: Any) -> None:
    trials = search_data()["trials"]
    n = len(trials)
    assert visible_numbers(page, "sgd") == ([7], f"1 of {n} rows", False)
    cnn = [t["number"] for t in trials if t["family"] == "cnn"]
    assert visible_numbers(page, "CNN") == (cnn, f"{len(cnn)} of {n} rows", False)
    both = [t["number"] for t in trials if t["family"] == "cnn" and t["state"] == "pruned"]
    assert 0 < len(both) < len(cnn)
    assert visible_numbers(page, "pruned cnn.") == (both, f"{len(both)} of {n} rows", False)
    assert visible_numbers(page, "no-such-text") == ([], f"0 of {n} rows", True)
    assert visible_numbers(page, "") == (sorted(t["number"] for t in trials), f"{n} rows", False)


def test_the_csv_link_holds_every_row(page: Any) -> None:
    data = search_data()
    href = page.evaluate("document.getElementById('leaderboard-csv').href")
    assert href.startswith("data:text/csv")
    assert page.evaluate("document.getElementById('leaderboard-csv').download") == "leaderboard.csv"
    rows = list(csv.reader(io.StringIO(urllib.parse.unquote(href.split(",", 1)[1]))))
    header, body = rows[0], rows[1:]
    assert header == [c or "accuracy" for c in COLUMNS]
    trials = {t["number"]: t for t in data["trials"]}
    assert len(body) == len(trials) and int(body[0][0]) == data["best"]["trial"]
    assert sorted(int(r[0]) for r in body) == sorted(trials)
    col = {name: i for i, name in enumerate(header)}
    for r in body:
        t = trials[int(r[0])]
        assert r[col["state"]] == t["state"] and r[col["family"]] == t["family"]
        assert (float(r[col["accuracy"]]) if r[col["accuracy"]] else None) == t["metric"]
        assert int(r[col["params"]]) == t["params"]  # the raw value, not "47.7 k"
        assert r[col["hyperparameters"]] == hparams_text(t["hparams"])
        assert r[col["reason"]] == (t["reason"] or "")  # commas quoted, read back whole
    assert any("," in r[col["reason"]] for r in body)  # the check above covered a quoted field


def _at_800(browser: Chromium, path: Path) -> Any:
    """A report opened at 800 x 900."""
    return at_width(browser, path, 800)


def at_width(browser: Chromium, path: Path, width: int) -> Any:
    """A report opened at ``width`` x 900 (set before a reload, so it is laid out at that
    width: media queries apply)."""
    p = Page(browser, path)
    p.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    p.evaluate("window.__before_reload = 1")
    p.send("Page.reload")
    deadline = time.monotonic() + 45
    ready = "!window.__before_reload && document.body && document.body.hasAttribute("
    while not p.evaluate(ready + "'data-plots-ready')"):
        assert time.monotonic() < deadline, "the reloaded report never drew its plots"
        time.sleep(0.1)
    return p


@pytest.mark.parametrize(
    "build",
    [
        fx.tabular_classification,
        fx.image_classification,
        fx.sequence_classification,
        fx.regression,
    ],  # fmt: skip
)
def test_no_table_of_any_section_breaks_a_word_at_800_px(
    browser: Chromium, tmp_path: Path, build: Any
) -> None:
    """Every table of the page (the winner's architecture with its settings, the checks with
    their values, the methods, ...): no word on two lines, none wider than its cell; tables
    wider than their card scroll in it, and the page itself never scrolls sideways."""
    data = build()
    for stage in data.get("stages") or []:  # a float setting as the search records it
        stage.setdefault("params", {})["dropout"] = 0.18906932206550758
    p = _at_800(browser, render_report(data, tmp_path / "report.html"))
    try:
        assert p.evaluate(EVERY_TABLE) == []
        assert p.evaluate("document.documentElement.scrollWidth") <= 800
    finally:
        p.close()
