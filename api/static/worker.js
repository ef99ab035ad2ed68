/*
 * The grid worker's map page (网格员巡查地图), started by maps/worker.py:
 *   WanggeWorker.start(leafletMap, config)
 *
 * It logs in (OAuth2 password form → bearer token kept in localStorage), fetches the layers and open
 * incidents of the current view from the API as the worker pans, highlights the worker's own cells,
 * draws overdue incidents in red, and opens a report form when the map is tapped.
 *
 * Safety rule of this file: text that came from a person or from the server (descriptions, names,
 * messages) is put on screen with textContent or as <option> text, never through innerHTML.
 */
(function () {
  "use strict";

  // Status names come with the page's config (Status.label_zh, the API's status_label): one source.
  var STATUS_ZH = {};
  var TIME_FORMAT = {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hour12: false
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatTime(iso) {
    if (!iso) return "—";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return String(iso);
    return date.toLocaleString("zh-CN", TIME_FORMAT);
  }

  /* The Chinese message of an error body (api.errors: messages["zh-CN"]); never the server's English. */
  function detailText(body, fallback) {
    if (body && body.messages && typeof body.messages["zh-CN"] === "string") return body.messages["zh-CN"];
    return fallback;
  }

  function ApiError(status, message) {
    this.status = status;
    this.message = message;
  }

  function Page(map, config) {
    this.map = map;
    this.config = config;
    this.session = null; // {token, expires}
    this.me = null;
    this.categories = [];
    this.ownCells = new Set();
    this.layers = {};
    this.aborters = {};
    this.timer = null;
    this.pending = null;
    this.statusTimer = null;
  }

  /* -- storage ------------------------------------------------------------------------------------- */
  Page.prototype.load = function (suffix) {
    try { return JSON.parse(window.localStorage.getItem(this.config.storage_key + suffix) || "null"); }
    catch (e) { return null; }
  };
  Page.prototype.save = function (suffix, value) {
    try {
      if (value === null) window.localStorage.removeItem(this.config.storage_key + suffix);
      else window.localStorage.setItem(this.config.storage_key + suffix, JSON.stringify(value));
    } catch (e) { /* private mode: the page still works, the worker logs in again next time */ }
  };

  /* -- HTTP ---------------------------------------------------------------------------------------- */
  Page.prototype.request = async function (path, options) {
    options = options || {};
    var headers = options.headers || {};
    headers["Accept-Language"] = "zh-CN";
    if (this.session) headers["Authorization"] = "Bearer " + this.session.token;
    var response;
    try {
      response = await fetch(this.config.api + path, {
        method: options.method || "GET", headers: headers, body: options.body, signal: options.signal
      });
    } catch (e) {
      if (e && e.name === "AbortError") throw e;
      throw new ApiError(0, "网络连接失败，请检查网络后重试");
    }
    var body = null;
    var text = await response.text();
    if (text) { try { body = JSON.parse(text); } catch (e) { body = null; } }
    if (response.status === 401 && this.session) {
      this.logout("登录已过期，请重新登录");
    }
    if (!response.ok) {
      throw new ApiError(response.status, detailText(body, "服务器错误（" + response.status + "）"));
    }
    return body;
  };

  /* -- status line --------------------------------------------------------------------------------- */
  Page.prototype.status = function (message, kind, seconds) {
    var box = $("wg-status");
    box.textContent = message;
    box.className = "wg-status wg-status-" + (kind || "info");
    box.hidden = false;
    window.clearTimeout(this.statusTimer);
    this.statusTimer = window.setTimeout(function () { box.hidden = true; }, (seconds || 6) * 1000);
  };

  /* -- log-in -------------------------------------------------------------------------------------- */
  Page.prototype.showLogin = function (message) {
    $("wg-login").hidden = false;
    $("wg-login-error").textContent = message || "";
    var input = $("wg-login-form").elements.username;
    window.setTimeout(function () { input.focus(); }, 0);
  };

  Page.prototype.login = async function (form) {
    var button = form.querySelector("button[type=submit]");
    $("wg-login-error").textContent = "";
    button.disabled = true;
    try {
      var body = new URLSearchParams();
      body.set("username", form.elements.username.value.trim());
      body.set("password", form.elements.password.value);
      this.session = null;
      var token = await this.request("/auth/token", {
        method: "POST", body: body,
        headers: { "Content-Type": "application/x-www-form-urlencoded" }
      });
      this.session = { token: token.access_token, expires: Date.now() + (token.expires_in || 3600) * 1000 };
      this.save(".session", this.session);
      form.elements.password.value = "";
      $("wg-login").hidden = true;
      await this.begin(true);
    } catch (e) {
      var message = e.status === 401 ? "用户名或密码错误" : e.message;
      $("wg-login-error").textContent = message || "登录失败";
    } finally {
      button.disabled = false;
    }
  };

  Page.prototype.logout = function (message) {
    if (this.patrol) { // the next user of this phone must not extend this worker's route
      window.navigator.geolocation.clearWatch(this.patrol.watch);
      window.clearInterval(this.patrol.timer);
      this.patrol.route.remove();
      this.patrol = null;
    }
    this.session = null;
    this.me = null;
    this.ownCells = new Set();
    this.lastView = null;
    this.save(".session", null);
    $("wg-user").textContent = "";
    $("wg-logout").hidden = true;
    $("wg-mine").hidden = true;
    $("wg-work-open").hidden = true;
    $("wg-work").hidden = true;
    this.closeReport();
    var self = this;
    Object.keys(this.layers).forEach(function (id) { self.layers[id].clearLayers(); });
    this.showLogin(message);
  };

  /* After log-in (or with a kept token): who am I, the categories, then the view's data. */
  Page.prototype.begin = async function (fresh) {
    try {
      this.me = await this.request("/me");
    } catch (e) {
      if (e.status !== 401) this.showLogin(e.message);
      return;
    }
    try {
      this.categories = await this.request("/categories");
    } catch (e) {
      this.categories = [];
      this.status("问题类别加载失败：" + e.message, "error");
    }
    var home = (this.config.homes || {})[this.me.role];
    if (home && home !== "/" && window.location.pathname === "/") { window.location.replace(home); return; }
    this.ownCells = new Set(this.me.cells || []);
    $("wg-user").textContent = this.me.display_name || this.me.username;
    $("wg-logout").hidden = false;
    $("wg-mine").hidden = this.ownCells.size === 0;
    $("wg-work-open").hidden = false;
    $("wg-patrol").hidden = this.me.role !== "grid_worker";
    if (this.me.role === "grid_worker") this.showPatrolDay();
    this.fillCategories("");
    this.flushOutbox();
    var view = this.load(".view");
    if (view && !fresh) this.map.setView([view.lat, view.lon], view.zoom);
    else if (this.ownCells.size) await this.showMine();
    this.refresh();
  };

  /* Fit the view to the worker's own cells. The API finds cells by place, not by code, so: the
   * communities of the cells (a cell code starts with its community's code), then the cells inside
   * those communities' bounds, of which the worker's are picked. */
  Page.prototype.showMine = async function () {
    var own = this.ownCells;
    var communities = new Set();
    own.forEach(function (code) { communities.add(code.slice(0, 12)); });
    try {
      var areas = await this.request("/layers/communities?limit=1000");
      var mine = (areas.features || []).filter(function (f) { return communities.has(f.properties.code); });
      if (!mine.length) return;
      var area = L.geoJSON({ type: "FeatureCollection", features: mine }).getBounds();
      var box = [area.getWest(), area.getSouth(), area.getEast(), area.getNorth()]
        .map(function (v) { return v.toFixed(5); }).join(",");
      var cells = await this.request("/layers/grid_cells?limit=1000&bbox=" + box);
      var found = (cells.features || []).filter(function (f) { return own.has(f.properties.code); });
      var bounds = found.length ? L.geoJSON({ type: "FeatureCollection", features: found }).getBounds() : area;
      this.map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
    } catch (e) {
      this.status("无法定位到我的网格：" + e.message, "error");
    }
  };

  /* -- layers -------------------------------------------------------------------------------------- */
  Page.prototype.makeLayers = function () {
    var self = this;
    var cfg = this.config;
    cfg.layers.forEach(function (view) {
      self.layers[view.id] = L.geoJSON(null, {
        interactive: false, // taps go through to the map: tapping inside a cell reports there
        style: function (feature) {
          if (view.id === "grid_cells" && self.ownCells.has(feature.properties.code)) {
            return { color: cfg.own_cell_color, weight: 2.2, fillColor: cfg.own_cell_color, fillOpacity: 0.16,
                     className: "wg-cell wg-cell-own" };
          }
          return { color: view.color, weight: view.weight, fillColor: view.color, fillOpacity: view.fill_opacity,
                   className: "wg-layer-" + view.id + (view.id === "grid_cells" ? " wg-cell" : "") };
        }
      }).addTo(self.map);
    });
    this.layers.incidents = L.geoJSON(null, {
      pointToLayer: function (feature, latlng) {
        var overdue = feature.properties.overdue === true;
        return L.circleMarker(latlng, {
          radius: overdue ? 10 : 8, color: "#ffffff", weight: 2, fillOpacity: 0.95,
          fillColor: overdue ? cfg.overdue_color : cfg.open_color,
          className: "wg-incident" + (overdue ? " wg-incident-overdue" : ""),
          bubblingMouseEvents: false // tapping an incident opens it, not the report form
        });
      },
      onEachFeature: function (feature, layer) {
        layer.bindPopup(function () { return incidentPopup(feature.properties); }, { maxWidth: 280 });
      }
    }).addTo(this.map);
  };

  Page.prototype.bboxParam = function () {
    var b = this.map.getBounds();
    var round = function (v) { return v.toFixed(5); };
    return [round(b.getWest()), round(b.getSouth()), round(b.getEast()), round(b.getNorth())].join(",");
  };

  Page.prototype.fetchInto = async function (id, path) {
    if (this.aborters[id]) this.aborters[id].abort();
    var aborter = new AbortController();
    this.aborters[id] = aborter;
    var data = await this.request(path, { signal: aborter.signal });
    if (aborter.signal.aborted) return null;
    var layer = this.layers[id];
    layer.clearLayers();
    var features = (data && data.features) || [];
    layer.addData({ type: "FeatureCollection", features: features });
    return features;
  };

  /* Fetch what the view shows, once the map has stopped moving. ``force``: even if the view is the one
   * last fetched (after a report, the incidents changed). */
  Page.prototype.refresh = function (force) {
    var self = this;
    this.forceNext = this.forceNext || force === true;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () { self.refreshNow(); }, 200);
  };

  Page.prototype.refreshNow = async function () {
    if (!this.me) return;
    // An open popup belongs to a marker of the incident layer, which a reload replaces: opening a popup pans
    // the map into view (moveend), and reloading then closed it ~0.5 s after it opened on a phone. While a
    // popup is open the view is not reloaded; closing it reloads what the view then shows.
    if (this.popupOpen) { this.reloadAfterPopup = true; return; }
    var self = this;
    var zoom = this.map.getZoom();
    var bbox = this.bboxParam();
    var view = zoom + "/" + bbox;
    if (view === this.lastView && !this.forceNext) return;
    this.lastView = view;
    this.forceNext = false;
    var tooSmall = [];
    var jobs = this.config.layers.map(function (view) {
      if (zoom < view.min_zoom) {
        if (self.aborters[view.id]) self.aborters[view.id].abort();
        self.layers[view.id].clearLayers();
        if (view.id === "grid_cells") tooSmall.push("网格");
        return Promise.resolve();
      }
      var path = "/layers/" + view.id + "?bbox=" + bbox + "&limit=" + view.limit;
      return self.fetchInto(view.id, path);
    });
    if (zoom >= this.config.incident_min_zoom) {
      var limit = this.config.incident_limit;
      var path = "/incidents?format=geojson&status=" + this.config.open_statuses.join(",") +
        "&bbox=" + bbox + "&limit=" + limit;
      jobs.push(this.fetchInto("incidents", path).then(function (features) {
        if (features && features.length >= limit) {
          self.status("当前范围内问题较多，仅显示 " + limit + " 条，请放大地图", "info");
        }
        if (features) self.layers.incidents.eachLayer(function (layer) {
          if (layer.feature.properties.overdue === true) layer.bringToFront();
        });
      }));
    } else {
      this.layers.incidents.clearLayers();
      tooSmall.push("问题");
    }
    $("wg-hint").textContent = tooSmall.length ? "放大地图以显示" + tooSmall.join("和") : "点击地图上报问题";
    var results = await Promise.allSettled(jobs);
    var failed = results.filter(function (r) { return r.status === "rejected" && r.reason.name !== "AbortError"; });
    if (failed.length && this.me) {
      this.lastView = null; // the next refresh of this view tries again
      this.status("数据加载失败：" + failed[0].reason.message, "error");
    }
  };

  /* -- popups -------------------------------------------------------------------------------------- */
  function incidentPopup(p) {
    var box = el("div", "wg-popup");
    box.appendChild(el("h3", "", p.category_name || p.category_code || "问题"));
    var line = el("p", "wg-popup-status");
    line.appendChild(el("span", "wg-badge", STATUS_ZH[p.status] || p.status));
    if (p.overdue === true) line.appendChild(el("span", "wg-badge wg-badge-overdue", "已逾期"));
    box.appendChild(line);
    var rows = [
      ["编号", p.public_id || (p.id !== undefined ? "#" + p.id : "—")],
      ["上报时间", formatTime(p.reported_at)],
      ["处置时限", p.deadline_at ? formatTime(p.deadline_at) : "未派遣"],
      ["网格", p.cell_code || "—"]
    ];
    var table = el("table", "wg-popup-table");
    rows.forEach(function (row) {
      var tr = el("tr");
      tr.appendChild(el("th", "", row[0]));
      tr.appendChild(el("td", "", row[1]));
      table.appendChild(tr);
    });
    box.appendChild(table);
    if (p.description) box.appendChild(el("p", "wg-popup-description", p.description));
    return box;
  }

  /* -- reporting ----------------------------------------------------------------------------------- */
  function newKey() {
    // crypto.randomUUID needs https; getRandomValues works on a plain-http intranet too.
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "web-" + Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  Page.prototype.fillCategories = function (filter) {
    var select = $("wg-category");
    var previous = select.value;
    select.textContent = "";
    var needle = filter.trim();
    var groups = {};
    var order = [];
    this.categories.forEach(function (c) {
      var haystack = c.code + " " + c.name_zh + " " + (c.major_name || "");
      if (needle && haystack.indexOf(needle) < 0) return;
      var key = c.major_name || "其他";
      if (!groups[key]) { groups[key] = []; order.push(key); }
      groups[key].push(c);
    });
    var placeholder = el("option", "", order.length ? "请选择问题类别" : "没有匹配的类别");
    placeholder.value = "";
    select.appendChild(placeholder);
    order.forEach(function (key) {
      var group = document.createElement("optgroup");
      group.label = key;
      groups[key].forEach(function (c) {
        var option = el("option", "", c.name_zh);
        option.value = c.code;
        group.appendChild(option);
      });
      select.appendChild(group);
    });
    select.value = previous;
    if (select.value !== previous) select.value = "";
  };

  Page.prototype.openReport = function (latlng) {
    if (!this.me) { this.showLogin("请先登录"); return; }
    if (this.pending) this.pending.setLatLng(latlng);
    else {
      this.pending = L.circleMarker(latlng, {
        radius: 11, color: "#1f6fd1", weight: 3, fillColor: "#ffffff", fillOpacity: 0.9,
        className: "wg-pending", interactive: false
      }).addTo(this.map);
    }
    this.reportAt = latlng;
    this.reportKey = newKey();
    $("wg-report-where").textContent =
      "位置：北纬 " + latlng.lat.toFixed(5) + "°，东经 " + latlng.lng.toFixed(5) + "°";
    $("wg-report-error").textContent = "";
    $("wg-report").hidden = false;
    this.checkNearby();
    // Keep the tapped point in sight: move it to the middle of the map left above the sheet.
    var top = 48;
    var bottom = $("wg-report").getBoundingClientRect().top;
    var at = this.map.latLngToContainerPoint(latlng);
    if (at.y > bottom - 40) this.map.panBy([0, at.y - (top + bottom) / 2]);
  };

  Page.prototype.closeReport = function () {
    $("wg-report").hidden = true;
    if (this.pending) { this.pending.remove(); this.pending = null; }
  };

  Page.prototype.submitReport = async function (form) {
    var category = form.elements.category.value;
    if (!category) { $("wg-report-error").textContent = "请选择问题类别"; return; }
    var button = $("wg-report-submit");
    button.disabled = true;
    $("wg-report-error").textContent = "";
    var at = this.reportAt;
    var file = form.elements.photo.files && form.elements.photo.files[0];
    var fields = {
      lon: Number(at.lng.toFixed(7)), lat: Number(at.lat.toFixed(7)), datum: "wgs84",
      category_code: category, description: form.elements.description.value.trim(), source: "patrol"
    };
    // With a photo, one multipart request carries both: the case and its photo are stored together.
    // The same key on every retry of this report: a request that reached the server but whose answer was
    // lost on a weak phone network must not create the case twice.
    var request = { method: "POST", headers: { "Idempotency-Key": this.reportKey } };
    if (file) {
      var data = new FormData();
      Object.keys(fields).forEach(function (name) { data.append(name, String(fields[name])); });
      data.append("photos", file);
      request.body = data;
    } else {
      request.headers["Content-Type"] = "application/json";
      request.body = JSON.stringify(fields);
    }
    var created;
    var queued = { key: this.reportKey, fields: fields, photo: file || null, at: Date.now() };
    if (window.navigator.onLine === false) { await this.queueReport(queued, form); button.disabled = false; return; }
    try {
      created = await this.request("/incidents", request);
    } catch (e) {
      // No answer at all (no signal): the report waits on the phone and goes when the network is back.
      if (e.status === 0) { await this.queueReport(queued, form); button.disabled = false; return; }
      $("wg-report-error").textContent = e.message || "上报失败";
      button.disabled = false;
      return;
    }
    var incident = created.incident || created;
    var label = incident.public_id || "#" + incident.id;
    var message = "上报成功：" + label + (incident.cell_code ? "（网格 " + incident.cell_code + "）" : "");
    if (file) message += "，照片已上传";
    var duplicates = created.possible_duplicates || [];
    if (duplicates.length) message += "。附近已有 " + duplicates.length + " 条同类问题，请确认是否重复";
    form.reset();
    $("wg-photo-name").textContent = "未选择照片";
    this.fillCategories("");
    button.disabled = false;
    this.closeReport();
    this.status(message, duplicates.length ? "warn" : "ok", 10);
    this.refresh(true);
  };

  /* -- duplicates before sending ---------------------------------------------------------------------- */
  Page.prototype.checkNearby = async function () {
    var box = $("wg-nearby");
    var category = $("wg-category").value;
    box.hidden = true;
    $("wg-nearby-list").textContent = "";
    if (!category || !this.reportAt || window.navigator.onLine === false) return;
    var at = this.reportAt;
    var asked = category + "@" + at.lat + "," + at.lng;
    this.nearbyAsked = asked;
    var found;
    try {
      found = await this.request("/incidents/nearby?lon=" + at.lng.toFixed(7) + "&lat=" + at.lat.toFixed(7) +
        "&category=" + encodeURIComponent(category));
    } catch (e) { return; } // the check helps; the report still goes without it
    if (this.nearbyAsked !== asked || !found || !found.length) return;
    var self = this;
    $("wg-nearby-title").textContent = "附近已有 " + found.length + " 条同类问题未办结，是否为同一问题？";
    found.slice(0, 5).forEach(function (c) {
      var li = el("li", "wg-nearby-item");
      li.appendChild(el("span", "", c.public_id + " · " + (STATUS_ZH[c.status] || c.status) + " · " +
        Math.round(c.distance_m) + " 米"));
      var same = el("button", "wg-secondary wg-same", "同一案件");
      same.type = "button";
      same.addEventListener("click", function () { self.joinCase(c); });
      li.appendChild(same);
      $("wg-nearby-list").appendChild(li);
    });
    box.hidden = false;
  };

  /* "Same case": no new case; the photo taken (if any) joins the existing one as a before-photo. */
  Page.prototype.joinCase = async function (existing) {
    var form = $("wg-report-form");
    var file = form.elements.photo.files && form.elements.photo.files[0];
    try {
      if (file) {
        var data = new FormData();
        data.append("kind", "before");
        data.append("photos", file);
        await this.request("/incidents/" + existing.id + "/photos", { method: "POST", body: data });
      }
    } catch (e) {
      $("wg-report-error").textContent = e.message;
      return;
    }
    form.reset();
    $("wg-photo-name").textContent = "未选择照片";
    this.closeReport();
    this.status("已确认为同一案件 " + existing.public_id + (file ? "，照片已补充" : "") + "，未重复上报", "ok", 10);
  };

  /* -- wiring -------------------------------------------------------------------------------------- */
  Page.prototype.wire = function () {
    var self = this;
    var map = this.map;
    L.control.zoom({ position: "bottomright", zoomInTitle: "放大", zoomOutTitle: "缩小" }).addTo(map);
    L.control.scale({ position: "bottomright", imperial: false }).addTo(map);
    map.attributionControl.setPrefix(false);
    map.on("moveend", function () {
      var c = map.getCenter();
      if (self.me) self.save(".view", { lat: c.lat, lon: c.lng, zoom: map.getZoom() });
      self.refresh();
    });
    map.on("click", function (e) { self.openReport(e.latlng); });
    map.on("popupopen", function () { self.popupOpen = true; });
    map.on("popupclose", function () {
      self.popupOpen = false;
      if (self.reloadAfterPopup) { self.reloadAfterPopup = false; self.refresh(); }
    });
    $("wg-login-form").addEventListener("submit", function (e) { e.preventDefault(); self.login(e.target); });
    $("wg-report-form").addEventListener("submit", function (e) { e.preventDefault(); self.submitReport(e.target); });
    $("wg-report-cancel").addEventListener("click", function () { self.closeReport(); });
    $("wg-category-filter").addEventListener("input", function (e) { self.fillCategories(e.target.value); });
    $("wg-category").addEventListener("change", function () { self.checkNearby(); });
    window.addEventListener("online", function () { self.flushOutbox(); });
    $("wg-report-form").elements.photo.addEventListener("change", function (e) {
      var file = e.target.files && e.target.files[0];
      $("wg-photo-name").textContent = file ? file.name : "未选择照片";
    });
    $("wg-logout").addEventListener("click", function () { self.logout(""); });
    $("wg-mine").addEventListener("click", function () { self.showMine(); });
    // 我的工作: server-rendered lists (api/routes/page_parts.py) that htmx loads with the worker's token.
    $("wg-work-open").addEventListener("click", function () {
      self.closeReport();
      $("wg-work").hidden = false;
      htmx.trigger(document.body, "wg-work");
    });
    $("wg-work-close").addEventListener("click", function () { $("wg-work").hidden = true; });
    $("wg-patrol").addEventListener("click", function () { self.togglePatrol(); });
    document.body.addEventListener("wg-changed", function () { self.refresh(true); });
    $("wg-status").addEventListener("click", function (e) { e.currentTarget.hidden = true; });
  };

  function start(map, config) {
    STATUS_ZH = config.status_labels || {};
    // The base map setting, as on /map (basemap.js): tiles, and AMap's GCJ-02 for every overlay, click and fix.
    WanggeBasemap.apply(map, config.basemap);
    var worker = new Page(map, config);
    worker.makeLayers();
    worker.wire();
    var kept = worker.load(".session");
    if (kept && kept.token && kept.expires > Date.now() + 60 * 1000) {
      worker.session = kept;
      worker.begin(false);
    } else {
      worker.save(".session", null);
      worker.showLogin("");
    }
    window.wanggeWorker = worker; // for the browser tests and for debugging on a phone
    return worker;
  }

  // Page is exported for worker_outbox.js and worker_patrol.js, which add the offline queue and the patrol log.
  window.WanggeWorker = { start: start, incidentPopup: incidentPopup, Page: Page };
})();
