/* The base map of every Wangge page (the worker's map, the officer's and the desk's, the command map): one
 * reading of the `basemap` setting as maps/basemaps.py describes it ({kind, url, overlays, datum, …}).
 *   - `none`: no outside tile; the page draws its own light base from Wangge's layers.
 *   - OSM / Tianditu / local MBTiles: raster tiles under every overlay (Tianditu with its label layer).
 *   - AMap: its tiles are GCJ-02, so the map's CRS projects WGS84 through GCJ-02 (datum.js): every overlay,
 *     click and located point stays WGS84 in the page and in what it sends, and lands where AMap draws the place.
 * Call `WanggeBasemap.apply(map, basemap)` before the page adds any layer. Needs datum.js for AMap. */
(function () {
  "use strict";

  function isGcj(basemap) { return !!basemap && basemap.datum === "gcj02"; }

  /* The map's CRS for the base map's datum; before any layer is added. */
  function setDatum(map, basemap) {
    if (!isGcj(basemap)) return;
    map.options.crs = window.WanggeDatum.crs();
    map._resetView(map.getCenter(), map.getZoom(), true); // Leaflet keeps no public way to change the CRS
  }

  /* The base map's tile layers (and label layer); returns {title: layer} of those added (empty for none). */
  function addTiles(map, basemap) {
    var b = basemap || { kind: "none" }, out = {};
    if (b.kind === "none" || !b.url) return out;
    var options = { attribution: b.attribution || "", maxZoom: b.max_zoom || 18, subdomains: b.subdomains || "abc" };
    out[b.title || "底图"] = L.tileLayer(b.url, options).addTo(map);
    (b.overlays || []).forEach(function (o) { L.tileLayer(o.url, options).addTo(map); });
    return out;
  }

  function apply(map, basemap) { setDatum(map, basemap); return addTiles(map, basemap); }

  /* Query parameters for Wangge's own vector tiles, which must be cut in the base map's datum. */
  function tileParams(basemap, params) {
    if (isGcj(basemap)) params.set("datum", "gcj02");
    return params;
  }

  window.WanggeBasemap = { apply: apply, setDatum: setDatum, addTiles: addTiles, isGcj: isGcj, tileParams: tileParams };
})();
