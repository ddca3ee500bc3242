// The SQL console, improved: run the query in place and page through the result. Without
// this script the form still works (it downloads the result as CSV).
(function () {
  "use strict";
  var PAGE = 50;
  var form = document.getElementById("query-form");
  if (!form) { return; }
  var sql = document.getElementById("sql");
  var status = document.getElementById("status");
  var errorBox = document.getElementById("error");
  var results = document.getElementById("results");
  var formatField = document.getElementById("format");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var answer = null;
  var page = 0;

  function text(tag, value, attrs) {
    var el = document.createElement(tag);
    el.textContent = value === null || value === undefined ? "" : String(value);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    return el;
  }

  function showError(error) {
    var message = error.message || "the query failed";
    errorBox.textContent = "";
    errorBox.appendChild(text("p", error.code ? error.code + ": " + message : message));
    if (error.line && error.column) {
      var source = sql.value.split("\n")[error.line - 1] || "";
      var caret = " ".repeat(Math.max(0, error.column - 1)) + "^ line " + error.line + ", column " + error.column;
      errorBox.appendChild(text("pre", source + "\n" + caret, { class: "position" }));
    }
  }

  function draw() {
    results.textContent = "";
    if (!answer) { return; }
    var rows = answer.rows;
    var pages = Math.max(1, Math.ceil(rows.length / PAGE));
    var wrap = document.createElement("div");
    wrap.className = "results-wrap";
    var table = document.createElement("table");
    table.className = "grid";
    table.id = "result-grid";
    table.appendChild(text("caption", "Result " + answer.query_id + ": " + answer.row_count + " rows" + (answer.truncated ? " (cut at your level's row limit)" : "")));
    var head = document.createElement("tr");
    answer.columns.forEach(function (c) { head.appendChild(text("th", c.name, { scope: "col", title: c.type })); });
    var thead = document.createElement("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var body = document.createElement("tbody");
    rows.slice(page * PAGE, (page + 1) * PAGE).forEach(function (row) {
      var tr = document.createElement("tr");
      row.forEach(function (cell) { tr.appendChild(text("td", cell === null ? "" : cell)); });
      body.appendChild(tr);
    });
    table.appendChild(body);
    wrap.appendChild(table);
    results.appendChild(wrap);
    if (pages > 1) {
      var nav = document.createElement("nav");
      nav.className = "pager";
      nav.setAttribute("aria-label", "Result pages");
      var prev = text("button", "Previous", { type: "button", id: "prev-page" });
      var next = text("button", "Next", { type: "button", id: "next-page" });
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
      prev.addEventListener("click", function () { page -= 1; draw(); });
      next.addEventListener("click", function () { page += 1; draw(); });
      nav.appendChild(prev);
      nav.appendChild(text("span", "Page " + (page + 1) + " of " + pages, { id: "page-label" }));
      nav.appendChild(next);
      results.appendChild(nav);
    }
  }

  form.addEventListener("submit", function (event) {
    var format = event.submitter ? event.submitter.dataset.format : "json";
    formatField.value = format;
    if (format === "csv") { return; } // a plain form post: the browser downloads it
    event.preventDefault();
    errorBox.textContent = "";
    status.textContent = "Running…";
    answer = null;
    draw();
    fetch(form.action, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
    }).then(function (response) {
      var marking = response.headers.get("X-Protective-Marking");
      if (marking) { // the page now shows this data: its banners say so
        document.querySelectorAll("[data-page-marking]").forEach(function (banner) { banner.textContent = marking; });
      }
      return response.json().then(function (data) { return { ok: response.ok, status: response.status, data: data }; });
    }).then(function (result) {
      if (!result.ok) {
        status.textContent = "";
        if (result.status === 401) { window.location.assign("/login?ended=idle"); return; }
        showError(result.data.error || {});
        return;
      }
      answer = result.data;
      page = 0;
      status.textContent = answer.row_count + " rows";
      draw();
    }).catch(function () {
      status.textContent = "";
      errorBox.textContent = "The gateway could not be reached.";
    });
  });
})();
