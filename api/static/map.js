/* The command map (指挥地图): density and facility sharing per grid cell, incident points and heat, facilities,
 * boundaries. Started by maps/command.py as WanggeMap.start(map, config).
 *
 * Polygons come from the vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt, Leaflet.VectorGrid on a canvas), with
 * the registry's styles (config.layers); choropleth classes come from /api/v1/map/classes for the filter and
 * view, so the legend's bounds are the server's. Points come from the APIs for the view only. The URL holds the
 * whole state (view, layers, filters, classes), so a link can be shared. User text only ever goes through
 * textContent.
 */
(function () {
  "use strict";

  // Leaflet.VectorGrid 1.3.0 (its last release) calls L.DomEvent.fakeStop on canvas clicks, which Leaflet 1.8
  // removed; 1.7's definition, so that a click on a tile's feature stops there instead of throwing.
  if (!L.DomEvent.fakeStop) L.DomEvent.fakeStop = function (e) { e._stopped = true; };

  var DAY = 24 * 3600 * 1000;
  var STATUS_COLORS = { open: "#f28e2b", overdue: "#d62728", closed: "#7f7f7f" };
  var NO_DATA = "#d9d9d9";
  var NONE_IN_REACH = "#d73027";

  function $(id) { return document.getElementById(id); }
  function el(tag, className, parent, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (parent) parent.appendChild(node);
    return node;
  }
  function fmt(value) {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "number") return value.toLocaleString("zh-CN", { maximumFractionDigits: 2 });
    return String(value);
  }
  function isoDate(d) { return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0"); }
  function debounce(fn, ms) {
    var t = null;
    return function () { var args = arguments, self = this; clearTimeout(t); t = setTimeout(function () { fn.apply(self, args); }, ms); };
  }

  /* -- the state, read from and written to the URL ------------------------------------------------------ */
  var DEFAULTS = { window: "30d", from: "", to: "", major: "", category: "", status: "", subdistrict: "",
                   community: "", measure: "incidents", scheme: "quantiles", k: "5", breaks: "", radius: "",
                   layers: "incident_density,subdistricts,communities,incident_points" };

  function readState() {
    var params = new URLSearchParams(window.location.search), state = {};
    Object.keys(DEFAULTS).forEach(function (key) { state[key] = params.has(key) ? params.get(key) : DEFAULTS[key]; });
    var view = (params.get("map") || "").split("/").map(Number);
    state.view = view.length === 3 && view.every(isFinite) ? { z: view[0], lat: view[1], lon: view[2] } : null;
    return state;
  }

  /* The time window as [from, to) instants: quick choices are counted back from now (local time). */
  function windowOf(state) {
    var now = new Date(), start = null, end = null;
    if (state.window === "7d") start = new Date(now - 7 * DAY);
    else if (state.window === "30d") start = new Date(now - 30 * DAY);
    else if (state.window === "365d") start = new Date(now - 365 * DAY);
    else if (state.window === "quarter") start = new Date(now.getFullYear(), Math.floor(now.getMonth() / 3) * 3, 1);
    else if (state.window === "year") start = new Date(now.getFullYear(), 0, 1);
    else {
      if (state.from) start = new Date(state.from + "T00:00:00");
      if (state.to) end = new Date(new Date(state.to + "T00:00:00").getTime() + DAY);
    }
    return { from: start, to: end };
  }

  function App(map, config) {
    this.map = map;
    this.config = config;
    this.state = readState();
    this.session = null;
    this.layerInfo = {};
    config.layers.forEach(function (info) { this.layerInfo[info.id] = info; }, this);
    this.categories = [];
    this.classes = {};
    this.overlays = {};
  }

  App.prototype.storage = function (value) {
    var key = this.config.storage_key + ".session";
    try {
      if (value === undefined) return JSON.parse(window.localStorage.getItem(key) || "null");
      if (value === null) window.localStorage.removeItem(key); else window.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { return null; }
    return null;
  };

  App.prototype.headers = function () {
    return this.session ? { Authorization: "Bearer " + this.session.token } : {};
  };

  App.prototype.request = async function (path, options) {
    options = options || {};
    var headers = Object.assign({ Accept: "application/json" }, this.headers(), options.headers || {});
    var response = await fetch(path.charAt(0) === "/" && path.indexOf(this.config.api) !== 0 && path.indexOf("/tiles") !== 0
      ? this.config.api + path : path, Object.assign({}, options, { headers: headers }));
    if (response.status === 401 && this.session) { this.logout(); }
    var body = response.headers.get("content-type") && response.headers.get("content-type").indexOf("json") >= 0
      ? await response.json() : null;
    if (!response.ok) {
      // The zh-CN message every error body carries (api.errors); never the server's English.
      var error = new Error(body && body.messages && body.messages["zh-CN"] ? body.messages["zh-CN"]
        : "请求失败（" + response.status + "）");
      error.status = response.status;
      throw error;
    }
    return body;
  };

  App.prototype.status = function (text) {
    var box = $("cm-message");
    box.textContent = text || "";
    box.hidden = !text;
  };

  /* -- log-in ------------------------------------------------------------------------------------------- */
  App.prototype.start = function () {
    var self = this;
    $("cm-login-form").addEventListener("submit", function (e) { e.preventDefault(); self.login(e.target); });
    $("cm-logout").addEventListener("click", function () { self.logout(); });
    $("cm-filters-toggle").addEventListener("click", function () {
      var form = $("cm-filters"), open = form.hidden;
      form.hidden = !open;
      this.setAttribute("aria-expanded", String(open));
    });
    // Folium gives the zoom limits to tile layers, and this map has none: markercluster needs the map's own.
    // AMap's tiles are GCJ-02: basemap.js projects every WGS84 overlay through it (before any layer is added).
    WanggeBasemap.setDatum(this.map, this.config.basemap);
    this.map.setMinZoom(this.config.min_zoom);
    this.map.setMaxZoom(this.config.max_zoom);
    if (this.state.view) this.map.setView([this.state.view.lat, this.state.view.lon], this.state.view.z);
    var kept = this.storage();
    if (kept && kept.token && kept.expires > Date.now() + 60 * 1000) {
      this.session = kept;
      this.begin().catch(this.failed.bind(this));
    } else {
      $("cm-login").hidden = false;
    }
  };

  App.prototype.login = async function (form) {
    $("cm-login-error").textContent = "";
    try {
      var body = new URLSearchParams();
      body.set("username", form.elements.username.value.trim());
      body.set("password", form.elements.password.value);
      var token = await this.request("/auth/token", {
        method: "POST", body: body, headers: { "Content-Type": "application/x-www-form-urlencoded" }
      });
      this.session = { token: token.access_token, expires: Date.now() + (token.expires_in || 3600) * 1000 };
      this.storage(this.session);
      form.elements.password.value = "";
      $("cm-login").hidden = true;
    } catch (e) {
      $("cm-login-error").textContent = e.status === 401 ? "用户名或密码错误" : (e.message || "登录失败");
      return;
    }
    await this.begin().catch(this.failed.bind(this));
  };

  App.prototype.failed = function (e) {
    this.status("地图加载失败：" + (e && e.message ? e.message : e));
    if (window.console) console.error("wangge map", e && e.stack ? e.stack : e);
  };

  App.prototype.logout = function () {
    this.session = null;
    this.storage(null);
    window.location.reload();
  };

  App.prototype.begin = async function () {
    try {
      var me = await this.request("/me");
      $("cm-user").textContent = me.display_name || me.username || "";
      $("cm-logout").hidden = false;
      this.may = me.allowed_actions || me.actions || [];
    } catch (e) { if (e.status === 401) return; }
    try { this.categories = await this.request("/categories"); } catch (e) { this.categories = []; }
    try { this.areas = await this.areasList(); } catch (e) { this.areas = []; }
    this.fillFilters();
    this.buildLayers();
    var self = this;
    this.map.on("moveend", debounce(function () { self.viewChanged(); }, 250));
    this.viewChanged();
  };

  App.prototype.areasList = async function () {
    var self = this, out = [];
    for (var id of ["subdistricts", "communities"]) {
      var page = await self.request("/layers/" + id + "?limit=1000");
      (page.features || []).forEach(function (f) { out.push({ level: id, code: f.properties.code, name: f.properties.name, parent: f.properties.parent_code }); });
    }
    return out;
  };

  /* -- filters ------------------------------------------------------------------------------------------ */
  App.prototype.fillFilters = function () {
    var s = this.state, self = this;
    var majors = {};
    (Array.isArray(this.categories) ? this.categories : this.categories.items || []).forEach(function (c) {
      majors[c.major_code] = c.major_name;
    });
    this.majorNames = majors;
    var major = $("cm-major");
    Object.keys(majors).sort().forEach(function (code) { var o = el("option", "", major, code + " " + majors[code]); o.value = code; });
    var fillMinor = function () {
      var select = $("cm-category");
      select.length = 1;
      self.categoryList().forEach(function (c) {
        if (!major.value || c.major_code === major.value) { var o = el("option", "", select, c.code + " " + c.name_zh); o.value = c.code; }
      });
    };
    fillMinor();
    major.addEventListener("change", function () { $("cm-category").value = ""; fillMinor(); });
    var sub = $("cm-subdistrict"), com = $("cm-community");
    (this.areas || []).forEach(function (a) {
      var o = el("option", "", a.level === "subdistricts" ? sub : com, a.name); o.value = a.code;
    });
    $("cm-measure").length = 0;
    this.config.measures.forEach(function (m) { var o = el("option", "", $("cm-measure"), m[1]); o.value = m[0]; });
    this.config.schemes.forEach(function (m) { var o = el("option", "", $("cm-scheme"), m[1]); o.value = m[0]; });
    ["window", "from", "to", "major", "category", "status", "subdistrict", "community", "measure", "scheme", "k",
     "breaks", "radius"].forEach(function (key) {
      var input = $("cm-" + key);
      input.value = s[key] || (key === "radius" ? String(self.config.sharing_radius_m) : "");
      if (key === "major") fillMinor();
      if (key === "category") input.value = s.category;
    });
    this.toggleFields();
    $("cm-filters").addEventListener("change", function () { self.filtersChanged(); });
    $("cm-filters").addEventListener("submit", function (e) { e.preventDefault(); self.filtersChanged(); });
  };

  App.prototype.categoryList = function () {
    return Array.isArray(this.categories) ? this.categories : this.categories.items || [];
  };

  App.prototype.toggleFields = function () {
    $("cm-custom").hidden = $("cm-window").value !== "custom";
    $("cm-breaks-label").hidden = $("cm-scheme").value !== "user";
  };

  App.prototype.filtersChanged = function () {
    var s = this.state;
    ["window", "from", "to", "major", "category", "status", "subdistrict", "community", "measure", "scheme", "k",
     "breaks", "radius"].forEach(function (key) { s[key] = $("cm-" + key).value; });
    if (String(s.radius) === String(this.config.sharing_radius_m)) s.radius = "";
    this.toggleFields();
    this.refresh();
  };

  /* The incident filter as the API's query parameters (the same for tiles, classes and the incident list). */
  App.prototype.filterParams = function () {
    var s = this.state, p = new URLSearchParams(), w = windowOf(s);
    if (w.from) p.set("reported_from", w.from.toISOString());
    if (w.to) p.set("reported_to", w.to.toISOString());
    if (s.category) p.set("category", s.category);
    else if (s.major) {
      var codes = this.categoryList().filter(function (c) { return c.major_code === s.major; }).map(function (c) { return c.code; });
      if (codes.length) p.set("category", codes.join(","));
    }
    if (s.status === "open") p.set("status", "open");
    else if (s.status === "closed") p.set("status", "closed");
    else if (s.status === "overdue") p.set("overdue", "true");
    if (s.subdistrict) p.set("subdistrict", s.subdistrict);
    if (s.community) p.set("community", s.community);
    return p;
  };

  App.prototype.writeUrl = function () {
    var s = this.state, p = new URLSearchParams();
    Object.keys(DEFAULTS).forEach(function (key) { if (s[key] && s[key] !== DEFAULTS[key]) p.set(key, s[key]); });
    var c = this.map.getCenter();
    p.set("map", this.map.getZoom() + "/" + c.lat.toFixed(5) + "/" + c.lng.toFixed(5));
    window.history.replaceState(null, "", window.location.pathname + "?" + p.toString().replace(/%2C/g, ",").replace(/%2F/g, "/"));
  };

  /* -- layers ------------------------------------------------------------------------------------------- */
  App.prototype.tileUrl = function (id, extra) {
    var params = this.layerInfo[id] && this.layerInfo[id].counts_incidents ? this.filterParams() : new URLSearchParams();
    if (extra) Object.keys(extra).forEach(function (k) { if (extra[k]) params.set(k, extra[k]); });
    WanggeBasemap.tileParams(this.config.basemap, params);
    var q = params.toString();
    return this.config.tiles + "/" + id + "/{z}/{x}/{y}.mvt" + (q ? "?" + q : "");
  };

  App.prototype.vectorLayer = function (id, style, options) {
    var self = this, styles = {};
    styles[id] = style;
    var layer = L.vectorGrid.protobuf(this.tileUrl(id, options && options.extra), Object.assign({
      rendererFactory: L.canvas.tile,
      vectorTileLayerStyles: styles,
      interactive: true,
      maxNativeZoom: 19,
      minZoom: Math.max(this.layerInfo[id].tile_min_zoom, this.map.getMinZoom()),
      fetchOptions: { headers: this.headers() },
      getFeatureId: function (f) { return f.properties.code || f.properties.id; }
    }, options || {}));
    layer.wanggeId = id;
    return layer;
  };

  App.prototype.plainStyle = function (id) {
    var st = this.layerInfo[id].style;
    return function () {
      return { color: st.color, weight: st.weight, fill: st.fill_opacity > 0, fillColor: st.fill_color,
               fillOpacity: st.fill_opacity, opacity: 0.9 };
    };
  };

  App.prototype.classColor = function (key, value) {
    var classes = this.classes[key];
    if (value === null || value === undefined || !classes || !classes.bounds.length) return NO_DATA;
    for (var i = 0; i < classes.bounds.length; i++) if (value <= classes.bounds[i]) return classes.colors[i];
    return classes.colors[classes.colors.length - 1];
  };

  App.prototype.buildLayers = function () {
    var self = this, info = this.layerInfo;
    var density = info.incident_density, sharing = info.facility_sharing;
    this.overlays.incident_density = this.vectorLayer("incident_density", function (p) {
      return { fill: true, fillColor: self.classColor("incident_density", p[self.state.measure]), fillOpacity: density.style.fill_opacity,
               color: density.style.color, weight: p.level === "cell" ? density.style.weight : 1.2, opacity: 0.6 };
    });
    this.overlays.incident_density.on("click", function (e) { self.densityPopup(e); });
    this.overlays.facility_sharing = this.vectorLayer("facility_sharing", function (p) {
      var none = !p.facilities_in_reach;
      return { fill: true, fillColor: none ? NONE_IN_REACH : self.classColor("facility_sharing", p.facilities_in_reach),
               fillOpacity: none ? 0.75 : sharing.style.fill_opacity, color: sharing.style.color, weight: sharing.style.weight };
    }, { extra: { radius_m: this.state.radius } });
    this.overlays.facility_sharing.on("click", function (e) { self.sharingPopup(e); });
    ["subdistricts", "communities", "compounds", "grid_cells"].forEach(function (id) {
      if (info[id]) self.overlays[id] = self.vectorLayer(id, self.plainStyle(id), { interactive: false });
    });
    this.overlays.incident_points = L.markerClusterGroup({ maxClusterRadius: 50, chunkedLoading: true });
    this.overlays.heat = L.heatLayer([], { radius: 18, blur: 15, maxZoom: 17 });
    this.overlays.facilities = L.layerGroup();
    this.overlays.labels = L.layerGroup();

    var titles = {
      incident_density: density.title, facility_sharing: sharing.title, subdistricts: info.subdistricts.title,
      communities: info.communities.title, compounds: info.compounds.title, grid_cells: info.grid_cells.title,
      incident_points: info.incidents.title + "（点）", heat: "案件热力图", facilities: info.facilities.title,
      labels: "地名标注"
    };
    var control = {}, on = this.state.layers.split(",");
    Object.keys(this.overlays).forEach(function (id) {
      control[titles[id] || id] = self.overlays[id];
      if (on.indexOf(id) >= 0 || id === "labels") self.overlays[id].addTo(self.map);
    });
    this.layersControl = L.control.layers(this.baseLayers(), control, { collapsed: true, position: "topright" }).addTo(this.map);
    this.map.on("overlayadd overlayremove", function () { self.layersChanged(); });
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(this.map);
    if (L.Control.FullScreen) new L.Control.FullScreen({ position: "topleft", title: "全屏", titleCancel: "退出全屏" }).addTo(this.map);
    if (L.control.locate) L.control.locate({ position: "topleft", strings: { title: "我的位置" }, flyTo: false,
                                              showPopup: false }).addTo(this.map);
    this.legend = L.control({ position: "bottomright" });
    this.legend.onAdd = function () { var div = L.DomUtil.create("div", "cm-legend"); div.id = "cm-legend"; L.DomEvent.disableClickPropagation(div); return div; };
    this.legend.addTo(this.map);
  };

  App.prototype.baseLayers = function () {
    var b = this.config.basemap || { kind: "none" }, out = {}, self = this;
    if (b.kind === "none") {
      // No outside tiles: the city's own areas, filled light, are the base (its own pane, under every overlay).
      var pane = this.map.createPane("cm-base");
      pane.style.zIndex = 150;
      var light = L.layerGroup((b.light_layers || []).filter(function (id) { return self.layerInfo[id]; }).map(function (id) {
        var st = self.layerInfo[id].style;
        return self.vectorLayer(id, function () {
          return { fill: true, fillColor: id === "compounds" ? "#efe6d2" : "#fbfbf7", fillOpacity: 1, color: st.color,
                   weight: id === "subdistricts" ? 2 : 0.6, opacity: 0.5 };
        }, { interactive: false, pane: "cm-base" });
      }));
      out["行政区划底图"] = light.addTo(this.map);
      return out;
    }
    return WanggeBasemap.addTiles(this.map, b);  // its datum was set in start, before any layer
  };

  App.prototype.layersChanged = function () {
    var self = this;
    this.state.layers = Object.keys(this.overlays).filter(function (id) { return id !== "labels" && self.map.hasLayer(self.overlays[id]); }).join(",");
    this.writeUrl();
    this.viewChanged();
  };

  App.prototype.refresh = function () {
    var self = this;
    this.overlays.incident_density.setUrl(this.tileUrl("incident_density"), true);
    this.overlays.facility_sharing.setUrl(this.tileUrl("facility_sharing", { radius_m: this.state.radius }), true);
    this.classes = {};
    this.writeUrl();
    this.viewChanged(true);
  };

  /* -- what the view shows: classes, legend, points, labels --------------------------------------------- */
  App.prototype.viewChanged = async function (redraw) {
    this.writeUrl();
    var self = this, tasks = [];
    ["incident_density", "facility_sharing"].forEach(function (id) {
      if (self.map.hasLayer(self.overlays[id])) tasks.push(self.loadClasses(id, redraw));
    });
    tasks.push(this.loadPoints(), this.loadFacilities(), this.loadLabels());
    try { await Promise.all(tasks); this.status(""); }
    catch (e) { this.status(e.message || "加载失败"); }
    this.drawLegend();
  };

  App.prototype.bboxParam = function () {
    var b = this.map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(",");
  };

  App.prototype.loadClasses = async function (id, redraw) {
    var s = this.state, info = this.layerInfo[id];
    var p = info.counts_incidents ? this.filterParams() : new URLSearchParams();
    p.set("layer", id);
    p.set("bbox", this.bboxParam());
    p.set("z", String(this.map.getZoom()));
    if (id === "incident_density") {
      p.set("field", s.measure); p.set("scheme", s.scheme); p.set("k", s.k || "5");
      if (s.scheme === "user") p.set("breaks", s.breaks);
    } else {
      p.set("field", "facilities_in_reach"); p.set("scheme", "quantiles"); p.set("k", "5");
      if (s.radius) p.set("radius_m", s.radius);
    }
    var classes;
    try { classes = await this.request("/map/classes?" + p.toString()); }
    catch (e) { $("cm-filter-error").textContent = e.message; throw e; }
    $("cm-filter-error").textContent = "";
    var palette = info.style.palette, n = classes.bounds.length;
    classes.colors = classes.bounds.map(function (_, i) { return palette[n <= 1 ? palette.length - 1 : Math.round(i * (palette.length - 1) / (n - 1))]; });
    var before = JSON.stringify(this.classes[id] && this.classes[id].bounds);
    this.classes[id] = classes;
    if (redraw || before !== JSON.stringify(classes.bounds)) this.overlays[id].redraw();
  };

  App.prototype.drawLegend = function () {
    var box = $("cm-legend");
    if (!box) return;
    box.textContent = "";
    var self = this;
    var section = function (title) { var s = el("section", "cm-legend-section", box); el("h3", "", s, title); return s; };
    var row = function (parent, color, label, cls) {
      var r = el("div", "cm-legend-row" + (cls ? " " + cls : ""), parent);
      var sw = el("i", "cm-swatch", r); sw.style.background = color;
      el("span", "", r, label);
      return r;
    };
    var classRows = function (parent, classes) {
      var low = classes.min;
      classes.bounds.forEach(function (high, i) {
        var r = row(parent, classes.colors[i], (i === 0 ? fmt(low) : fmt(classes.bounds[i - 1])) + (i === 0 ? " – " : " < … ≤ ") + fmt(high) + "（" + classes.counts[i] + "）", "cm-class");
        r.dataset.upper = String(high);
      });
      if (!classes.bounds.length) el("div", "cm-muted", parent, "视图内无数据");
    };
    var d = this.classes.incident_density;
    if (d && this.map.hasLayer(this.overlays.incident_density)) {
      var measure = this.config.measures.filter(function (m) { return m[0] === self.state.measure; })[0];
      var s1 = section(this.layerInfo.incident_density.title + "·" + (measure ? measure[1] : "") + "（" + (this.config.level_labels[d.level] || "") + "）");
      s1.id = "cm-legend-density";
      classRows(s1, d);
    }
    var f = this.classes.facility_sharing;
    if (f && this.map.hasLayer(this.overlays.facility_sharing)) {
      var s2 = section(this.layerInfo.facility_sharing.title + "·可达场所数");
      s2.id = "cm-legend-sharing";
      row(s2, NONE_IN_REACH, "0（无可达场所）");
      classRows(s2, f);
    }
    if (this.map.hasLayer(this.overlays.incident_points)) {
      var s3 = section("案件状态");
      row(s3, STATUS_COLORS.open, "未结案"); row(s3, STATUS_COLORS.overdue, "超期"); row(s3, STATUS_COLORS.closed, "已结案");
    }
  };

  App.prototype.table = function (rows) {
    var table = el("table", "cm-fields");
    rows.forEach(function (r) { var tr = el("tr", "", table); el("th", "", tr, r[0]); el("td", "", tr, fmt(r[1])); });
    return table;
  };

  App.prototype.densityPopup = function (e) {
    var p = e.layer.properties, self = this, box = el("div", "cm-popup");
    el("h3", "", box, (this.config.level_labels[p.level] || "") + " " + (p.level === "cell" ? p.code : p.name));
    var rows = [["编码", p.code]];
    if (p.community_name) rows.push(["社区", p.community_name]);
    rows.push(["案件数", p.incidents], ["未结案", p.open], ["超期", p.overdue], ["每平方公里", p.per_km2]);
    if (p.households) rows.push(["户数", p.households], ["每千户", p.per_1000_households]);
    box.appendChild(this.table(rows));
    var majors = {};
    try { majors = JSON.parse(p.by_major || "{}"); } catch (err) { majors = {}; }
    var keys = Object.keys(majors).sort();
    if (keys.length) {
      el("h4", "", box, "按大类");
      box.appendChild(this.table(keys.map(function (k) { return [self.majorNames[k] || k, majors[k]]; })));
    }
    L.popup({ maxWidth: 300 }).setLatLng(e.latlng).setContent(box).openOn(this.map);
  };

  App.prototype.sharingPopup = function (e) {
    var p = e.layer.properties, box = el("div", "cm-popup");
    el("h3", "", box, "单元网格 " + p.code);
    box.appendChild(this.table([["网格内场所", p.facilities_inside], ["步行可达场所", p.facilities_in_reach],
      ["可达场所类型", p.types_in_reach], ["可达开放容量(人)", p.open_people], ["可达开放车位", p.open_spaces],
      ["每周开放场所小时", p.open_hours_week], ["步行半径(米)", p.radius_m]]));
    L.popup({ maxWidth: 300 }).setLatLng(e.latlng).setContent(box).openOn(this.map);
  };

  App.prototype.loadPoints = async function () {
    var wantPoints = this.map.hasLayer(this.overlays.incident_points), wantHeat = this.map.hasLayer(this.overlays.heat);
    if (!wantPoints && !wantHeat) return;
    if (this.map.getZoom() < this.config.incident_min_zoom) {
      this.overlays.incident_points.clearLayers(); this.overlays.heat.setLatLngs([]);
      return;
    }
    var p = this.filterParams();
    p.set("bbox", this.bboxParam()); p.set("limit", String(this.config.incident_limit)); p.set("format", "geojson");
    var data = await this.request("/incidents?" + p.toString(), { headers: { Accept: "application/geo+json" } });
    var self = this, markers = [], heat = [], open = this.config.open_statuses;
    (data.features || []).forEach(function (f) {
      var c = f.geometry.coordinates, props = f.properties;
      var kind = props.overdue ? "overdue" : open.indexOf(props.status) >= 0 ? "open" : "closed";
      var marker = L.circleMarker([c[1], c[0]], { radius: 6, color: "#fff", weight: 1.5, fillColor: STATUS_COLORS[kind], fillOpacity: 0.95 });
      marker.wanggeStatus = kind;
      marker.bindPopup(function () {
        var box = el("div", "cm-popup");
        el("h3", "", box, props.public_id);
        box.appendChild(self.table([["类别", props.category_name], ["状态", (self.config.status_labels[props.status] || props.status) + (props.overdue ? "（超期）" : "")],
          ["上报时间", props.reported_at ? new Date(props.reported_at).toLocaleString("zh-CN") : null],
          ["处置时限", props.deadline_at ? new Date(props.deadline_at).toLocaleString("zh-CN") : null]]));
        return box;
      });
      markers.push(marker);
      heat.push([c[1], c[0], 1]);
    });
    this.overlays.incident_points.clearLayers();
    this.overlays.incident_points.addLayers(markers);
    this.overlays.heat.setLatLngs(heat);
  };

  App.prototype.loadFacilities = async function () {
    if (!this.map.hasLayer(this.overlays.facilities)) return;
    var data = await this.request("/layers/facilities?limit=1000&bbox=" + this.bboxParam());
    var self = this, group = this.overlays.facilities;
    group.clearLayers();
    (data.features || []).forEach(function (f) {
      var c = f.geometry.coordinates, p = f.properties;
      var marker = L.circleMarker([c[1], c[0]], { radius: 7, color: "#fff", weight: 2, fillColor: self.layerInfo.facilities.style.fill_color, fillOpacity: 1 });
      marker.bindPopup(function () {
        var box = el("div", "cm-popup");
        el("h3", "", box, p.name);
        box.appendChild(self.table([["所属单位", p.unit_name], ["类型", p.type], ["开放容量", p.open_capacity != null ? p.open_capacity + " " + (p.capacity_unit || "") : null],
          ["开放时间", p.opening_hours], ["需预约", p.booking_required ? "是" : "否"]]));
        var link = el("a", "cm-book", box, "查看可预约时段");
        link.href = self.config.api + "/facilities/" + encodeURIComponent(p.id) + "/calendar";
        link.target = "_blank"; link.rel = "noopener";
        return box;
      });
      group.addLayer(marker);
    });
  };

  App.prototype.loadLabels = async function () {
    var group = this.overlays.labels, z = this.map.getZoom();
    if (!this.map.hasLayer(group)) return;
    var id = z >= this.config.levels.community ? "communities" : "subdistricts";
    var data = await this.request("/layers/" + id + "?limit=500&bbox=" + this.bboxParam());
    group.clearLayers();
    (data.features || []).forEach(function (f) {
      var center = L.geoJSON(f).getBounds().getCenter();
      var label = L.tooltip({ permanent: true, direction: "center", className: "cm-label", interactive: false })
        .setLatLng(center).setContent(el("span", "", null, f.properties.name));
      group.addLayer(label);
    });
  };

  window.WanggeMap = { start: function (map, config) { var app = new App(map, config); window.wanggeMapApp = app; app.start(); return app; } };
})();
