/* The alert centre: the series chart of an alert (values, baseline, limits, the point
   that fired), the silence form's "until" field, and the rule form's kind-specific
   fields. Every text comes translated from the page. */
(function () {
  "use strict";

  function alertChart() {
    var configNode = document.getElementById("alert-chart-config");
    var canvas = document.getElementById("alert-chart");
    if (!configNode || !canvas || !window.Chart) return;
    var config = JSON.parse(configNode.textContent);
    var message = document.getElementById("alert-chart-message");
    function say(text) { message.textContent = text; message.classList.remove("d-none"); }
    fetch(config.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        var points = data.points;
        if (!points.length) { say(config.labels.empty); return; }
        var labels = points.map(function (p) { return p.period_start; });
        var pick = function (key) { return points.map(function (p) { return p[key]; }); };
        var fired = points.map(function (p) { return p.fired; });
        var limit = function (key, color, dash) {
          return { label: config.labels[key], data: pick(key), borderColor: color, borderDash: dash, borderWidth: 1.5,
                   pointRadius: 0, stepped: "middle", spanGaps: true, fill: false };
        };
        new Chart(canvas, {
          type: "line",
          data: {
            labels: labels,
            datasets: [
              { label: config.labels.value + (data.unit_name ? " (" + data.unit_name + ")" : ""), data: pick("value"),
                borderColor: "#0d6efd", backgroundColor: "#0d6efd", tension: 0.1, spanGaps: true,
                pointRadius: fired.map(function (f) { return f ? 7 : 3; }),
                pointStyle: fired.map(function (f) { return f ? "rectRot" : "circle"; }),
                pointBackgroundColor: fired.map(function (f) { return f ? "#dc3545" : "#0d6efd"; }),
                pointBorderColor: fired.map(function (f) { return f ? "#dc3545" : "#0d6efd"; }) },
              limit("baseline", "#6c757d", [2, 3]),
              limit("ucl", "#dc3545", [6, 4]),
              limit("lcl", "#fd7e14", [6, 4])
            ]
          },
          options: {
            maintainAspectRatio: false, animation: false,
            interaction: { mode: "index", intersect: false },
            scales: { x: { title: { display: true, text: config.labels.period } } },
            plugins: {
              legend: { position: "bottom" },
              tooltip: { callbacks: { afterBody: function (items) {
                return items.length && fired[items[0].dataIndex] ? config.labels.fired : "";
              } } }
            }
          }
        });
      })
      .catch(function () { say(config.labels.error); });
  }

  function silenceForm() {
    var until = document.getElementById("silence-until");
    if (!until) return;
    document.querySelectorAll("[data-silence-duration]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        var custom = radio.checked && radio.value === "custom";
        if (radio.checked) until.classList.toggle("d-none", !custom);
        until.required = custom;
      });
    });
  }

  function ruleForm() {
    var kind = document.getElementById("id_kind");
    if (!kind) return;
    function show() {
      document.querySelectorAll("[data-kind-group]").forEach(function (group) {
        var on = group.getAttribute("data-kind-group") === kind.value;
        group.classList.toggle("d-none", !on);
        group.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !on; });
      });
      var kpi = document.getElementById("kpi-fields");
      if (kpi) kpi.classList.toggle("opacity-50", kind.value === "process");
    }
    kind.addEventListener("change", show);
    show();
  }

  alertChart();
  silenceForm();
  ruleForm();
})();
