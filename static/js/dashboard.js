// KPI dashboards. The view writes the page's state (its query string, cleaned) and every
// text to show, translated, into #dashboard-config; each [data-widget] fetches its JSON
// from the KPI API (/api/v1/kpis/...) with that state and draws it with Chart.js.
// Drill-downs are links that add a filter to the URL, so every view can be shared and
// the back button works; choosing a dimension or a period only rewrites the URL.
(function () {
  "use strict";

  if (!window.Chart) return;

  var config = null;
  var L = {};
  var COLORS = {};
  var DAY = 86400000;
  // Display precision per unit; the API never rounds (METRICS.md), display does.
  var DECIMALS = {
    "%": 1,
    points: 1,
    per_10k_customers: 2,
    per_1000_units: 2,
    h: 1,
    min: 1,
    days: 1,
    currency: 2,
    tickets: 0,
    reviews: 2,
    count: 0,
  };
  var CATEGORY_ICONS = {
    customer_experience: "bi-emoji-smile",
    problem_tracing: "bi-search",
    service_efficiency: "bi-stopwatch",
    continuous_improvement: "bi-arrow-repeat",
    custom: "bi-sliders",
  };
  var BREAKDOWN_LIMIT = 25;
  var PARETO_LIMIT = 20;

  // --- small helpers ----------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function icon(name) {
    var i = el("i", "bi " + name);
    i.setAttribute("aria-hidden", "true");
    return i;
  }

  function slot(node, name) {
    return node.querySelector('[data-slot="' + name + '"]');
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, (_match, key) => values[key]);
  }

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function alpha(color, opacity) {
    var hex = color.replace("#", "");
    if (hex.length === 3) hex = hex.replace(/./g, "$&$&");
    if (!/^[0-9a-f]{6}$/i.test(hex)) return color;
    var n = parseInt(hex, 16);
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + opacity + ")";
  }

  // --- dates and periods: local dates "YYYY-MM-DD", computed in UTC to dodge DST -----------

  function parseDay(text) {
    var p = text.split("-");
    return new Date(Date.UTC(+p[0], +p[1] - 1, +p[2]));
  }

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  function addMonths(date, n) {
    var index = date.getUTCFullYear() * 12 + date.getUTCMonth() + n;
    return new Date(Date.UTC(Math.floor(index / 12), index % 12, 1));
  }

  function grainFloor(date, grain) {
    var y = date.getUTCFullYear();
    var m = date.getUTCMonth();
    if (grain === "day") return date;
    if (grain === "week") return new Date(date.getTime() - ((date.getUTCDay() + 6) % 7) * DAY);
    if (grain === "month") return new Date(Date.UTC(y, m, 1));
    if (grain === "quarter") return new Date(Date.UTC(y, m - (m % 3), 1));
    return new Date(Date.UTC(y, 0, 1));
  }

  function grainNext(date, grain) {
    if (grain === "day") return new Date(date.getTime() + DAY);
    if (grain === "week") return new Date(date.getTime() + 7 * DAY);
    return addMonths(date, { month: 1, quarter: 3, year: 12 }[grain]);
  }

  // The card value and the breakdowns are of the last period of the range.
  function lastPeriod(state) {
    return isoDay(grainFloor(new Date(parseDay(state.end).getTime() - DAY), state.grain));
  }

  // One period of the range, cut by the range (METRICS.md: [max(START, p), min(END, next p))).
  function periodRange(state, period) {
    var p = parseDay(period);
    var start = parseDay(state.start);
    var end = parseDay(state.end);
    var next = grainNext(p, state.grain);
    return { start: isoDay(p > start ? p : start), end: isoDay(next < end ? next : end) };
  }

  function periodLabel(period, grain) {
    if (!period) return "";
    var year = period.slice(0, 4);
    var month = period.slice(5, 7);
    if (grain === "year") return year;
    if (grain === "quarter") return format(L.quarter, { year: year, quarter: String(Math.floor((+month - 1) / 3) + 1) });
    if (grain === "month") return year + "-" + month;
    return period;
  }

  // --- numbers ----------------------------------------------------------------------------

  var formats = {};

  function locale() {
    var lang = document.documentElement.lang || "en";
    return lang.toLowerCase() === "zh-hans" ? "zh-Hans" : lang;
  }

  function fmt(value, unit, signed) {
    if (value === null || value === undefined) return "–";
    var digits = unit in DECIMALS ? DECIMALS[unit] : 2;
    var key = digits + (signed ? "s" : "");
    if (!formats[key]) {
      formats[key] = new Intl.NumberFormat(locale(), {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
        signDisplay: signed ? "exceptZero" : "auto",
      });
    }
    return formats[key].format(value);
  }

  function unitText(kpi) {
    return kpi.unit === "%" ? "%" : kpi.unit_name;
  }

  function withUnit(value, kpi, signed) {
    if (value === null || value === undefined) return "–";
    return fmt(value, kpi.unit, signed) + (kpi.unit === "%" ? "%" : " " + kpi.unit_name);
  }

  function count(value) {
    if (value === null || value === undefined) return "–";
    return new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(value);
  }

  function memberLabel(dim, member) {
    if (member === "(none)") return L.none;
    var labels = config.members[dim];
    return (labels && labels[member]) || member;
  }

  function statusColor(status) {
    return COLORS[status] || COLORS.none;
  }

  function statusBadge(status) {
    if (!status) return el("span", "text-body-secondary", "–");
    return el("span", "badge kpi-badge-" + status, L[status]);
  }

  // --- URLs -------------------------------------------------------------------------------

  function query(params) {
    var q = new URLSearchParams();
    Object.keys(params).forEach(function (key) {
      if (params[key] !== "" && params[key] !== null && params[key] !== undefined) q.set(key, params[key]);
    });
    return q.toString();
  }

  function apiUrl(kind, code, params) {
    return config.api[kind].replace("__code__", encodeURIComponent(code)) + "?" + query(params);
  }

  function pageUrl(kind, code, params) {
    return config.pages[kind].replace("__code__", encodeURIComponent(code)) + "?" + query(params);
  }

  // What the API needs: the grain, the dates and the dimension filters.
  function apiParams(state, filters) {
    return Object.assign({ grain: state.grain, start: state.start, end: state.end }, filters);
  }

  // What a page link carries: a relative range stays relative, so a shared link moves on.
  function pageParams(state, filters) {
    var params = { grain: state.grain };
    if (state.range) params.range = state.range;
    else Object.assign(params, { start: state.start, end: state.end });
    return Object.assign(params, filters);
  }

  function setExports(node, code, params) {
    node.querySelectorAll("a[data-export]").forEach(function (link) {
      link.href = apiUrl("export", code, Object.assign({ format: link.dataset.export }, params));
    });
  }

  // Rewrite one parameter of the current URL (no new history entry); the language switch
  // and the filter bar keep it.
  function setParam(name, value) {
    var params = new URLSearchParams(window.location.search);
    if (value) params.set(name, value);
    else params.delete(name);
    var url = window.location.pathname + (params.toString() ? "?" + params.toString() : "");
    window.history.replaceState(window.history.state, "", url);
    document.querySelectorAll(".lang-switch input[name=next]").forEach(function (input) {
      input.value = url;
    });
    document.querySelectorAll('input[data-keep="' + name + '"]').forEach(function (input) {
      input.value = value;
    });
  }

  function getJSON(url) {
    var headers = { Accept: "application/json" };
    return fetch(url, { credentials: "same-origin", headers: headers }).then((response) =>
      response
        .json()
        .catch(() => ({}))
        .then(function (body) {
          if (!response.ok) throw new Error(body.detail || response.statusText || String(response.status));
          return body;
        })
    );
  }

  // --- widget plumbing --------------------------------------------------------------------

  function kpiOf(node) {
    var code = node.dataset.kpi || (config.kpi && config.kpi.code);
    if (config.kpi && config.kpi.code === code) return config.kpi;
    return config.kpis[code];
  }

  function widgetFilters(node) {
    var extra = node.dataset.filters ? JSON.parse(node.dataset.filters) : {};
    return Object.assign({}, config.state.filters, extra);
  }

  // Each run of a widget gets a token; a late answer to an earlier run is dropped.
  function begin(node) {
    var token = {};
    node._dashboardRun = token;
    var loading = slot(node, "loading");
    if (loading) loading.hidden = false;
    message(node, "");
    return function (fn) {
      return function (value) {
        if (node._dashboardRun !== token) return undefined;
        if (loading) loading.hidden = true;
        return fn(value);
      };
    };
  }

  function message(node, text, css) {
    var box = slot(node, "message");
    if (!box) return;
    box.replaceChildren();
    if (text) box.appendChild(el("p", "text-center small py-3 mb-0 " + (css || "text-body-secondary"), text));
  }

  function failed(node) {
    return function (error) {
      var loading = slot(node, "loading");
      if (loading) loading.hidden = true;
      message(node, L.loadError + " " + (error && error.message ? error.message : ""), "text-danger");
    };
  }

  function showChart(node, visible) {
    var box = slot(node, "box");
    if (box) box.hidden = !visible;
  }

  function draw(canvas, spec) {
    var old = window.Chart.getChart(canvas);
    if (old) old.destroy();
    return new window.Chart(canvas, spec);
  }

  function tooltipFooter(rows, kpi) {
    return function (items) {
      var row = rows[items[0].dataIndex];
      if (!row) return "";
      var lines = [];
      if (row.denominator !== null && row.denominator !== undefined) {
        lines.push(L.numerator + ": " + count(row.numerator) + " · " + L.denominator + ": " + count(row.denominator));
      }
      if (row.target !== null && row.target !== undefined) lines.push(L.target + ": " + withUnit(row.target, kpi));
      if (row.status) lines.push(L.status + ": " + L[row.status]);
      if (row.provisional) lines.push(L.provisional);
      return lines;
    };
  }

  // Legends list the datasets in their own order (`order` only decides what is drawn on top).
  function legend(display) {
    return {
      display: display,
      position: "bottom",
      labels: {
        sort: (a, b) => a.datasetIndex - b.datasetIndex,
      },
    };
  }

  function renderTable(container, columns, rows) {
    if (!container) return;
    var table = el("table", "table table-sm table-hover align-middle mb-0 data-table");
    var head = el("thead", "table-light");
    var tr = el("tr");
    columns.forEach(function (column) {
      var th = el("th", column.css || "", column.label);
      th.scope = "col";
      tr.appendChild(th);
    });
    head.appendChild(tr);
    table.appendChild(head);
    var body = el("tbody");
    rows.forEach(function (row) {
      var line = el("tr");
      columns.forEach(function (column) {
        var td = el("td", column.css || "");
        var value = column.cell(row);
        if (value instanceof Node) td.appendChild(value);
        else td.textContent = value;
        line.appendChild(td);
      });
      body.appendChild(line);
    });
    table.appendChild(body);
    var wrapper = el("div", "table-responsive");
    wrapper.appendChild(table);
    container.replaceChildren(wrapper);
  }

  function recordsLink(kpi, filters, period) {
    var params = pageParams(config.state, filters);
    params.period_start = period;
    var link = el("a", "text-nowrap", L.records);
    link.href = pageUrl("records", kpi.code, params);
    link.title = L.recordsOf;
    link.prepend(icon("bi-list-ul"), " ");
    return link;
  }

  function valueColumns(kpi, filters, dim) {
    var columns = [];
    if (dim) {
      columns.push({
        label: config.dimension_names[dim] || dim,
        css: "text-nowrap",
        cell: (row) => memberLabel(dim, row[dim]),
      });
    } else {
      columns.push({
        label: L.period,
        css: "text-nowrap",
        cell: (row) => periodLabel(row.period_start, config.state.grain),
      });
    }
    columns.push({ label: L.value + " (" + unitText(kpi) + ")", css: "text-end", cell: (row) => fmt(row.value, kpi.unit) });
    if (kpi.kind !== "count") {
      columns.push({ label: L.numerator, css: "text-end", cell: (row) => count(row.numerator) });
      columns.push({ label: L.denominator, css: "text-end", cell: (row) => count(row.denominator) });
    }
    columns.push({ label: L.target, css: "text-end", cell: (row) => fmt(row.target, kpi.unit) });
    columns.push({ label: L.status, cell: (row) => statusBadge(row.status) });
    columns.push({
      label: "",
      cell: function (row) {
        var span = el("span", "d-flex gap-2 justify-content-end");
        if (row.provisional) span.appendChild(el("span", "badge text-bg-light border", L.provisionalMark));
        var rowFilters = Object.assign({}, filters);
        if (dim) rowFilters[dim] = row[dim];
        span.appendChild(recordsLink(kpi, rowFilters, row.period_start));
        return span;
      },
    });
    return columns;
  }

  // --- drill-down -------------------------------------------------------------------------

  function nextDimension(kpi, dim, filters) {
    var path = config.drill_paths.find((p) => p.indexOf(dim) >= 0) || [dim];
    for (var i = path.indexOf(dim) + 1; i < path.length; i++) {
      if (kpi.dims.indexOf(path[i]) >= 0 && !(path[i] in filters)) return path[i];
    }
    return null;
  }

  // Filter by the clicked member; break down by the next dimension of its drill path on
  // the KPI's page, or, at the end of the path, list the records of that value.
  function drill(node, kpi, dim, member, period) {
    var filters = widgetFilters(node);
    filters[dim] = member;
    var next = nextDimension(kpi, dim, filters);
    var params = pageParams(config.state, filters);
    if (!next) {
      params.period_start = period;
      window.location.assign(pageUrl("records", kpi.code, params));
      return;
    }
    params.period = period;
    var param = node.dataset.param || (node.dataset.widget === "pareto" ? "pareto" : "by");
    if (config.state.by && param !== "by") params.by = config.state.by;
    if (config.state.pareto && param !== "pareto") params.pareto = config.state.pareto;
    params[param] = next;
    window.location.assign(pageUrl("kpi", kpi.code, params));
  }

  // --- widgets ----------------------------------------------------------------------------

  var WIDGETS = {};

  // KPI cards from the overview endpoint: value, target, status, change, sparkline.
  WIDGETS.cards = function (node) {
    var state = config.state;
    var filters = widgetFilters(node);
    var codes = node.dataset.codes ? node.dataset.codes.split(",") : null;
    var then = begin(node);
    getJSON(config.api.overview + "?" + query(apiParams(state, filters)))
      .then(
        then(function (body) {
          node.querySelectorAll("canvas").forEach(function (canvas) {
            var chart = window.Chart.getChart(canvas);
            if (chart) chart.destroy();
          });
          node.querySelectorAll(".kpi-grid, .kpi-category").forEach(function (old) {
            old.remove();
          });
          if (codes) {
            var all = {};
            body.categories.forEach(function (category) {
              category.kpis.forEach(function (card) {
                all[card.code] = card;
              });
            });
            var cards = codes.map((code) => all[code]).filter(Boolean);
            cardGrid(node, cards, body, filters);
          } else {
            body.categories.forEach(function (category) {
              var section = el("section", "kpi-category mb-4");
              var title = el("h2", "h5 mb-2 d-flex align-items-center gap-2");
              title.append(icon(CATEGORY_ICONS[category.code] || "bi-grid"), category.name);
              section.appendChild(title);
              node.appendChild(section);
              cardGrid(section, category.kpis, body, filters);
            });
          }
          if (!node.querySelector(".kpi-card")) message(node, L.noData);
        })
      )
      .catch(failed(node));
  };

  function cardGrid(parent, cards, body, filters) {
    var grid = el("div", "row row-cols-1 row-cols-sm-2 row-cols-lg-3 row-cols-xxl-4 g-3 kpi-grid");
    // Attached first: Chart.js sizes a canvas from its place in the page.
    parent.appendChild(grid);
    cards.forEach(function (card) {
      kpiCard(grid, card, body, filters);
    });
  }

  function kpiCard(grid, card, body, filters) {
    var template = document.getElementById("kpi-card-template");
    var col = template.content.firstElementChild.cloneNode(true);
    var article = slot(col, "card");
    var status = card.applicable && card.status ? card.status : "none";
    article.classList.add("kpi-status-" + status);
    article.dataset.kpi = card.code;
    var link = slot(col, "link");
    link.textContent = card.name;
    link.href = pageUrl("kpi", card.code, pageParams(config.state, filters));
    slot(col, "code").textContent = card.code;
    slot(col, "period").textContent = periodLabel(card.period_start, body.grain);
    var badge = slot(col, "status");
    if (card.applicable && card.status) {
      badge.textContent = L[card.status];
      badge.classList.add("kpi-badge-" + card.status);
    } else {
      badge.remove();
    }
    if (!card.applicable) {
      article.classList.add("kpi-card-na");
      slot(col, "period").textContent = "";
      slot(col, "value").textContent = "–";
      slot(col, "change").textContent = L.notApplicable;
      slot(col, "spark").remove();
      col.querySelector(".chart-download").remove();
      grid.appendChild(col);
      return;
    }
    var value = slot(col, "value");
    if (card.value === null) {
      value.textContent = L.noValue;
      value.classList.add("kpi-value-empty");
    } else {
      value.textContent = fmt(card.value, card.unit);
      slot(col, "unit").textContent = unitText(card);
    }
    slot(col, "change").replaceWith(changeNode(card));
    slot(col, "target").textContent =
      card.target === null ? L.noTarget : L.target + " " + withUnit(card.target, card);
    var badges = slot(col, "badges");
    if (card.provisional) {
      var provisional = el("span", "badge text-bg-light border kpi-provisional", L.provisionalMark);
      provisional.title = L.provisionalHelp;
      provisional.prepend(icon("bi-hourglass-split"), " ");
      badges.appendChild(provisional);
    }
    if (card.data_quality && card.data_quality.score < 100) {
      var quality = el("span", "badge kpi-dq", L.dataQualityShort + " " + Math.round(card.data_quality.score));
      quality.title = L.dataQuality + ": " + (card.data_quality.label || Math.round(card.data_quality.score));
      quality.prepend(icon("bi-clipboard2-pulse"), " ");
      badges.appendChild(quality);
    }
    setExports(col, card.code, apiParams(config.state, filters));
    grid.appendChild(col);
    sparkline(slot(col, "sparkline"), card, body.grain);
  }

  function changeNode(card) {
    var span = el("span", "kpi-change");
    if (card.change === null || card.change === undefined) {
      span.classList.add("text-body-secondary");
      span.textContent = L.noPrevious;
      return span;
    }
    var shown = fmt(card.change, card.unit, true);
    if (card.change === 0 || !/[1-9]/.test(shown)) {
      span.classList.add("text-body-secondary");
      span.append(icon("bi-arrow-right"), " ", L.noChange);
      return span;
    }
    var rising = card.change > 0;
    var good = rising === (card.direction === "up");
    span.classList.add(good ? "text-success" : "text-danger", good ? "kpi-change-good" : "kpi-change-bad");
    span.append(icon(rising ? "bi-arrow-up-right" : "bi-arrow-down-right"), " ", shown + " " + L.vsPrevious);
    span.title = (good ? L.better : L.worse) + " · " + L.previous + ": " + withUnit(card.previous, card);
    return span;
  }

  function sparkline(canvas, card, grain) {
    var color = statusColor(card.status);
    var points = card.sparkline || [];
    canvas.setAttribute("aria-label", card.name);
    draw(canvas, {
      type: "line",
      data: {
        labels: points.map((p) => periodLabel(p.period_start, grain)),
        datasets: [
          {
            data: points.map((p) => p.value),
            borderColor: color,
            backgroundColor: alpha(color, 0.12),
            fill: "origin",
            borderWidth: 1.5,
            pointRadius: 0,
            tension: 0.3,
            spanGaps: true,
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        events: [],
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
        scales: { x: { display: false }, y: { display: false, grace: "5%" } },
      },
    });
  }

  // The KPI per period, the target dashed; a click breaks that period down.
  WIDGETS.trend = function (node) {
    var kpi = kpiOf(node);
    var state = config.state;
    var filters = widgetFilters(node);
    var params = apiParams(state, filters);
    setExports(node, kpi.code, params);
    var then = begin(node);
    getJSON(apiUrl("values", kpi.code, params))
      .then(
        then(function (body) {
          var rows = body.rows;
          renderTable(slot(node, "table"), valueColumns(kpi, filters, null), rows);
          if (!rows.length) {
            showChart(node, false);
            message(node, L.noData);
            return;
          }
          showChart(node, true);
          drawTrend(node, kpi, rows);
        })
      )
      .catch(failed(node));
  };

  function drawTrend(node, kpi, rows) {
    var focus = config.state.period || lastPeriod(config.state);
    var bars = kpi.kind === "count";
    var colors = rows.map((row) => row.status ? statusColor(row.status) : COLORS.series);
    var datasets = [
      {
        type: bars ? "bar" : "line",
        label: kpi.name,
        data: rows.map((row) => row.value),
        borderColor: bars ? colors : COLORS.series,
        backgroundColor: bars
          ? rows.map((row, i) => alpha(colors[i], row.period_start === focus ? 0.85 : 0.5))
          : alpha(COLORS.series, 0.08),
        fill: !bars,
        borderWidth: bars ? 1 : 2,
        maxBarThickness: 64,
        pointBackgroundColor: colors,
        pointBorderColor: colors,
        pointRadius: rows.map((row) => row.period_start === focus ? 6 : 3.5),
        pointHoverRadius: 7,
        pointStyle: rows.map((row) => row.provisional ? "rectRot" : "circle"),
        cubicInterpolationMode: "monotone",
        spanGaps: true,
        order: 2,
      },
    ];
    if (rows.some((row) => row.target !== null && row.target !== undefined)) {
      datasets.push({
        type: "line",
        label: L.target,
        data: rows.map((row) => row.target),
        borderColor: COLORS.target,
        borderDash: [6, 4],
        borderWidth: 1.5,
        pointRadius: 0,
        pointHoverRadius: 0,
        fill: false,
        order: 1,
      });
    }
    draw(slot(node, "chart"), {
      data: {
        labels: rows.map((row) => periodLabel(row.period_start, config.state.grain)),
        datasets: datasets,
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: legend(datasets.length > 1),
          tooltip: {
            callbacks: {
              label: (item) => item.dataset.label + ": " + withUnit(item.raw, kpi),
              footer: tooltipFooter(rows, kpi),
            },
          },
        },
        scales: {
          y: { beginAtZero: bars, title: { display: true, text: unitText(kpi) } },
        },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
        onClick: function (_event, elements) {
          if (!elements.length) return;
          selectPeriod(rows[elements[0].index].period_start);
        },
      },
    });
  }

  // A trend point chosen: the breakdowns show that period (the URL keeps it).
  function selectPeriod(period) {
    config.state.period = period;
    setParam("period", period);
    document.querySelectorAll('[data-widget="trend"]').forEach(function (node) {
      var chart = window.Chart.getChart(slot(node, "chart"));
      if (!chart) return;
      var dataset = chart.data.datasets[0];
      var labels = chart.data.labels;
      var focusLabel = periodLabel(period, config.state.grain);
      if (Array.isArray(dataset.pointRadius)) {
        dataset.pointRadius = labels.map((label) => label === focusLabel ? 6 : 3.5);
      }
      chart.update("none");
    });
    document.querySelectorAll('[data-widget="breakdown"], [data-widget="pareto"]').forEach(run);
  }

  function breakdownSetup(node) {
    var select = slot(node, "dim");
    if (select && !select.dataset.bound) {
      select.dataset.bound = "1";
      select.addEventListener("change", function () {
        var param = node.dataset.param;
        if (param) {
          config.state[param] = select.value;
          setParam(param, select.value);
        }
        run(node);
      });
    }
    return node.dataset.by || (select ? select.value : "");
  }

  function breakdownRequest(node, kpi, dim) {
    var state = config.state;
    var period = state.period || lastPeriod(state);
    var range = periodRange(state, period);
    var filters = widgetFilters(node);
    var params = Object.assign({ grain: state.grain, start: range.start, end: range.end, by: dim }, filters);
    var subtitle = slot(node, "subtitle");
    if (subtitle) subtitle.textContent = "· " + periodLabel(period, state.grain);
    setExports(node, kpi.code, params);
    return { period: period, filters: filters, url: apiUrl("values", kpi.code, params) };
  }

  function limited(node, rows, limit) {
    var max = Number(node.dataset.limit) || limit;
    if (rows.length > max) {
      message(node, format(L.topOf, { shown: max, total: rows.length }));
      return rows.slice(0, max);
    }
    return rows;
  }

  function barClick(node, kpi, dim, rows, period) {
    return {
      onHover: function (event, elements) {
        event.native.target.style.cursor = elements.length ? "pointer" : "default";
      },
      onClick: function (_event, elements) {
        if (!elements.length) return;
        drill(node, kpi, dim, rows[elements[0].index][dim], period);
      },
    };
  }

  // The KPI of one period by the members of one dimension, largest first.
  WIDGETS.breakdown = function (node) {
    var kpi = kpiOf(node);
    var dim = breakdownSetup(node);
    if (!dim) return;
    var request = breakdownRequest(node, kpi, dim);
    var then = begin(node);
    getJSON(request.url)
      .then(
        then(function (body) {
          var rows = body.rows.slice().sort(function (a, b) {
            if (a.value === null) return 1;
            if (b.value === null) return -1;
            return b.value - a.value;
          });
          renderTable(slot(node, "table"), valueColumns(kpi, request.filters, dim), rows);
          if (!rows.length) {
            showChart(node, false);
            message(node, L.noData);
            return;
          }
          showChart(node, true);
          rows = limited(node, rows, BREAKDOWN_LIMIT);
          var box = slot(node, "box");
          box.style.height = Math.max(280, 26 * rows.length + 70) + "px";
          var colors = rows.map((row) => row.status ? statusColor(row.status) : COLORS.series);
          var datasets = [
            {
              type: "bar",
              label: kpi.name,
              data: rows.map((row) => row.value),
              backgroundColor: colors.map((c) => alpha(c, 0.75)),
              borderColor: colors,
              borderWidth: 1,
              maxBarThickness: 28,
              order: 2,
            },
          ];
          if (rows.some((row) => row.target !== null && row.target !== undefined)) {
            // Each member's target as a tick across its bar (a bullet chart).
            datasets.push({
              type: "line",
              label: L.target,
              data: rows.map((row) => row.target),
              showLine: false,
              pointStyle: "line",
              pointRotation: 90,
              pointRadius: 11,
              pointHoverRadius: 11,
              pointBorderWidth: 2.5,
              borderColor: COLORS.target,
              backgroundColor: COLORS.target,
              order: 1,
            });
          }
          draw(
            slot(node, "chart"),
            {
              data: {
                labels: rows.map((row) => memberLabel(dim, row[dim])),
                datasets: datasets,
              },
              options: Object.assign(
                {
                  indexAxis: "y",
                  responsive: true,
                  maintainAspectRatio: false,
                  interaction: { mode: "index", axis: "y", intersect: false },
                  plugins: {
                    legend: legend(datasets.length > 1),
                    tooltip: {
                      callbacks: {
                        label: (item) => item.dataset.label + ": " + withUnit(item.raw, kpi),
                        footer: tooltipFooter(rows, kpi),
                      },
                    },
                  },
                  scales: {
                    x: { beginAtZero: true, title: { display: true, text: unitText(kpi) } },
                    y: { ticks: { autoSkip: false } },
                  },
                },
                barClick(node, kpi, dim, rows, request.period)
              ),
            }
          );
        })
      )
      .catch(failed(node));
  };

  // Pareto: the members by what they contribute (records counted, or the count KPI's
  // value), sorted, with the cumulative share.
  WIDGETS.pareto = function (node) {
    var kpi = kpiOf(node);
    var dim = breakdownSetup(node);
    if (!dim) return;
    var request = breakdownRequest(node, kpi, dim);
    var measure = kpi.kind === "count" ? "value" : "numerator";
    var measureLabel = kpi.name;
    if (kpi.kind === "mean") measureLabel = L.paretoSum + " (" + unitText(kpi) + ")";
    else if (kpi.kind === "ratio") measureLabel = L.paretoCount;
    var then = begin(node);
    getJSON(request.url)
      .then(
        then(function (body) {
          var rows = body.rows
            .filter((row) => row[measure] > 0)
            .sort((a, b) => b[measure] - a[measure]);
          var total = rows.reduce((sum, row) => sum + row[measure], 0);
          var running = 0;
          rows.forEach(function (row) {
            running += row[measure];
            row.cumulative = total ? (100 * running) / total : null;
          });
          var columns = valueColumns(kpi, request.filters, dim);
          columns.splice(1, 0, {
            label: L.cumulative,
            css: "text-end",
            cell: (row) => fmt(row.cumulative, "%") + "%",
          });
          renderTable(slot(node, "table"), columns, rows);
          if (!rows.length) {
            showChart(node, false);
            message(node, L.noData);
            return;
          }
          showChart(node, true);
          rows = limited(node, rows, PARETO_LIMIT);
          var labels = rows.map((row) => memberLabel(dim, row[dim]));
          draw(slot(node, "chart"), {
            data: {
              labels: labels,
              datasets: [
                {
                  type: "bar",
                  label: measureLabel,
                  data: rows.map((row) => row[measure]),
                  backgroundColor: alpha(COLORS.series, 0.75),
                  borderColor: COLORS.series,
                  borderWidth: 1,
                  maxBarThickness: 64,
                  yAxisID: "y",
                  order: 2,
                },
                {
                  type: "line",
                  label: L.cumulative,
                  data: rows.map((row) => row.cumulative),
                  borderColor: COLORS.missed,
                  backgroundColor: COLORS.missed,
                  pointRadius: 3,
                  borderWidth: 2,
                  yAxisID: "y1",
                  order: 1,
                },
                {
                  type: "line",
                  label: L.paretoLine,
                  data: labels.map(() => 80),
                  borderColor: COLORS.target,
                  borderDash: [4, 4],
                  borderWidth: 1,
                  pointRadius: 0,
                  pointHoverRadius: 0,
                  yAxisID: "y1",
                  order: 0,
                },
              ],
            },
            options: Object.assign(
              {
                responsive: true,
                maintainAspectRatio: false,
                interaction: { mode: "index", intersect: false },
                plugins: {
                  legend: legend(true),
                  tooltip: {
                    callbacks: {
                      label: function (item) {
                        if (item.datasetIndex === 0) return item.dataset.label + ": " + count(item.raw);
                        return item.dataset.label + ": " + fmt(item.raw, "%") + "%";
                      },
                    },
                  },
                },
                scales: {
                  y: { beginAtZero: true, title: { display: true, text: measureLabel } },
                  y1: {
                    position: "right",
                    min: 0,
                    max: 100,
                    grid: { drawOnChartArea: false },
                    ticks: {
                      callback: (value) => value + "%",
                    },
                  },
                  x: { ticks: { autoSkip: false, maxRotation: 60 } },
                },
              },
              barClick(node, kpi, dim, rows, request.period)
            ),
          });
        })
      )
      .catch(failed(node));
  };

  // The drill-through: the records counted in one value, a page at a time.
  WIDGETS.records = function (node) {
    var kpi = config.kpi;
    var state = config.state;
    var params = Object.assign(
      {
        grain: state.grain,
        period_start: state.period_start,
        start: state.start,
        end: state.end,
        side: state.side,
        page: state.page,
        page_size: config.page_size,
      },
      state.filters
    );
    var then = begin(node);
    getJSON(apiUrl("records", kpi.code, params))
      .then(
        then(function (body) {
          slot(node, "count").textContent = format(L.recordCount, { count: count(body.count) });
          slot(node, "model").textContent = config.models[body.model] || body.model;
          if (!body.results.length) {
            slot(node, "table").replaceChildren();
            message(node, L.noRecords);
            return;
          }
          var linked = body.fields.indexOf("ref") >= 0 ? "ref" : body.fields[0];
          var columns = body.fields.map(function (field) {
            return {
              label: config.record_labels[field] || field,
              css: field === "id" ? "text-body-secondary" : "",
              cell: function (row) {
                var text = recordValue(field, row[field]);
                if (field === linked && row.url) {
                  var link = el("a", "fw-semibold", text);
                  link.href = row.url;
                  return link;
                }
                return text;
              },
            };
          });
          renderTable(slot(node, "table"), columns, body.results);
          pager(node, body.count, state.page, config.page_size);
        })
      )
      .catch(failed(node));
  };

  var dateTimes = null;

  function recordValue(field, value) {
    if (value === null || value === undefined || value === "") return "–";
    if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
      if (!dateTimes) {
        dateTimes = new Intl.DateTimeFormat("en-GB", {
          timeZone: config.time_zone,
          year: "numeric",
          month: "2-digit",
          day: "2-digit",
          hour: "2-digit",
          minute: "2-digit",
          hourCycle: "h23",
        });
      }
      // As the queue shows times: YYYY-MM-DD HH:MM, in the site's time zone.
      var parts = {};
      dateTimes.formatToParts(new Date(value)).forEach(function (part) {
        parts[part.type] = part.value;
      });
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
    }
    var labels = config.members[field];
    if (labels && labels[value]) return labels[value];
    return String(value);
  }

  function pager(node, total, current, size) {
    var box = slot(node, "pager");
    var pages = Math.max(1, Math.ceil(total / size));
    box.replaceChildren();
    box.hidden = pages <= 1;
    if (pages <= 1) return;
    var nav = el("nav", "d-flex flex-wrap align-items-center justify-content-between gap-2");
    nav.setAttribute("aria-label", L.records);
    nav.appendChild(el("span", "small text-body-secondary", format(L.page, { number: current, pages: pages })));
    var list = el("ul", "pagination pagination-sm mb-0");
    function item(label, page, disabled) {
      var li = el("li", "page-item" + (disabled ? " disabled" : ""));
      var link = el(disabled ? "span" : "a", "page-link", label);
      if (!disabled) {
        var params = new URLSearchParams(window.location.search);
        params.set("page", page);
        link.href = "?" + params.toString();
      }
      li.appendChild(link);
      list.appendChild(li);
    }
    item("« " + L.previousPage, current - 1, current <= 1);
    item(L.nextPage + " »", current + 1, current >= pages);
    nav.appendChild(list);
    box.appendChild(nav);
  }

  // --- start ------------------------------------------------------------------------------

  function run(node) {
    var widget = WIDGETS[node.dataset.widget];
    if (widget) widget(node);
  }

  function syncFilterBar() {
    var form = document.querySelector(".dashboard-filters");
    if (!form) return;
    ["range", "start", "end", "grain"].forEach(function (name) {
      var field = form.elements[name];
      if (field && config.state[name] !== undefined) field.value = config.state[name];
    });
  }

  function start(root) {
    var source = document.getElementById("dashboard-config");
    if (!source) return;
    config = JSON.parse(source.textContent);
    L = config.labels;
    COLORS = {
      met: cssVar("--kpi-met", "#198754"),
      near: cssVar("--kpi-near", "#e69500"),
      missed: cssVar("--kpi-missed", "#dc3545"),
      none: cssVar("--kpi-none", "#8a94a6"),
      series: cssVar("--kpi-series", "#2b5283"),
      target: cssVar("--kpi-target", "#6c757d"),
    };
    var chart = window.Chart;
    chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    chart.defaults.color = cssVar("--bs-secondary-color", "#6c757d");
    document.querySelectorAll("[data-period]").forEach(function (node) {
      node.textContent = periodLabel(node.dataset.period, config.state.grain);
    });
    syncFilterBar();
    (root || document).querySelectorAll("[data-widget]").forEach(run);
  }

  function destroyCharts(root) {
    root.querySelectorAll("canvas").forEach(function (canvas) {
      var chart = window.Chart.getChart(canvas);
      if (chart) chart.destroy();
    });
  }

  // The filter bar: a relative range and dates exclude each other.
  document.addEventListener(
    "change",
    function (event) {
      var target = event.target;
      if (!target.form || !target.form.classList.contains("dashboard-filters")) return;
      if (target.matches("[data-range-select]") && target.value) {
        target.form.querySelectorAll("[data-date-input]").forEach(function (input) {
          input.value = "";
        });
      } else if (target.matches("[data-date-input]")) {
        var range = target.form.querySelector("[data-range-select]");
        if (range) range.value = "";
      }
    },
    true
  );

  // htmx swaps the dashboard body when the filters change: new state, new charts.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "dashboard-body") destroyCharts(event.detail.target);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "dashboard-body") start(event.detail.target);
  });

  // Back to a filtered view: htmx puts its snapshot back, canvases blank; draw them again.
  document.addEventListener("htmx:historyRestore", function () {
    Object.values(window.Chart.instances).forEach(function (chart) {
      if (!chart.canvas || !chart.canvas.isConnected) chart.destroy();
    });
    start(document);
  });

  start(document);
})();
