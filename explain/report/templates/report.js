// Draw every figure, make the leaderboard sortable, highlight the section in view.
// Plain JS, no library besides the inlined Plotly; the figures come as JSON data, never code.
(function () {
  "use strict";
  var figures = JSON.parse(document.getElementById("report-figures").textContent);
  var config = { displaylogo: false, responsive: true, typesetMath: false };
  var pending = [];
  Object.keys(figures).forEach(function (id) {
    var el = document.getElementById(id);
    if (el && window.Plotly) {
      pending.push(Plotly.newPlot(el, figures[id].data, figures[id].layout, config));
    }
  });
  // Tests and printing wait for this flag: every plot has been drawn.
  Promise.all(pending).then(function () {
    document.body.setAttribute("data-plots-ready", String(pending.length));
  });

  function cellValue(row, i) {
    var v = row.cells[i].getAttribute("data-v");
    var n = Number(v);
    return v !== "" && isFinite(n) ? n : v;
  }
  function sortBy(table, th, i) {
    var asc = !th.classList.contains("asc");
    table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
    th.classList.add(asc ? "asc" : "desc");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, i), y = cellValue(b, i);
      var ex = x === "", ey = y === "";
      if (ex || ey) { return ex === ey ? 0 : ex ? 1 : -1; }  // missing values always last
      var c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, i) {
      th.addEventListener("click", function () { sortBy(table, th, i); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(table, th, i); } });
    });
  });

  var links = document.querySelectorAll("nav.side a");
  if ("IntersectionObserver" in window) {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (!e.isIntersecting) { return; }
        links.forEach(function (a) { a.classList.toggle("active", a.getAttribute("href") === "#" + e.target.id); });
      });
    }, { rootMargin: "-20% 0px -70% 0px" });
    document.querySelectorAll("main > section").forEach(function (s) { observer.observe(s); });
  }
})();
