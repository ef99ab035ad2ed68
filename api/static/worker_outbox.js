/*
 * The grid worker's offline report queue, on the map page's Page (worker.js).
 * Loaded after worker.js and before the page starts; reports wait in IndexedDB (vendored idb-keyval).
 */
(function () {
  "use strict";

  var Page = window.WanggeWorker.Page;
  function $(id) { return document.getElementById(id); }

  /* -- the offline queue ---------------------------------------------------------------------------- */
  /* Reports made without signal wait in IndexedDB (idb-keyval; photos as Blobs) under their Idempotency-Key
   * and are sent when the phone is online again. A retry sends the same key, so a report whose first try
   * reached the server but lost its answer never makes a second case. */
  var OUTBOX = "wangge.outbox:";

  Page.prototype.queueReport = async function (item, form) {
    try {
      await window.idbKeyval.set(OUTBOX + item.key, item);
    } catch (e) {
      $("wg-report-error").textContent = "网络不可用，且无法在手机上保存，请稍后重试";
      return;
    }
    form.reset();
    $("wg-photo-name").textContent = "未选择照片";
    this.closeReport();
    var waiting = (await this.outboxKeys()).length;
    this.status("网络不可用，已保存在手机上，恢复网络后自动上报（待发送 " + waiting + " 条）", "warn", 10);
  };

  Page.prototype.outboxKeys = async function () {
    try {
      var keys = await window.idbKeyval.keys();
      return keys.filter(function (k) { return String(k).indexOf(OUTBOX) === 0; }).sort();
    } catch (e) { return []; }
  };

  Page.prototype.flushOutbox = async function () {
    if (this.flushing || !this.me) return;
    this.flushing = true;
    var sent = 0;
    var refused = [];
    try {
      var keys = await this.outboxKeys();
      for (var i = 0; i < keys.length; i++) {
        var item = await window.idbKeyval.get(keys[i]);
        if (!item) continue;
        var request = { method: "POST", headers: { "Idempotency-Key": item.key } };
        if (item.photo) {
          var data = new FormData();
          Object.keys(item.fields).forEach(function (name) { data.append(name, String(item.fields[name])); });
          data.append("photos", item.photo, item.photo.name || "photo.jpg");
          request.body = data;
        } else {
          request.headers["Content-Type"] = "application/json";
          request.body = JSON.stringify(item.fields);
        }
        try {
          await this.request("/incidents", request);
          sent += 1;
        } catch (e) {
          if (e.status === 0 || e.status >= 500 || e.status === 401) break; // try again later
          refused.push(e.message); // the server said no: keeping it would fail forever
        }
        await window.idbKeyval.del(keys[i]);
      }
    } finally {
      this.flushing = false;
    }
    if (refused.length) this.status("有 " + refused.length + " 条离线上报未被接受：" + refused[0], "error", 12);
    else if (sent) this.status("网络已恢复，已补报 " + sent + " 条问题", "ok", 10);
    if (sent) this.refresh(true);
  };

})();
