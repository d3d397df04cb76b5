// explain.js: the beeswarm's class selector shows the traces of one output (class) at a time.
// Plain JS; it reads only the figure already drawn from the JSON data and the option's index,
// and builds no HTML.
(function () {
  "use strict";
  function show(select) {
    var el = document.getElementById(select.getAttribute("data-plot"));
    if (!el || !window.Plotly || !el.data) { return; }
    var k = Number(select.value);
    var visible = el.data.map(function (t) { return t.meta === k; });
    Plotly.restyle(el, { visible: visible });
    el.setAttribute("data-output", String(k));
  }
  document.querySelectorAll("select.beeswarm-output").forEach(function (select) {
    select.addEventListener("change", function () { show(select); });
  });
})();
