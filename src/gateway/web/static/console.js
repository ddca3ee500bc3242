// The SQL console, improved: a CodeMirror editor (highlighting; Ctrl+Space completes the table
// and column names of the catalog on the page, nothing else), the query run in place with a
// Cancel button, and the result paged in a grid. Without this script the form still works:
// Run downloads CSV, the download buttons post the export form.
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
  var runIdField = document.getElementById("run-id");
  var runButton = document.getElementById("run");
  var cancelButton = document.getElementById("cancel");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var answer = null;
  var page = 0;
  var running = null; // {runId, controller, cancelling}
  var editor = null;

  function sqlText() {
    if (editor) { editor.save(); }
    return sql.value;
  }

  function runQuery() {
    if (form.requestSubmit) { form.requestSubmit(runButton); } else { runButton.click(); }
  }

  // sql-hint's completions, with the list named for assistive technology
  function namedHints(cm, options) {
    var found = window.CodeMirror.hint.sql(cm, options);
    if (found) {
      window.CodeMirror.on(found, "shown", function () {
        var active = cm.state.completionActive;
        if (active && active.widget) { active.widget.hints.setAttribute("aria-label", "Completions"); }
      });
    }
    return found;
  }

  if (window.CodeMirror) {
    var tables = {};
    try { tables = JSON.parse(sql.getAttribute("data-completion") || "{}"); } catch (e) { tables = {}; }
    var label = document.getElementById("sql-label");
    editor = window.CodeMirror.fromTextArea(sql, {
      mode: "text/x-sql",
      lineNumbers: true,
      lineWrapping: true,
      viewportMargin: Infinity,
      screenReaderLabel: label ? label.textContent : "SQL",
      hintOptions: { hint: namedHints, tables: tables, completeSingle: false },
      extraKeys: {
        "Ctrl-Space": "autocomplete",
        "Ctrl-Enter": runQuery,
        "Cmd-Enter": runQuery,
        // Tab and Shift+Tab move the focus on (no keyboard trap); Ctrl+] indents
        "Tab": false,
        "Shift-Tab": false,
      },
    });
    editor.on("inputRead", function (cm, change) {
      if (change.text.length === 1 && change.text[0] === ".") { cm.showHint(); }
    });
    var input = editor.getInputField();
    input.setAttribute("aria-describedby", "sql-help");
    if (label) { label.addEventListener("click", function () { editor.focus(); }); }
  }

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
      var source = sqlText().split("\n")[error.line - 1] || "";
      var caret = " ".repeat(Math.max(0, error.column - 1)) + "^ line " + error.line + ", column " + error.column;
      errorBox.appendChild(text("pre", source + "\n" + caret, { class: "position" }));
      if (editor) { editor.setCursor({ line: error.line - 1, ch: error.column - 1 }); }
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

  function newRunId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function finished() {
    var hadFocus = document.activeElement === cancelButton;
    running = null;
    runIdField.value = "";
    cancelButton.hidden = true;
    cancelButton.disabled = false;
    runButton.disabled = false;
    if (hadFocus) { runButton.focus(); }
  }

  cancelButton.addEventListener("click", function () {
    if (!running || running.cancelling) { return; }
    var current = running;
    current.cancelling = true;
    cancelButton.disabled = true;
    status.textContent = "Cancelling…";
    var body = new URLSearchParams();
    body.set("run_id", current.runId);
    fetch("/console/cancel", {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
      body: body,
      credentials: "same-origin",
    }).then(function (response) {
      // not found here (another server process, or just finished): drop the request, which
      // withdraws the query as a disconnect does
      if (!response.ok && running === current) { current.controller.abort(); }
    }).catch(function () {
      if (running === current) { current.controller.abort(); }
    });
  });

  form.addEventListener("submit", function (event) {
    var format = event.submitter ? event.submitter.dataset.format : "json";
    sqlText();
    if (format === "export") { formatField.value = "csv"; return; } // a plain post: the file, or the held notice
    formatField.value = format;
    if (format === "csv") { return; } // a plain form post: the browser downloads it
    event.preventDefault();
    if (running) { return; }
    errorBox.textContent = "";
    status.textContent = "Running…";
    answer = null;
    draw();
    var current = { runId: newRunId(), controller: new AbortController(), cancelling: false };
    running = current;
    runIdField.value = current.runId;
    var payload = new URLSearchParams(new FormData(form));
    runButton.disabled = true;
    cancelButton.hidden = false;
    cancelButton.focus();
    fetch(form.action, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
      body: payload,
      credentials: "same-origin",
      signal: current.controller.signal,
    }).then(function (response) {
      var marking = response.headers.get("X-Protective-Marking");
      if (marking) { // the page now shows this data: its banners say so
        document.querySelectorAll("[data-page-marking]").forEach(function (banner) { banner.textContent = marking; });
      }
      return response.json().then(function (data) { return { ok: response.ok, status: response.status, data: data }; });
    }).then(function (result) {
      finished();
      if (!result.ok) {
        status.textContent = "";
        if (result.status === 401) { window.location.assign("/login?ended=idle"); return; }
        var error = result.data.error || {};
        if (error.code === "cancelled") {
          status.textContent = "Cancelled: the query was withdrawn (recorded in the audit log as cancelled).";
          return;
        }
        showError(error);
        return;
      }
      answer = result.data;
      page = 0;
      status.textContent = answer.row_count + " rows";
      draw();
    }).catch(function (failure) {
      var cancelled = current.cancelling || (failure && failure.name === "AbortError");
      finished();
      status.textContent = cancelled ? "Cancelled: the query was withdrawn." : "";
      if (!cancelled) { errorBox.textContent = "The gateway could not be reached."; }
    });
  });
})();
