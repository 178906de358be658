// Sidak console: the only script the pages load (the Content-Security-Policy allows no
// other). Everything works without it except the wall screen's own refresh.
"use strict";

// Forms that end or change a case ask once more.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// The wall screen (and any page with data-refresh) polls itself with If-None-Match and
// swaps in the new content only when the server says it changed.
(function () {
  var body = document.body;
  var seconds = parseInt(body.getAttribute("data-refresh") || "0", 10);
  if (!seconds || !window.fetch) {
    return;
  }
  var etag = body.getAttribute("data-etag") || "";
  function poll() {
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch(window.location.href, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401 || response.redirected) {
          window.location.reload();
          return null;
        }
        if (response.status !== 200) {
          return null;
        }
        etag = response.headers.get("ETag") || "";
        return response.text();
      })
      .then(function (text) {
        if (!text) {
          return;
        }
        var fresh = new DOMParser().parseFromString(text, "text/html");
        var main = document.querySelector("main");
        var next = fresh.querySelector("main");
        if (main && next) {
          main.replaceWith(document.importNode(next, true));
          body.setAttribute("data-etag", etag);
          body.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () { /* offline for a moment: try again next time */ })
      .then(function () { window.setTimeout(poll, seconds * 1000); });
  }
  window.setTimeout(poll, seconds * 1000);
})();
