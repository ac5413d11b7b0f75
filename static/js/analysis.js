// Reliability analytics pages. The view writes the scope (cleaned query parameters), the
// API URLs and every label, translated, into #analysis-config; this script fetches the
// analysis API with that scope and draws the charts (Chart.js) and tables.
(function () {
  "use strict";

  var configNode = document.getElementById("analysis-config");
  if (!configNode || !window.Chart) return;
  var config = JSON.parse(configNode.textContent);
  var L = config.labels;
  var RED = "#dc3545";
  var BLUE = "#0d6efd";
  var GREY = "#6c757d";
  var GREEN = "#198754";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function num(value, digits) {
    if (value === null || value === undefined || !isFinite(value)) return "–";
    return Number(value).toLocaleString(config.lang, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
  }

  function message(text, kind) {
    var box = document.getElementById("analysis-message");
    box.replaceChildren();
    if (text) box.appendChild(el("div", "alert alert-" + (kind || "warning"), text));
  }

  function fetchJSON(url, extra) {
    var params = new URLSearchParams(Object.assign({}, config.params, extra || {}));
    return fetch(url + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } }).then(
      function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.detail || L.error);
          return body;
        });
      },
    );
  }

  // rows: arrays of cells; a cell is text or {text, className}.
  function table(id, headers, rows, rowClass) {
    var holder = document.getElementById(id);
    if (!holder) return;
    var t = el("table", "table table-sm table-hover align-middle mb-0 small");
    var head = t.createTHead().insertRow();
    headers.forEach(function (h) {
      var th = el("th", "text-nowrap", h);
      th.scope = "col";
      head.appendChild(th);
    });
    var body = t.createTBody();
    rows.forEach(function (cells, i) {
      var tr = body.insertRow();
      if (rowClass) tr.className = rowClass(i) || "";
      cells.forEach(function (cell) {
        var td = tr.insertCell();
        if (cell && typeof cell === "object") {
          td.textContent = cell.text;
          if (cell.className) td.className = cell.className;
          if (cell.title) td.title = cell.title;
        } else {
          td.textContent = cell;
        }
      });
    });
    holder.replaceChildren(t);
  }

  function chart(id, options) {
    var canvas = document.getElementById(id);
    if (!canvas) return null;
    options.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, options.options);
    return new window.Chart(canvas, options);
  }

  function bounds(fit, name, digits) {
    if (!fit || fit[name + "_lower"] === null || fit[name + "_lower"] === undefined) return "";
    return num(fit[name + "_lower"], digits) + " – " + num(fit[name + "_upper"], digits);
  }

  function withValue(value, range) {
    return range ? num(value[0], value[1]) + " [" + range + "]" : num(value[0], value[1]);
  }

  // --- pages ------------------------------------------------------------------------------

  function summary() {
    fetchJSON(config.api.weibull).then(function (body) {
      var mle = body.fits.filter(function (f) {
        return f.method === "mle";
      })[0];
      table(
        "summary-table",
        [L.units, L.failures, L.suspensions, L.beta, L.eta, L.b10],
        [
          [
            num(body.units, 0),
            num(body.failures, 0),
            num(body.suspensions, 0),
            mle ? num(mle.beta, 3) : L.notFitted,
            mle ? num(mle.eta, 1) : "–",
            mle ? num(mle.b10, 2) : "–",
          ],
        ],
      );
    }, showError);
  }

  function weibullPage() {
    fetchJSON(config.api.weibull).then(function (body) {
      if (!body.fits.length) message(L.noData + " " + Object.values(body.reasons).join(" "));
      if (body.excluded) message(num(body.excluded, 0) + " " + L.excluded, "info");
      var colors = { mle: RED, rrx: GREEN, rry: GREY };
      var datasets = [
        {
          type: "scatter",
          label: L.medianRanks,
          data: body.plot.points.map(function (p) {
            return { x: p.x, y: p.y, t: p.time, F: p.F };
          }),
          backgroundColor: BLUE,
          pointRadius: 2.5,
        },
      ];
      body.plot.lines.forEach(function (line) {
        datasets.push({
          type: "line",
          label: L.fitted + " (" + L[line.method] + ")",
          data: line.points.map(function (p) {
            return { x: p.x, y: p.y };
          }),
          borderColor: colors[line.method],
          borderWidth: line.method === "mle" ? 2 : 1,
          borderDash: line.method === "mle" ? [] : [5, 4],
          pointRadius: 0,
        });
      });
      chart("weibull-plot", {
        data: { datasets: datasets },
        options: {
          scales: {
            x: { type: "linear", title: { display: true, text: L.xAxis } },
            y: { type: "linear", title: { display: true, text: L.yAxis } },
          },
          plugins: {
            tooltip: {
              callbacks: {
                label: function (ctx) {
                  var raw = ctx.raw;
                  if (raw.t === undefined) return ctx.dataset.label;
                  return L.months + " " + num(raw.t, 2) + " · F = " + num(raw.F * 100, 2) + "%";
                },
              },
            },
          },
        },
      });
      table(
        "fit-table",
        [L.method, L.beta, L.eta, L.b10],
        body.fits.map(function (f) {
          return [
            L[f.method],
            withValue([f.beta, 3], bounds(f, "beta", 3)),
            withValue([f.eta, 1], bounds(f, "eta", 1)),
            withValue([f.b10, 2], bounds(f, "b10", 2)),
          ];
        }),
      );
    }, showError);
    var section = document.getElementById("batch-section");
    if (!config.params.product_model || config.params.batch) {
      if (section) section.hidden = true;
      return;
    }
    fetchJSON(config.api.batches, { product_model: config.params.product_model }).then(function (body) {
      var rows = body.batches.filter(function (b) {
        return b.fit;
      });
      chart("batch-chart", {
        type: "bar",
        data: {
          labels: rows.map(function (b) {
            return b.batch;
          }),
          datasets: [
            {
              label: L.beta,
              data: rows.map(function (b) {
                return b.fit.beta;
              }),
              backgroundColor: rows.map(function (b) {
                return b.stands_out ? RED : BLUE;
              }),
              yAxisID: "y",
            },
            {
              type: "line",
              label: L.b10,
              data: rows.map(function (b) {
                return b.fit.b10;
              }),
              borderColor: GREY,
              backgroundColor: GREY,
              yAxisID: "y2",
            },
          ],
        },
        options: {
          scales: {
            y: { beginAtZero: true, title: { display: true, text: L.beta } },
            y2: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: L.b10 } },
          },
        },
      });
      var mf = body.model_fit;
      var tableRows = body.batches.map(function (b) {
        var f = b.fit;
        return [
          b.batch,
          b.produced_on,
          num(b.units_sold, 0),
          num(b.failures, 0),
          num(b.failures_per_1000, 1),
          f ? withValue([f.beta, 3], bounds(f, "beta", 3)) : L.notFitted,
          f ? withValue([f.eta, 1], bounds(f, "eta", 1)) : "–",
          f ? withValue([f.b10, 2], bounds(f, "b10", 2)) : "–",
          b.stands_out
            ? { text: "⚠ " + L.standsOut, className: "text-danger fw-semibold", title: L.standsOutHint }
            : b.shape_differs
              ? { text: L.shapeDiffers, className: "text-body-secondary" }
              : "",
        ];
      });
      if (mf) {
        tableRows.push([
          { text: L.wholeModel, className: "fw-semibold" },
          "",
          num(body.units, 0),
          num(body.failures, 0),
          num(body.units ? (1000 * body.failures) / body.units : null, 1),
          withValue([mf.beta, 3], bounds(mf, "beta", 3)),
          withValue([mf.eta, 1], bounds(mf, "eta", 1)),
          withValue([mf.b10, 2], bounds(mf, "b10", 2)),
          "",
        ]);
      }
      table(
        "batch-table",
        [L.batch, L.producedOn, L.unitsSold, L.failures, L.per1000, L.beta, L.eta, L.b10, ""],
        tableRows,
        function (i) {
          return body.batches[i] && body.batches[i].stands_out ? "table-danger" : "";
        },
      );
    }, showError);
  }

  function nevadaPage() {
    fetchJSON(config.api.nevada).then(function (body) {
      if (!body.rows.length) message(L.noData);
      var peak = 0;
      body.rows.forEach(function (r) {
        Object.values(r.cells).forEach(function (n) {
          peak = Math.max(peak, n);
        });
      });
      var headers = [body.basis === "sale" ? L.saleMonth : L.productionMonth, L.units];
      for (var m = 0; m <= body.max_mis; m++) headers.push(String(m));
      headers.push(L.total);
      var rows = body.rows.map(function (r) {
        var cells = [r.month, num(r.units, 0)];
        for (var m = 0; m <= body.max_mis; m++) {
          var n = r.cells[String(m)] || 0;
          if (m > r.max_mis) {
            cells.push({ text: "", className: "nevada-future" });
          } else {
            var level = peak ? Math.ceil((n / peak) * 5) : 0;
            cells.push({ text: n ? String(n) : "", className: "text-end nevada-cell nevada-" + level });
          }
        }
        cells.push({ text: num(r.failures, 0), className: "text-end fw-semibold" });
        return cells;
      });
      var totals = [{ text: L.total, className: "fw-semibold" }, num(body.units, 0)];
      for (var k = 0; k <= body.max_mis; k++) totals.push({ text: num(body.totals[String(k)], 0), className: "text-end fw-semibold" });
      totals.push({ text: num(body.failures, 0), className: "text-end fw-semibold" });
      rows.push(totals);
      table("nevada-table", headers, rows);
      var holder = document.getElementById("nevada-table");
      if (holder) holder.querySelector("table").classList.add("nevada-table");
    }, showError);
  }

  function claimsPage() {
    fetchJSON(config.api.claims).then(function (body) {
      if (!body.failures) message(L.noData);
      var labels = body.rows.map(function (r) {
        return r.months;
      });
      chart("claims-chart", {
        type: "line",
        data: {
          labels: labels,
          datasets: [
            { label: L.kmBand, data: body.rows.map(function (r) { return r.km_upper; }), borderColor: "rgba(220,53,69,0.15)", backgroundColor: "rgba(220,53,69,0.12)", pointRadius: 0, fill: "+1" },
            { label: L.kmBand, data: body.rows.map(function (r) { return r.km_lower; }), borderColor: "rgba(220,53,69,0.15)", pointRadius: 0, fill: false },
            { label: L.km, data: body.rows.map(function (r) { return r.km; }), borderColor: RED, backgroundColor: RED, stepped: true, borderWidth: 2 },
            { label: L.naive, data: body.rows.map(function (r) { return r.naive; }), borderColor: BLUE, backgroundColor: BLUE, stepped: true, borderDash: [6, 4] },
          ],
        },
        options: {
          scales: {
            x: { title: { display: true, text: L.mis } },
            y: { beginAtZero: true, title: { display: true, text: L.claimsPer1000 } },
          },
          plugins: {
            legend: {
              labels: {
                filter: function (item) {
                  return item.datasetIndex !== 1;
                },
              },
            },
          },
        },
      });
      table(
        "claims-table",
        [L.mis, L.failures, L.units, L.naive, L.km, L.kmBand],
        body.rows.map(function (r) {
          return [r.months, num(r.claims, 0), num(r.units_reaching, 0), num(r.naive, 2), num(r.km, 2), num(r.km_lower, 2) + " – " + num(r.km_upper, 2)];
        }),
      );
    }, showError);
  }

  function forecastPage() {
    fetchJSON(config.api.forecast).then(function (body) {
      if (!body.fit) message(L.noData + " " + (body.reason || ""));
      var cards = document.getElementById("forecast-cards");
      var row = el("div", "row g-3");
      var first = el("div", "col-6 col-lg-3");
      var card = el("div", "card card-body shadow-sm h-100");
      card.appendChild(el("div", "small text-body-secondary", L.inService));
      card.appendChild(el("div", "fs-3 fw-semibold", num(body.units_in_service, 0)));
      first.appendChild(card);
      row.appendChild(first);
      body.horizons.forEach(function (h) {
        var col = el("div", "col-6 col-lg-3");
        var c = el("div", "card card-body shadow-sm h-100");
        c.appendChild(el("div", "small text-body-secondary", L.nextMonths.replace("%(n)s", h.months)));
        c.appendChild(el("div", "fs-3 fw-semibold text-danger", num(h.expected_failures, 1)));
        col.appendChild(c);
        row.appendChild(col);
      });
      cards.replaceChildren(row);
      chart("forecast-chart", {
        type: "bar",
        data: {
          labels: body.curve.map(function (p) {
            return p.months;
          }),
          datasets: [{ label: L.expected, data: body.curve.map(function (p) { return p.expected_failures; }), backgroundColor: RED }],
        },
        options: {
          scales: {
            x: { title: { display: true, text: L.months } },
            y: { beginAtZero: true, title: { display: true, text: L.expected } },
          },
        },
      });
      var f = body.fit;
      table(
        "forecast-table",
        [L.months, L.expected],
        body.curve.map(function (p) {
          return [p.months, num(p.expected_failures, 2)];
        }).concat(f ? [[L.beta + " / " + L.eta, num(f.beta, 3) + " / " + num(f.eta, 1)]] : []),
      );
    }, showError);
  }

  function paretoPage() {
    fetchJSON(config.api.pareto).then(function (body) {
      if (!body.rows.length) message(L.noData);
      var zh = String(config.lang).indexOf("zh") === 0;
      var name = function (r) {
        return r.code + " " + ((zh && r.name_zh) || r.name_en);
      };
      chart("pareto-chart", {
        data: {
          labels: body.rows.map(name),
          datasets: [
            { type: "bar", label: L.failures, data: body.rows.map(function (r) { return r.failures; }), backgroundColor: BLUE, yAxisID: "y" },
            { type: "line", label: L.cumulative, data: body.rows.map(function (r) { return r.cumulative_share; }), borderColor: RED, backgroundColor: RED, yAxisID: "y2" },
          ],
        },
        options: {
          scales: {
            y: { beginAtZero: true, title: { display: true, text: L.failures } },
            y2: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: L.cumulative } },
          },
        },
      });
      table(
        "pareto-table",
        [L.failureMode, L.failures, L.units, L.share, L.cumulative, L.partsCost],
        body.rows.map(function (r) {
          return [name(r), num(r.failures, 0), num(r.units, 0), num(r.share, 1), num(r.cumulative_share, 1), num(r.parts_cost, 2)];
        }),
      );
    }, showError);
  }

  function showError(error) {
    message(error && error.message ? error.message : L.error, "danger");
  }

  var pages = { index: summary, weibull: weibullPage, nevada: nevadaPage, claims: claimsPage, forecast: forecastPage, pareto: paretoPage };
  (pages[config.page] || function () {})();
})();
