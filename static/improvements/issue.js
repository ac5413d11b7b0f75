// The issue page: the closure waterfall (days per phase, each bar starting where the
// previous phase ended; the running phase drawn lighter) and the disabled buttons' tooltips.
(function () {
  "use strict";
  document.querySelectorAll('[data-bs-toggle="tooltip"]').forEach(function (el) {
    if (window.bootstrap) new bootstrap.Tooltip(el);
  });
  var source = document.getElementById("waterfall-data");
  var canvas = document.getElementById("waterfall-chart");
  if (!source || !canvas || !window.Chart) return;
  var data = JSON.parse(source.textContent);
  var spent = [], running = [], start = 0;
  data.days.forEach(function (days, i) {
    var end = start + days;
    spent.push(days > 0 ? [start, end] : null);
    var more = data.running[i] || 0;
    running.push(more > 0 ? [end, end + more] : null);
    start = end + more;
  });
  var labels = data.labels.concat([data.text.total]);
  spent.push([0, start]);
  running.push(null);
  var style = getComputedStyle(document.documentElement);
  var primary = style.getPropertyValue("--bs-primary").trim() || "#0d6efd";
  var colors = spent.map(function (_v, i) { return i === labels.length - 1 ? "rgba(25, 135, 84, .75)" : primary; });
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: labels,
      datasets: [
        {label: data.text.spent, data: spent, backgroundColor: colors, borderRadius: 3},
        {label: data.text.running, data: running, backgroundColor: "rgba(13, 110, 253, .3)", borderColor: primary, borderWidth: 1, borderDash: [4, 2], borderRadius: 3}
      ]
    },
    options: {
      indexAxis: "y",
      maintainAspectRatio: false,
      animation: false,
      datasets: {bar: {grouped: false}},
      scales: {
        x: {beginAtZero: true, title: {display: true, text: data.text.days}}
      },
      plugins: {
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var v = ctx.raw;
              if (!v) return "";
              return ctx.dataset.label + ": " + (v[1] - v[0]).toFixed(1) + " " + data.text.days;
            }
          }
        }
      }
    }
  });
})();
