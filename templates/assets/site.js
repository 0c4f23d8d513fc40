// The site's one script besides Plotly: "How we know" sections (details.how).
(function () {
  // "How we know" sections: charts drawn while closed take their width when opened; a link into one opens it; print shows all
  function openTarget() {
    var t = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    var d = t && t.closest("details.how");
    if (d && !d.open) { d.open = true; t.scrollIntoView(); }
  }
  document.addEventListener("toggle", function (e) {
    if (e.target.matches && e.target.matches("details.how") && e.target.open && window.Plotly) {
      e.target.querySelectorAll(".js-plotly-plot").forEach(function (p) { Plotly.Plots.resize(p); });
    }
  }, true);
  window.addEventListener("hashchange", openTarget);
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.how").forEach(function (d) { d.open = true; });
  });
  openTarget();
})();
