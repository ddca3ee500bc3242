// The map view: the base map and the previewed layer, both GeoJSON (EPSG:4326) from the page's
// data attributes, drawn as SVG by Leaflet (vendored) with no tile layer: nothing is fetched
// from outside the gateway. Areas and grid cells are shaded in five classes of the value column
// (suppressed: grey); points are circles. The legend is text beside the map.
(function () {
  "use strict";
  var box = document.getElementById("map");
  if (!box || typeof window.L === "undefined") { return; }
  var L = window.L;
  var base = box.dataset.base ? JSON.parse(box.dataset.base) : null;
  var result = box.dataset.result ? JSON.parse(box.dataset.result) : null;
  var kind = box.dataset.kind || "";
  var valueColumn = box.dataset.value || "";
  var shades = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
  var missing = "#bdbdbd";
  var map = L.map(box, { attributionControl: false, zoomSnap: 0.25 });
  map.createPane("base").style.zIndex = 410;
  map.createPane("result").style.zIndex = 420;
  var drawn = { base: 0, result: 0 };
  var bounds = null;

  function name(p) { return p.name || p.local_authority_code || ""; }

  if (base) {
    var baseLayer = L.geoJSON(base, {
      pane: "base",
      style: { color: "#4a4a4a", weight: 1, fill: result ? false : true, fillColor: "#dfe7f3", fillOpacity: 0.4 },
      onEachFeature: function (feature, layer) {
        drawn.base += 1;
        layer.bindTooltip(name(feature.properties));
      },
    }).addTo(map);
    if (drawn.base) { bounds = baseLayer.getBounds(); }
  }

  // Class limits: quantiles of the values, each limit once (many equal values make fewer
  // classes); a value goes to the first class whose limit it does not exceed.
  function breaks(values) {
    var sorted = values.slice().sort(function (a, b) { return a - b; });
    var out = [];
    for (var i = 1; i < shades.length; i++) {
      var cut = sorted[Math.min(sorted.length - 1, Math.floor((i * sorted.length) / shades.length))];
      if (out.indexOf(cut) < 0 && cut < sorted[sorted.length - 1]) { out.push(cut); }
    }
    return out;
  }

  function shadeOf(value, cuts) {
    if (value === null || value === undefined || Number.isNaN(value)) { return missing; }
    var i = 0;
    while (i < cuts.length && value > cuts[i]) { i++; }
    return shades[Math.round((i * (shades.length - 1)) / Math.max(1, cuts.length))];
  }

  function swatch(shade, text) {
    var item = document.createElement("span");
    var sample = document.createElement("span");
    sample.className = "swatch";
    sample.style.background = shade;
    item.appendChild(sample);
    item.appendChild(document.createTextNode(text));
    return item;
  }

  function legend(cuts) {
    var box = document.getElementById("legend");
    if (!box) { return; }
    box.textContent = "";
    var title = document.createElement("strong");
    title.textContent = (valueColumn || "features") + ":";
    box.appendChild(title);
    cuts.forEach(function (cut, i) {
      var text = i === 0 ? "up to " + cut : "over " + cuts[i - 1] + " to " + cut;
      box.appendChild(swatch(shadeOf(cut, cuts), text));
    });
    var top = cuts.length ? "over " + cuts[cuts.length - 1] : "all";
    box.appendChild(swatch(shadeOf(Infinity, cuts), top));
    box.appendChild(swatch(missing, "suppressed or none"));
  }

  if (result) {
    var values = result.features.map(function (f) { return f.properties[valueColumn]; })
      .filter(function (v) { return typeof v === "number"; });
    var cuts = breaks(values.length ? values : [0]);
    var resultLayer = L.geoJSON(result, {
      pane: "result",
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, { pane: "result", radius: 6 });
      },
      style: function (feature) {
        var shade = shadeOf(feature.properties[valueColumn], cuts);
        return { color: kind === "points" ? "#1b1b1b" : "#6b6b6b", weight: 1, fillColor: shade, fillOpacity: 0.8 };
      },
      onEachFeature: function (feature, layer) {
        drawn.result += 1;
        var v = feature.properties[valueColumn];
        layer.bindTooltip((name(feature.properties) || feature.properties.cell_id || "") + " " + valueColumn + ": " + (v === null || v === undefined ? "suppressed" : v));
      },
    }).addTo(map);
    if (drawn.result) { bounds = resultLayer.getBounds().extend(bounds || resultLayer.getBounds()); }
    legend(cuts);
  }
  if (bounds) { map.fitBounds(bounds, { padding: [10, 10] }); } else { map.setView([54.57, -1.23], 10); }
  window.gatewayMap = { map: map, drawn: drawn };
})();
