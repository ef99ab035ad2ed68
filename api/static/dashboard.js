/* The evaluation dashboard (考核评价): rankings, weekly trends, categories and the hotspot map.
 *
 * It logs in with the API's own token (kept in sessionStorage for this tab only) and draws what the
 * evaluation API answers for the caller: the page never holds more than the caller may read. Every text
 * that comes from the data is set with textContent or as an ECharts string, never as HTML.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "wangge.dashboard.token";
  var API = "/api/v1";
  // The classes' colours come with the legend the server rendered (gis.models.evaluation.HOTSPOT_COLOURS).
  var HOT_COLOURS = {};
  document.querySelectorAll("#db-legend [data-class]").forEach(function (item) {
    HOT_COLOURS[item.dataset.class] = item.dataset.colour;
  });
  var charts = {};
  var map = null;
  var hotLayer = null;

  function $(id) { return document.getElementById(id); }
  function token() { return window.sessionStorage.getItem(TOKEN_KEY); }
  function pct(x) { return x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%"; }
  function num(x, digits) { return x === null || x === undefined ? "—" : Number(x).toFixed(digits); }
  function signed(x) { return x === null || x === undefined ? "—" : (x > 0 ? "+" : "") + (x * 100).toFixed(1) + "%"; }

  function api(path, params) {
    var url = API + path + (params ? "?" + new URLSearchParams(params).toString() : "");
    return fetch(url, { headers: { Authorization: "Bearer " + token() } }).then(function (response) {
      if (response.status === 401) { logout(); throw new Error("请重新登录"); }
      if (!response.ok) {
        return response.json().then(function (body) {
          // The zh-CN message every error body carries (api.errors); never the server's English.
          throw new Error(body && body.messages && body.messages["zh-CN"] ? body.messages["zh-CN"]
            : "请求失败（" + response.status + "）");
        }, function (e) {
          if (e instanceof SyntaxError) throw new Error("请求失败（" + response.status + "）");
          throw e;
        });
      }
      return response;
    });
  }

  function logout() {
    window.sessionStorage.removeItem(TOKEN_KEY);
    $("db-main").hidden = true;
    $("db-login").hidden = false;
  }

  function login(event) {
    event.preventDefault();
    var form = event.target;
    $("db-login-error").textContent = "";
    fetch(API + "/auth/token", { method: "POST", body: new URLSearchParams(new FormData(form)) })
      .then(function (response) {
        if (!response.ok) throw new Error("用户名或密码不正确");
        return response.json();
      })
      .then(function (body) {
        window.sessionStorage.setItem(TOKEN_KEY, body.access_token);
        start();
      })
      .catch(function (error) { $("db-login-error").textContent = error.message; });
  }

  function chart(id) {
    if (!charts[id]) charts[id] = window.echarts.init($(id), null, { renderer: "canvas" });
    return charts[id];
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
  }

  function table(id, headers, rows) {
    var element = $(id);
    element.replaceChildren();
    var head = element.createTHead().insertRow();
    headers.forEach(function (h) { var th = document.createElement("th"); th.textContent = h; head.appendChild(th); });
    var body = element.createTBody();
    rows.forEach(function (values) {
      var tr = body.insertRow();
      values.forEach(function (v, i) { cell(tr, v, i > 0 ? "db-num" : null); });
    });
  }

  function filters() {
    var form = $("db-filters");
    return { by: form.elements.by.value, from: form.elements.from.value, to: form.elements.to.value };
  }

  function kpis(total) {
    var items = [
      ["上报数", String(total.reported)], ["立案数", String(total.registered)], ["结案率", pct(total.closure_rate)],
      ["按期结案率", pct(total.on_time_rate)], ["返工率", pct(total.rework_rate)], ["超期数", String(total.overdue)],
      ["核查及时率", pct(total.check_rate)], ["综合指标值", num(total.score, 1)],
    ];
    var box = $("db-kpis");
    box.replaceChildren();
    items.forEach(function (item) {
      var card = document.createElement("div");
      card.className = "db-kpi";
      var label = document.createElement("span");
      label.textContent = item[0];
      var value = document.createElement("strong");
      value.textContent = item[1];
      card.append(label, value);
      box.appendChild(card);
    });
  }

  function label(row) { return row.name || row.code || "（未定）"; }

  function ranking(body) {
    var rows = body.rows.slice().sort(function (a, b) { return (b.score ?? -1) - (a.score ?? -1); });
    table("db-rank-table", ["名称", "上报", "应结案", "结案率", "按期结案率", "返工率", "延期率", "超期", "综合"],
      rows.map(function (r) {
        return [label(r), String(r.reported), String(r.due), pct(r.closure_rate), pct(r.on_time_rate),
          pct(r.rework_rate), pct(r.extension_rate), String(r.overdue), num(r.score, 1)];
      }));
    var top = rows.filter(function (r) { return r.score !== null; }).slice(0, 15).reverse();
    chart("db-rank-chart").setOption({
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", max: 100 },
      yAxis: { type: "category", data: top.map(label) },
      series: [{ type: "bar", name: "综合指标值", data: top.map(function (r) { return r.score; }),
        itemStyle: { color: "#3366cc" } }],
    }, true);
  }

  function trends(body) {
    var top = body.series.slice(0, 5);
    chart("db-trend-chart").setOption({
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      xAxis: { type: "category", data: body.weeks.map(function (w) { return w.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: top.map(function (s) { return { type: "line", name: label(s), data: s.weekly, smooth: false }; }),
    }, true);
    table("db-trend-table", ["名称", "本期", "上期", "环比", "去年同期", "同比"], body.series.map(function (s) {
      return [label(s), String(s.current), String(s.previous), signed(s.change), String(s.last_year),
        signed(s.change_yoy)];
    }));
  }

  function categories(body) {
    var rows = body.rows.slice().sort(function (a, b) { return b.reported - a.reported; }).slice(0, 15).reverse();
    chart("db-category-chart").setOption({
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: rows.map(label) },
      series: [{ type: "bar", name: "上报数", data: rows.map(function (r) { return r.reported; }),
        itemStyle: { color: "#d95f0e" } }],
    }, true);
  }

  function hotspots() {
    var features = [];
    function page(offset) {
      return api("/layers/incident_hotspots", { limit: 1000, offset: offset }).then(function (response) {
        return response.json();
      }).then(function (collection) {
        features = features.concat(collection.features);
        // At most 20 pages (20,000 cells): more than any city's grid.
        if (collection.features.length === 1000 && offset < 19000) return page(offset + 1000);
        return features;
      });
    }
    return page(0).then(function (all) {
      if (!map) {
        map = window.L.map("db-map", { zoomControl: true, attributionControl: false });
        map.setView([28.28, 109.71], 12);
      }
      if (hotLayer) hotLayer.remove();
      var note = $("db-map-note");
      if (!all.length) {
        note.textContent = "尚未计算热点：在服务器上运行 wangge evaluation hotspots。";
        return;
      }
      hotLayer = window.L.geoJSON({ type: "FeatureCollection", features: all }, {
        style: function (f) {
          return { color: "#888", weight: 0.3, fillOpacity: 0.75, fillColor: HOT_COLOURS[f.properties.hotspot] || "#f0f0f0" };
        },
        onEachFeature: function (f, layer) {
          var p = f.properties;
          var text = document.createElement("div");
          text.textContent = p.code + " · " + p.hotspot_zh + " · " + p.emerging_zh + " · 案件 " + p.incidents;
          layer.bindTooltip(text);
        },
      }).addTo(map);
      map.fitBounds(hotLayer.getBounds());
      var hot = all.filter(function (f) { return f.properties.hotspot.indexOf("hot") === 0; }).length;
      var p = all[0].properties;
      note.textContent = "统计 " + p.period_start + " 至 " + p.period_end + "（不含），热点网格 " + hot + " 个，共 " + all.length + " 个网格。";
    });
  }

  function load(event) {
    if (event) event.preventDefault();
    var f = filters();
    $("db-error").textContent = "";
    var done = Promise.all([
      api("/evaluation", f).then(function (r) { return r.json(); }).then(function (body) {
        kpis(body.total);
        ranking(body);
      }),
      api("/evaluation/trend", Object.assign({}, f, { limit: 20 })).then(function (r) { return r.json(); }).then(trends),
      api("/evaluation", { by: "category", from: f.from, to: f.to }).then(function (r) { return r.json(); }).then(categories),
      hotspots(),
    ]);
    done.then(function () { document.body.dataset.loaded = "true"; })
      .catch(function (error) { $("db-error").textContent = error.message; document.body.dataset.loaded = "error"; });
  }

  function xlsx(event) {
    event.preventDefault();
    var f = filters();
    api("/evaluation", Object.assign({}, f, { format: "xlsx" })).then(function (r) { return r.blob(); }).then(function (blob) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "考核评价_" + f.by + "_" + f.from + "_" + f.to + ".xlsx";
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    }).catch(function (error) { $("db-error").textContent = error.message; });
  }

  function start() {
    $("db-login").hidden = true;
    $("db-main").hidden = false;
    api("/me").then(function (r) { return r.json(); }).then(function (me) {
      $("db-user").textContent = me.display_name;
    }).catch(function () { /* the 401 path already asked to log in again */ });
    load();
  }

  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (id) { charts[id].resize(); });
  });
  $("db-login").addEventListener("submit", login);
  $("db-filters").addEventListener("submit", load);
  $("db-xlsx").addEventListener("click", xlsx);
  if (token()) start(); else logout();
})();
