/*
 * The grid worker's patrol log (巡查记录), on the map page's Page (worker.js): start/stop, positions, the day.
 * Loaded after worker.js and before the page starts; see api/routes/patrols.py for the server side.
 */
(function () {
  "use strict";

  var Page = window.WanggeWorker.Page;
  function $(id) { return document.getElementById(id); }

  /* -- the patrol log ------------------------------------------------------------------------------- */
  /* 开始巡查 … 结束巡查: while the page is open, the phone's positions go to the server every 20 s (or every
   * 10 positions) and are drawn as the route; the line under the legend says how many cells today's patrols
   * covered (the server's count: gis.people.patrols). */
  var PATROL_SEND_MS = 20000;

  Page.prototype.togglePatrol = async function () {
    if (this.patrol) { await this.stopPatrol(); return; }
    if (!window.navigator.geolocation) { this.status("此设备无法定位，不能记录巡查", "error"); return; }
    var started;
    try { started = await this.request("/patrols", { method: "POST" }); }
    catch (e) { this.status("开始巡查失败：" + e.message, "error"); return; }
    var self = this;
    this.patrol = { id: started.id, buffer: [], route: L.polyline([], { color: "#2ca02c", weight: 4,
      className: "wg-patrol-route", interactive: false }).addTo(this.map) };
    this.patrol.watch = window.navigator.geolocation.watchPosition(function (pos) { self.patrolPosition(pos); },
      function () { self.status("无法获取位置，请允许定位", "error"); },
      { enableHighAccuracy: true, maximumAge: 5000, timeout: 20000 });
    this.patrol.timer = window.setInterval(function () { self.sendPatrol(); }, PATROL_SEND_MS);
    $("wg-patrol").textContent = "结束巡查";
    $("wg-patrol").classList.add("wg-chip-on");
    $("wg-patrol-state").textContent = "巡查中";
  };

  Page.prototype.patrolPosition = function (pos) {
    if (!this.patrol) return;
    var point = { lon: Number(pos.coords.longitude.toFixed(7)), lat: Number(pos.coords.latitude.toFixed(7)),
                  at: new Date(pos.timestamp || Date.now()).toISOString(), accuracy_m: pos.coords.accuracy };
    this.patrol.buffer.push(point);
    this.patrol.route.addLatLng([point.lat, point.lon]);
    if (this.patrol.buffer.length >= 10) this.sendPatrol();
  };

  Page.prototype.sendPatrol = async function () {
    var patrol = this.patrol;
    if (!patrol || !patrol.buffer.length || patrol.sending) return;
    var points = patrol.buffer.splice(0, patrol.buffer.length);
    patrol.sending = true;
    try {
      await this.request("/patrols/" + patrol.id + "/points", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ points: points })
      });
      await this.showPatrolDay();
    } catch (e) {
      if (e.status === 0) patrol.buffer = points.concat(patrol.buffer); // no signal: send them next time
    } finally {
      patrol.sending = false;
    }
  };

  Page.prototype.showPatrolDay = async function () {
    try {
      var day = await this.request("/patrols/day");
      $("wg-patrol-state").textContent = (this.patrol ? "巡查中 · " : "今日巡查 · ") + "已覆盖 " +
        day.cells.length + " 个网格，" + Math.round(day.distance_m) + " 米";
    } catch (e) { /* the count is a help, not the work */ }
  };

  Page.prototype.stopPatrol = async function () {
    var patrol = this.patrol;
    if (!patrol) return;
    window.navigator.geolocation.clearWatch(patrol.watch);
    window.clearInterval(patrol.timer);
    await this.sendPatrol();
    this.patrol = null;
    try { await this.request("/patrols/" + patrol.id + "/stop", { method: "POST" }); }
    catch (e) { this.status("结束巡查失败：" + e.message, "error"); }
    $("wg-patrol").textContent = "开始巡查";
    $("wg-patrol").classList.remove("wg-chip-on");
    await this.showPatrolDay();
  };

})();
