// A template's chart, drawn from the result table on the page (so chart and table agree): the
// table says which columns are x, y and series (data-chart-*); suppressed cells are gaps.
// Chart.js (vendored, window.Chart). Without this script the table is the whole result.
(function () {
  "use strict";
  var table = document.getElementById("result-table");
  var canvas = document.getElementById("result-chart");
  if (!table || !canvas || typeof window.Chart === "undefined") { return; }
  var spec = table.dataset;
  var names = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
    return th.dataset.column;
  });
  var xi = names.indexOf(spec.chartX);
  var yi = names.indexOf(spec.chartY);
  var si = spec.chartSeries ? names.indexOf(spec.chartSeries) : -1;
  if (xi < 0 || yi < 0) { return; }
  var palette = ["#0b3d91", "#a4161a", "#00703c", "#6f3c97", "#b35c00", "#005a70", "#4a4a4a", "#c2185b"];
  var labels = [];
  var series = {};
  var order = [];
  Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (tr) {
    var cells = tr.children;
    var x = cells[xi].textContent;
    var name = si >= 0 ? cells[si].textContent : spec.chartY;
    var cell = cells[yi];
    var y = cell.dataset.suppressed || cell.textContent === "" ? null : Number(cell.textContent);
    if (labels.indexOf(x) < 0) { labels.push(x); }
    if (!series[name]) { series[name] = {}; order.push(name); }
    series[name][x] = y;
  });
  var kind = spec.chartKind === "bar" ? "bar" : "line"; // a heatmap is drawn as one line per series
  var datasets = order.map(function (name, i) {
    var colour = palette[i % palette.length];
    return {
      label: name,
      data: labels.map(function (x) { return x in series[name] ? series[name][x] : null; }),
      backgroundColor: colour,
      borderColor: colour,
      spanGaps: false,
    };
  });
  window.gatewayChart = new window.Chart(canvas, {
    type: kind,
    data: { labels: labels, datasets: datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: order.length > 1 } },
      scales: { y: { beginAtZero: true, title: { display: true, text: spec.chartY } } },
    },
  });
})();
