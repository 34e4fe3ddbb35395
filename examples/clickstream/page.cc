// The live page: plain HTML, CSS and JavaScript, all served from here.
// Every table cell a result fills carries what it shows as data attributes
// (data-kind, data-window, data-page), which the integration test reads
// from the DOM headless Chromium renders.

#include "page_server.h"

namespace clickstream {

const char* const kPageHtml = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Clickstream on Sluice</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em 2em; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.5em; margin: 0 0 .2em; }
  h2 { font-size: 1.1em; margin: 1.4em 0 .2em; }
  .note { color: #667; margin: 0 0 .5em; font-size: .9em; }
  #status { color: #667; margin: 0; }
  #status.stale { color: #b00020; }
  .counters { display: flex; gap: 1em; margin-top: 1em; }
  .counters div { background: #fff; border-radius: 6px; padding: .6em 1em; box-shadow: 0 1px 2px #0002; }
  .counters span { font-size: 1.6em; font-weight: 600; display: block; }
  table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0002; min-width: 30em; }
  th, td { padding: .25em .7em; text-align: right; border-bottom: 1px solid #eceef2; white-space: nowrap; }
  th { background: #eef1f6; font-weight: 600; }
  td.page, th.page, td.text { text-align: left; font-family: ui-monospace, monospace; }
  td.text { font-family: inherit; }
  td.newest { font-weight: 600; }
  .empty { color: #99a; font-style: italic; padding: .5em; }
</style>
</head>
<body>
<h1>Website activity, live</h1>
<p id="status">waiting for the first results&hellip;</p>
<div class="counters">
  <div><span id="clicks">0</span>clicks read</div>
  <div><span id="enriched">0</span>clicks enriched</div>
  <div><span id="users">0</span>users known</div>
</div>

<h2>Page views per minute</h2>
<p class="note">Tumbling 1-minute windows (10 s grace), newest first; times in UTC.
  Topic <code>pageviews-per-minute</code>.</p>
<div id="pageviews"></div>

<h2>Unique users per page</h2>
<p class="note">5-minute windows advancing by 1 minute, newest first.
  Topic <code>unique-users-5m</code>.</p>
<div id="unique"></div>

<h2>Latest clicks, enriched with their user</h2>
<p class="note">A stream-table join of <code>clicks</code> with <code>users</code>.
  Topic <code>clicks-enriched</code>.</p>
<div id="recent"></div>

<script>
"use strict";

function utc(ms, withSeconds) {
  return new Date(ms).toISOString().substring(11, withSeconds ? 19 : 16);
}

function cell(tag, text, className) {
  const element = document.createElement(tag);
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

// One row per page, one column per window (newest first); pages ordered by
// the newest window's value, then by their total.
function drawMatrix(containerId, kind, results) {
  const container = document.getElementById(containerId);
  const windows = results.windows;
  if (windows.length === 0) {
    container.replaceChildren(cell("p", "no results yet", "empty"));
    return;
  }
  const totals = new Map();
  for (const window of windows) {
    for (const [page, value] of Object.entries(window.counts)) {
      totals.set(page, (totals.get(page) || 0) + value);
    }
  }
  const newest = windows[0].counts;
  const pages = [...totals.keys()].sort((a, b) =>
      (newest[b] || 0) - (newest[a] || 0) || totals.get(b) - totals.get(a) || a.localeCompare(b));
  const maxNewest = Math.max(1, ...Object.values(newest));

  const table = document.createElement("table");
  table.id = containerId + "-table";
  const head = document.createElement("tr");
  head.appendChild(cell("th", "page", "page"));
  for (const window of windows) {
    head.appendChild(cell("th", utc(window.start) + "\u2013" + utc(window.end)));
  }
  table.appendChild(head);
  for (const page of pages) {
    const row = document.createElement("tr");
    row.appendChild(cell("td", page, "page"));
    windows.forEach((window, index) => {
      const value = window.counts[page];
      const td = cell("td", value === undefined ? "" : String(value), index === 0 ? "newest" : "");
      if (value !== undefined) {
        td.dataset.kind = kind;
        td.dataset.window = String(window.start);
        td.dataset.page = page;
        if (index === 0) {
          const share = Math.round(100 * value / maxNewest);
          td.style.background = "linear-gradient(90deg, #cfe3ff " + share + "%, transparent " + share + "%)";
        }
      }
      row.appendChild(td);
    });
    table.appendChild(row);
  }
  container.replaceChildren(table);
}

function drawRecent(clicks) {
  const container = document.getElementById("recent");
  if (clicks.length === 0) {
    container.replaceChildren(cell("p", "no enriched clicks yet", "empty"));
    return;
  }
  const table = document.createElement("table");
  table.id = "recent-table";
  const head = document.createElement("tr");
  for (const title of ["time", "user", "name", "city", "level", "page"]) {
    head.appendChild(cell("th", title, title === "page" ? "page" : ""));
  }
  table.appendChild(head);
  clicks.forEach((click, index) => {
    const row = document.createElement("tr");
    row.className = "click";
    row.dataset.index = String(index);
    row.dataset.user = click.user_id || "";
    row.dataset.page = click.page || "";
    row.appendChild(cell("td", click.time ? utc(click.time, true) : ""));
    row.appendChild(cell("td", click.user_id || ""));
    row.appendChild(cell("td", click.username || "", "text username"));
    row.appendChild(cell("td", click.city || "", "text city"));
    row.appendChild(cell("td", click.level || "", "text level"));
    row.appendChild(cell("td", click.page || "", "page"));
    table.appendChild(row);
  });
  container.replaceChildren(table);
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("api/stats", {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    const stats = await response.json();
    document.getElementById("clicks").textContent = String(stats.clicks);
    document.getElementById("enriched").textContent = String(stats.enriched);
    document.getElementById("users").textContent = String(stats.users);
    drawMatrix("pageviews", "pageviews", stats.pageviews_per_minute);
    drawMatrix("unique", "unique", stats.unique_users_5m);
    drawRecent(stats.recent_clicks);
    status.textContent = "updated " + new Date().toLocaleTimeString();
    status.className = "";
  } catch (error) {
    status.textContent = "cannot reach the application (" + error.message + "); retrying";
    status.className = "stale";
  }
}

refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)PAGE";

}  // namespace clickstream
