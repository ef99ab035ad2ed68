/*
 * The role pages' glue around htmx (served by api/routes/pages.py, parts by api/routes/page_parts.py):
 *   - the log-in, kept in localStorage under the same key as worker.js, and every htmx request carrying it
 *     as a bearer token (the parts answer only to it, like the JSON API);
 *   - errors: htmx does not swap a 4xx/5xx; the API's zh-CN message is shown in the status line instead;
 *   - after a swap: photos fetched with the token (an <img> cannot send one), list rows drawn on the map;
 *   - each role lands on its own page (config.homes).
 * The pages' content is server-rendered Jinja2; this file only wires it. Text from people or the server is
 * put on screen with textContent, never innerHTML.
 */
(function () {
  "use strict";

  var KEY = "wangge.worker.session"; // worker.js keeps the same session: one log-in for every page
  var config = {};
  var map = null;
  var markers = null;
  var me = null;

  function $(id) { return document.getElementById(id); }

  function session() {
    try {
      var kept = JSON.parse(window.localStorage.getItem(KEY) || "null");
      return kept && kept.token && kept.expires > Date.now() + 30 * 1000 ? kept : null;
    } catch (e) { return null; }
  }

  function saveSession(value) {
    try {
      if (value) window.localStorage.setItem(KEY, JSON.stringify(value));
      else window.localStorage.removeItem(KEY);
    } catch (e) { /* private mode: log in again next time */ }
  }

  function status(message, kind) {
    var box = $("wg-status");
    if (!box) return;
    box.textContent = message;
    box.className = "wg-status wg-status-" + (kind || "info");
    box.hidden = false;
    window.clearTimeout(status.timer);
    status.timer = window.setTimeout(function () { box.hidden = true; }, 8000);
  }

  /* The zh-CN message of an API error body (api.errors), or a Chinese fallback. */
  function errorText(text, code) {
    try {
      var body = JSON.parse(text);
      if (body && body.messages && body.messages["zh-CN"]) return body.messages["zh-CN"];
    } catch (e) { /* not JSON */ }
    return code === 0 ? "网络连接失败，请检查网络后重试" : "操作失败（" + code + "）";
  }

  async function api(path, options) {
    options = options || {};
    var headers = options.headers || {};
    headers["Accept-Language"] = "zh-CN";
    var kept = session();
    if (kept) headers["Authorization"] = "Bearer " + kept.token;
    var response = await fetch(path, { method: options.method || "GET", headers: headers, body: options.body });
    var text = await response.text();
    if (!response.ok) {
      var error = new Error(errorText(text, response.status));
      error.status = response.status;
      throw error;
    }
    return text ? JSON.parse(text) : null;
  }

  /* -- htmx wiring ------------------------------------------------------------------------------------ */
  document.addEventListener("htmx:configRequest", function (e) {
    var kept = session();
    if (kept) e.detail.headers["Authorization"] = "Bearer " + kept.token;
    e.detail.headers["Accept-Language"] = "zh-CN";
  });

  document.addEventListener("htmx:beforeSwap", function (e) {
    var code = e.detail.xhr.status;
    if (code < 400) return;
    e.detail.shouldSwap = false;
    e.detail.isError = false; // handled here: no console error for an answer the page expected
    status(errorText(e.detail.xhr.responseText, code), "error");
    if (code === 401) logout("登录已过期，请重新登录");
  });

  document.addEventListener("htmx:sendError", function () { status("网络连接失败，请检查网络后重试", "error"); });

  document.addEventListener("htmx:afterSwap", function (e) {
    var target = e.detail.target;
    loadPhotos(target);
    if (target.id === "wg-case") {
      target.classList.toggle("wg-casebox-open", target.children.length > 0);
      var moved = e.detail.xhr && e.detail.xhr.getResponseHeader("HX-Trigger");
      if (moved) status("已办理：" + (($("wg-case-status") || {}).textContent || ""), "ok");
    }
    if (map) drawRows(target);
  });

  document.addEventListener("click", function (e) {
    var close = e.target.closest && e.target.closest("[data-close-case]");
    if (close) {
      var box = $("wg-case");
      box.textContent = "";
      box.classList.remove("wg-casebox-open");
    }
  });

  async function loadPhotos(root) {
    var images = root.querySelectorAll ? root.querySelectorAll("img[data-photo-src]") : [];
    for (var i = 0; i < images.length; i++) {
      var img = images[i];
      var kept = session();
      try {
        var response = await fetch(img.getAttribute("data-photo-src"),
          { headers: kept ? { Authorization: "Bearer " + kept.token } : {} });
        if (!response.ok) continue;
        img.src = URL.createObjectURL(await response.blob());
        img.removeAttribute("data-photo-src");
      } catch (err) { /* offline: the photo stays a placeholder */ }
    }
  }

  /* -- the map beside the lists ----------------------------------------------------------------------- */
  function makeMap() {
    var box = $("wg-map");
    if (!box || map) return;
    map = L.map(box, { zoomControl: false }).setView([config.center[1], config.center[0]], 14);
    // The base map setting, as on /map: tiles under the rows, and AMap's GCJ-02 for every marker and click.
    WanggeBasemap.apply(map, config.basemap);
    L.control.zoom({ position: "bottomright", zoomInTitle: "放大", zoomOutTitle: "缩小" }).addTo(map);
    L.control.scale({ position: "bottomright", imperial: false }).addTo(map);
    map.attributionControl.setPrefix(false);
    markers = L.featureGroup().addTo(map);
    api(config.api + "/layers/communities?limit=1000").then(function (areas) {
      L.geoJSON(areas, { interactive: false, style: { color: "#2c7fb8", weight: 1.5, fillOpacity: 0 } }).addTo(map);
    }).catch(function () { /* the list works without the outlines */ });
  }

  function drawRows(root) {
    var queue = root.querySelector ? root.querySelector("[data-bounds]") : null;
    if (queue) {
      var b = JSON.parse(queue.getAttribute("data-bounds"));
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [16, 16] });
    }
    if (root.id !== "wg-list") return;
    markers.clearLayers();
    var seen = {};
    root.querySelectorAll(".wg-row").forEach(function (row) {
      var id = row.getAttribute("data-id");
      if (!id || !row.hasAttribute("data-lat") || seen[id]) return;
      seen[id] = true;
      var overdue = row.getAttribute("data-overdue") === "true";
      var marker = L.circleMarker([Number(row.getAttribute("data-lat")), Number(row.getAttribute("data-lon"))], {
        radius: overdue ? 9 : 7, color: "#ffffff", weight: 2, fillOpacity: 0.95,
        fillColor: overdue ? "#d62728" : "#f28e2b",
        className: "wg-incident" + (overdue ? " wg-incident-overdue" : "")
      });
      var opens = row.getAttribute("data-open") || "/app/cases/" + id;
      marker.on("click", function () { htmx.ajax("GET", opens, { target: "#wg-case" }); });
      marker.bindTooltip(row.getAttribute("data-public-id") || row.getAttribute("data-name") || "");
      markers.addLayer(marker);
    });
    if (!queue && markers.getLayers().length) map.fitBounds(markers.getBounds(), { padding: [24, 24], maxZoom: 17 });
  }

  /* -- log-in and landing ---------------------------------------------------------------------------- */
  function showLogin(message) {
    var box = $("wg-login");
    if (!box) return;
    box.hidden = false;
    $("wg-login-error").textContent = message || "";
  }

  function logout(message) {
    saveSession(null);
    me = null;
    if ($("wg-user")) $("wg-user").textContent = "";
    showLogin(message);
  }

  function homeOf(role) { return (config.homes || {})[role] || "/"; }

  async function begin() {
    try {
      me = await api(config.api + "/me");
    } catch (e) {
      if (e.status === 401) logout(""); else showLogin(e.message);
      return;
    }
    var roles = (document.body.getAttribute("data-roles") || "").split(",");
    if (roles.indexOf(me.role) < 0) { window.location.replace(homeOf(me.role)); return; }
    $("wg-login").hidden = true;
    $("wg-user").textContent = me.display_name || me.username;
    $("wg-logout").hidden = false;
    var page = document.body.getAttribute("data-page");
    if (me.role === "admin") { $("wg-nav-desk").hidden = page === "desk"; $("wg-nav-admin").hidden = page === "admin"; }
    makeMap();
    htmx.trigger(document.body, "wg-ready");
  }

  async function login(form) {
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    $("wg-login-error").textContent = "";
    try {
      var token = await api(config.api + "/auth/token", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: form.elements.username.value.trim(), password: form.elements.password.value })
      });
      saveSession({ token: token.access_token, expires: Date.now() + (token.expires_in || 3600) * 1000 });
      form.elements.password.value = "";
      await begin();
    } catch (e) {
      $("wg-login-error").textContent = e.status === 401 ? "用户名或密码错误" : e.message;
    } finally {
      button.disabled = false;
    }
  }

  function start() {
    var node = $("wg-config");
    config = node ? JSON.parse(node.textContent) : {};
    var form = $("wg-login-form");
    form.addEventListener("submit", function (e) { e.preventDefault(); login(form); });
    $("wg-logout").addEventListener("click", function () { logout(""); });
    $("wg-status").addEventListener("click", function (e) { e.currentTarget.hidden = true; });
    if (session()) begin(); else showLogin("");
  }

  window.WanggePages = { api: api, status: status, errorText: errorText, loadPhotos: loadPhotos,
                         map: function () { return map; } };
  // The role pages start here; the worker's map page (worker.js) uses only the htmx wiring above.
  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.classList.contains("wg-role-page")) start();
  });
})();
