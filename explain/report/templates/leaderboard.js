// The leaderboard's text filter and its CSV download. Plain JS; report.js (before this) sorts it.
// Cells are read with textContent / data-v and nothing is ever written as HTML.
(function () {
  "use strict";
  var table = document.getElementById("leaderboard");
  if (!table) { return; }
  var body = table.tBodies[0];
  var input = document.getElementById("leaderboard-filter");
  var count = document.getElementById("leaderboard-count");
  var empty = document.getElementById("leaderboard-empty");
  var link = document.getElementById("leaderboard-csv");

  // Keep the rows whose text holds every word typed (case-insensitive); hide the others.
  function filter() {
    var words = input.value.toLowerCase().split(/\s+/).filter(function (w) { return w !== ""; });
    var rows = body.rows, shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var text = rows[i].textContent.toLowerCase();
      var keep = words.every(function (w) { return text.indexOf(w) !== -1; });
      rows[i].hidden = !keep;
      if (keep) { shown++; }
    }
    if (count) {
      count.textContent = words.length ? shown + " of " + rows.length + " rows" : rows.length + " rows";
    }
    if (empty) { empty.hidden = shown !== 0; }
  }
  // A hyperparameters cell is one line cut with an ellipsis: a click opens it whole (again
  // to close); its title shows it on hover.
  body.addEventListener("click", function (e) {
    var td = e.target.closest ? e.target.closest("td.hp") : null;
    if (td) { td.classList.toggle("open"); }
  });
  if (input) {
    input.addEventListener("input", filter);
    if (input.value) { filter(); }  // a value the browser restored on reload
  }

  // One CSV field: the raw value (data-v: full precision, "" when missing), quoted when it
  // must be, and a text that a spreadsheet would run as a formula is prefixed with '.
  function field(v) {
    var s = String(v);
    if (/^[=+\-@\t\r]/.test(s) && !isFinite(Number(s))) { s = "'" + s; }
    return /[",\r\n]/.test(s) ? "\"" + s.replace(/"/g, "\"\"") + "\"" : s;
  }
  function csv() {
    var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) {
      return field(th.textContent.trim());
    });
    var lines = [heads.join(",")];
    Array.prototype.forEach.call(body.rows, function (tr) {  // every row, filtered or not
      lines.push(Array.prototype.map.call(tr.cells, function (td) {
        return field(td.getAttribute("data-v") || "");
      }).join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }
  if (link) {
    // Built once, from the table as rendered (the rows' order when the page opened).
    link.href = "data:text/csv;charset=utf-8," + encodeURIComponent(csv());
    link.title = "All " + body.rows.length + " trials as CSV (raw values)";
  }
})();
