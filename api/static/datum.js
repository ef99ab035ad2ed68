/* GCJ-02 for pages on AMap (高德) tiles: the formula of gis/spatial/crs.py (_gcj02_offset, and the inverse by the
 * same fixed-point iteration), held equal to it within 1 m by tests/browser/test_command_map.py, and a Leaflet CRS
 * that projects WGS84 through GCJ-02. With that CRS every overlay, click and located point — all WGS84 in
 * Wangge — lands where AMap's GCJ-02 tiles draw the place. Exposes window.WanggeDatum. */
(function () {
  "use strict";
  var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;
  var BOUNDS = [72.004, 0.8293, 137.8347, 55.8271];
  var TOLERANCE = 1e-9, MAX_ITERATIONS = 30;

  function inChina(x, y) { return x >= BOUNDS[0] && x <= BOUNDS[2] && y >= BOUNDS[1] && y <= BOUNDS[3]; }

  function offset(x, y) {
    if (!inChina(x, y)) return [0, 0];
    var u = x - 105.0, v = y - 35.0;
    var shared = (20.0 * Math.sin(6.0 * PI * u) + 20.0 * Math.sin(2.0 * PI * u)) * 2.0 / 3.0;
    var dlat = -100.0 + 2.0 * u + 3.0 * v + 0.2 * v * v + 0.1 * u * v + 0.2 * Math.sqrt(Math.abs(u)) + shared;
    dlat += (20.0 * Math.sin(PI * v) + 40.0 * Math.sin(PI * v / 3.0)) * 2.0 / 3.0;
    dlat += (160.0 * Math.sin(PI * v / 12.0) + 320.0 * Math.sin(PI * v / 30.0)) * 2.0 / 3.0;
    var dlon = 300.0 + u + 2.0 * v + 0.1 * u * u + 0.1 * u * v + 0.1 * Math.sqrt(Math.abs(u)) + shared;
    dlon += (20.0 * Math.sin(PI * u) + 40.0 * Math.sin(PI * u / 3.0)) * 2.0 / 3.0;
    dlon += (150.0 * Math.sin(PI * u / 12.0) + 300.0 * Math.sin(PI * u / 30.0)) * 2.0 / 3.0;
    var radLat = y / 180.0 * PI, magic = 1 - EE * Math.pow(Math.sin(radLat), 2), sqrtMagic = Math.sqrt(magic);
    dlat = dlat * 180.0 / ((A * (1 - EE)) / (magic * sqrtMagic) * PI);
    dlon = dlon * 180.0 / (A / sqrtMagic * Math.cos(radLat) * PI);
    return [dlon, dlat];
  }

  function toGcj(lon, lat) { var d = offset(lon, lat); return [lon + d[0], lat + d[1]]; }

  function toWgs(lon, lat) {
    var wx = lon, wy = lat;
    for (var i = 0; i < MAX_ITERATIONS; i++) {
      var f = toGcj(wx, wy), ex = f[0] - lon, ey = f[1] - lat;
      if (Math.abs(ex) < TOLERANCE && Math.abs(ey) < TOLERANCE) break;
      wx -= ex; wy -= ey;
    }
    return [wx, wy];
  }

  function crs() {
    var merc = L.Projection.SphericalMercator;
    return L.extend({}, L.CRS.EPSG3857, {
      code: "WANGGE:GCJ02",
      projection: {
        bounds: merc.bounds,
        project: function (latlng) { var g = toGcj(latlng.lng, latlng.lat); return merc.project(L.latLng(g[1], g[0])); },
        unproject: function (point) { var ll = merc.unproject(point), w = toWgs(ll.lng, ll.lat); return L.latLng(w[1], w[0]); }
      }
    });
  }

  window.WanggeDatum = { offset: offset, toGcj: toGcj, toWgs: toWgs, crs: crs };
})();
