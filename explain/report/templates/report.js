// Draw every figure, make the leaderboard sortable, highlight the section in view.
// Plain JS, no library besides the inlined Plotly; the figures come as JSON data, never code.
(function () {
  "use strict";
  var figures = JSON.parse(document.getElementById("report-figures").textContent);
  // the buttons a static report uses (download, zoom, pan, reset): a shorter bar covers less
  var config = { displaylogo: false, responsive: true, typesetMath: false,
                 modeBarButtonsToRemove: ["select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d"] };
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

// Printing and "Save as PDF" (print.css holds the page rules). A closed <details> prints as its
// summary alone, and CSS cannot open it: every closed one opens just before the print and
// closes again after. Plotly draws each figure at the pixel size it had on screen; a viewBox on
// its SVG layers lets print.css shrink a figure wider than the printed page to the page's width.
(function () {
  "use strict";
  var opened = null;
  var scaled = [];
  function beforePrint() {
    if (opened) { return; }  // already prepared: beforeprint and the print media query both fire
    opened = Array.prototype.filter.call(document.querySelectorAll("details"), function (d) {
      return !d.open;
    });
    opened.forEach(function (d) { d.open = true; });
    document.querySelectorAll(".js-plotly-plot .svg-container").forEach(function (box) {
      var first = box.querySelector("svg.main-svg");  // the size Plotly drew at, in CSS px
      var size = first && { width: Number(first.getAttribute("width")),
                            height: Number(first.getAttribute("height")) };
      if (!size || !(size.width > 0 && size.height > 0)) { return; }
      box.setAttribute("data-screen-style", box.style.cssText);
      box.style.width = size.width + "px";  // print.css: never wider than the page allows
      box.style.aspectRatio = size.width + " / " + size.height;
      box.classList.add("print-fit");
      box.querySelectorAll("svg.main-svg").forEach(function (svg) {
        if (!svg.hasAttribute("viewBox")) {
          svg.setAttribute("viewBox", "0 0 " + size.width + " " + size.height);
          scaled.push(svg);
        }
      });
      scaled.push(box);
    });
  }
  function afterPrint() {
    if (!opened) { return; }
    opened.forEach(function (d) { d.open = false; });
    opened = null;
    scaled.forEach(function (el) {
      if (el.tagName.toLowerCase() === "svg") {
        el.removeAttribute("viewBox");
      } else {
        el.style.cssText = el.getAttribute("data-screen-style") || "";
        el.removeAttribute("data-screen-style");
        el.classList.remove("print-fit");
      }
    });
    scaled = [];
  }
  window.addEventListener("beforeprint", beforePrint);
  window.addEventListener("afterprint", afterPrint);
  if (window.matchMedia) {  // browsers that print without the two events still switch media
    var print = window.matchMedia("print");
    var onChange = function (e) { if (e.matches) { beforePrint(); } else { afterPrint(); } };
    if (print.addEventListener) { print.addEventListener("change", onChange); }
    else if (print.addListener) { print.addListener(onChange); }
  }
  // For tests and for a reader's own print button: the same preparation, callable.
  window.nasReport = window.nasReport || {};
  window.nasReport.beforePrint = beforePrint;
  window.nasReport.afterPrint = afterPrint;
})();
