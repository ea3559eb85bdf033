// Khronos dashboard: polls /api/status (every 2 s) and /api/history (every 10 s) and renders
// them. Every value is inserted with textContent or as an SVG attribute; never as HTML.
"use strict";

const STATUS_EVERY_MS = 2000;
const HISTORY_EVERY_MS = 10000;
const SVG = "http://www.w3.org/2000/svg";
let lastOk = 0;
let lastStatus = null;

function $(id) { return document.getElementById(id); }

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || isNaN(seconds)) return "—";
  seconds = Math.max(0, Number(seconds));
  if (seconds < 1) return seconds === 0 ? "0s" : seconds.toFixed(1) + "s";
  if (seconds < 90) return Math.round(seconds) + "s";
  if (seconds < 5400) return Math.round(seconds / 60) + "m";
  if (seconds < 172800) return (seconds / 3600).toFixed(1).replace(/\.0$/, "") + "h";
  return Math.round(seconds / 86400) + "d";
}

function ago(unix) {
  if (!unix) return "never";
  return duration(Date.now() / 1000 - unix) + " ago";
}

function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

function badge(text, kind) { return el("span", "badge b-" + kind, text); }

function kv(dl, key, value) {
  dl.append(el("dt", null, key));
  const dd = el("dd");
  if (value instanceof Node) dd.append(value); else dd.textContent = value === null || value === undefined ? "—" : String(value);
  dl.append(dd);
}

// ---------------------------------------------------------------- status

function renderOverall(s) {
  const state = s.overall.state;
  const box = $("overall");
  box.className = "overall state-" + state.toLowerCase();
  const words = { OK: "OK — everything is fine", WARN: "WARN — needs a look", CRITICAL: "CRITICAL — act now" };
  $("overall-state").textContent = words[state] || state;
  const list = $("overall-reasons");
  list.replaceChildren(...s.overall.reasons.map((r) => el("li", null, r)));
  document.title = state + " · Khronos · " + s.service.name;
  $("service").textContent = s.service.name + " (" + s.service.environment + ")";
}

function renderDatabases(s) {
  const box = $("databases");
  if (!s.databases.length) {
    box.replaceChildren(el("p", "muted", "No database is backed up (add a backup: section)."));
    return;
  }
  box.replaceChildren(...s.databases.map((db) => {
    const card = el("article", "card db");
    const title = el("h3");
    title.append(el("span", null, db.label));
    let state = ["replicating", "ok"];
    if (!db.db_exists) state = ["database missing", "crit"];
    else if (db.replica_down) state = ["replica down", "crit"];
    else if (!db.replicating) state = ["not replicating", "crit"];
    else if (db.lag_seconds !== null && db.lag_seconds > db.lag_alert_after_seconds) state = ["lagging", "crit"];
    title.append(badge(state[0], state[1]));
    card.append(title);
    const dl = el("dl", "kv");
    kv(dl, "replica", db.replica);
    kv(dl, "last sync", db.last_sync_at ? ago(db.last_sync_at) : "never");
    const lag = db.lag_seconds === null ? "unknown" : duration(db.lag_seconds) +
      (db.lag_txids !== null ? " · " + db.lag_txids + " txid" + (db.lag_txids === 1 ? "" : "s") + " behind" : "");
    kv(dl, "lag", lag);
    kv(dl, "txid", "local " + (db.local_txid || "—") + " · replica " + (db.replica_txid || "—"));
    kv(dl, "size", bytes(db.size_bytes) + (db.wal_size_bytes ? " (WAL " + bytes(db.wal_size_bytes) + ")" : ""));
    const drill = db.last_drill;
    let drillText = "never run";
    if (drill) {
      drillText = (drill.ok ? "passed " : "FAILED ") + ago(drill.at) +
        (drill.duration_seconds !== null && drill.duration_seconds !== undefined ? " in " + Number(drill.duration_seconds).toFixed(1) + "s" : "") +
        (drill.ok ? "" : ": " + (drill.error || "unknown error"));
    }
    const drillNode = el("span");
    if (drill) drillNode.append(badge(drill.ok ? "ok" : "failed", drill.ok ? "ok" : "crit"), " ");
    drillNode.append(drillText);
    kv(dl, "restore drill", drillNode);
    for (const snap of db.snapshots || []) kv(dl, "snapshot " + snap.dest, snapshotNode(snap));
    if (db.last_error) kv(dl, "last error", db.last_error);
    card.append(dl);
    const hint = el("p", "hint");
    hint.append("To restore: ", el("code", null, db.restore_hint), " then without ", el("code", null, "--dry-run"), " with the app stopped.");
    card.append(hint);
    return card;
  }));
}

// One snapshot destination: state badge, newest (age, size, verified), next due, error, drill.
function snapshotNode(snap) {
  const node = el("span");
  node.dataset.snapshot = snap.dest;
  let state = ["ok", "ok"];
  if (snap.last_error) state = ["failing", "crit"];
  else if (snap.stale) state = ["stale", "crit"];
  else if (!snap.last_success_at) state = ["none yet", "muted"];
  node.dataset.state = state[0];
  node.append(badge(state[0], state[1]), " ");
  const now = Date.now() / 1000;
  const parts = [];
  if (snap.last_success_at) {
    parts.push(ago(snap.last_success_at) + ", " + bytes(snap.size_bytes) + (snap.verified ? ", verified" : ", not verified"));
  } else {
    parts.push("no snapshot yet");
  }
  if (snap.running) parts.push("taking one now");
  else if (snap.next_due_at) parts.push("next " + (snap.next_due_at <= now ? "now" : "in " + duration(snap.next_due_at - now)));
  if (snap.last_error) parts.push(snap.consecutive_failures + " failed in a row: " + snap.last_error);
  const drill = snap.last_drill;
  if (drill && drill.ok !== null) parts.push("drill " + (drill.ok ? "ok " : "FAILED ") + ago(drill.at) + (drill.ok ? "" : ": " + (drill.detail || "unknown error")));
  node.append(parts.join(" · "));
  return node;
}

function renderApp(s) {
  const section = $("app-section");
  const app = s.app;
  section.hidden = !app;
  if (!app) return;
  const dl = $("app");
  dl.replaceChildren();
  const up = app.gave_up ? badge("gave up", "crit") : app.up ? badge("up", "ok") : badge("down", "crit");
  kv(dl, "state", up);
  kv(dl, "command", app.command);
  kv(dl, "pid", app.pid);
  kv(dl, "uptime", app.uptime_seconds === null || app.uptime_seconds === undefined ? "—" : duration(app.uptime_seconds));
  kv(dl, "restarts", app.restarts);
  kv(dl, "last exit", exitText(app.last_exit));
  if (app.metrics_url) kv(dl, "metrics", app.metrics_url + (app.last_scrape ? " (" + (typeof app.last_scrape === "object" ? JSON.stringify(app.last_scrape) : app.last_scrape) + ")" : ""));
}

function row(badgeNode, text, when) {
  const li = el("li");
  li.append(badgeNode, el("span", "grow", text));
  if (when) li.append(el("span", "when", when));
  return li;
}

function renderChecks(s) {
  const list = $("checks");
  if (!s.checks.length) { list.replaceChildren(row(badge("none", "muted"), "No checks configured.")); return; }
  list.replaceChildren(...s.checks.map((c) => {
    const b = c.ok === null ? badge("pending", "muted") : c.ok ? badge("ok", "ok") : badge("failing", levelKind(c.level) === "crit" ? "crit" : "warn");
    const li = row(b, c.name + (c.message ? " — " + c.message : ""), c.since ? (c.ok ? "ok for " : "failing for ") + duration(Date.now() / 1000 - c.since) : "");
    li.dataset.check = c.name;
    li.dataset.ok = String(c.ok);
    return li;
  }));
}

function renderHeartbeats(s) {
  const section = $("heartbeats-section");
  section.hidden = !s.heartbeats.length;
  $("heartbeats").replaceChildren(...s.heartbeats.map((h) => {
    const good = ["ok", "up", "new", "waiting"].includes(String(h.state));
    const since = h.since ? " · " + h.state + " for " + duration(Date.now() / 1000 - h.since) : "";
    const li = row(badge(h.state, good ? "ok" : "warn"), h.name + " — every " + duration(h.every_seconds) + ", grace " + duration(h.grace_seconds),
      "last ping " + ago(h.last_ping_at) + since);
    li.dataset.heartbeat = h.name;
    return li;
  }));
}

function levelKind(level) { return level === "CRITICAL" || level === "ERROR" ? "crit" : level === "WARN" ? "warn" : "muted"; }

function renderConditions(s) {
  const list = $("conditions");
  if (!s.conditions.length) { list.replaceChildren(row(badge("none", "ok"), "Nothing is firing.")); return; }
  list.replaceChildren(...s.conditions.map((c) => row(badge(c.level, levelKind(c.level)), c.message, "for " + duration(c.duration_seconds))));
}

function renderSilences(s) {
  const silences = s.silences || [];
  $("silences-section").hidden = !silences.length;
  $("silences").replaceChildren(...silences.map((x) => {
    const li = row(badge(x.level || "any level", "muted"), x.match + (x.reason ? " (" + x.reason + ")" : ""),
      "until " + new Date(x.ends_at).toLocaleString() + " · " + x.by);
    li.dataset.silence = x.id;
    return li;
  }));
}

function renderAlerts(s) {
  $("channels").textContent = "Channels: " + s.channels.map((c) =>
    c.name + " (breaker " + c.breaker + (c.pending ? ", " + c.pending + " pending" : "") + ")").join(", ");
  const list = $("alerts");
  if (!s.alerts.length) { list.replaceChildren(row(badge("none", "muted"), "No alert since the daemon started.")); return; }
  const kinds = { sent: "ok", pending: "warn", failed: "crit", suppressed: "muted", silenced: "muted" };
  list.replaceChildren(...s.alerts.map((a) => {
    const li = el("li");
    li.append(badge(a.level, levelKind(a.level)), badge(a.state, kinds[a.state] || "muted"));
    li.append(el("span", "grow", a.message + (a.detail && a.state !== "sent" ? " (" + a.detail + ")" : "")));
    li.append(el("span", "when", ago(a.at)));
    return li;
  }));
}

function renderStatus(s) {
  lastStatus = s;
  renderOverall(s);
  renderDatabases(s);
  renderApp(s);
  renderChecks(s);
  renderHeartbeats(s);
  renderConditions(s);
  renderSilences(s);
  renderAlerts(s);
  const v = s.versions;
  $("versions").textContent = "khronos " + v.khronos + (v.litestream ? " · litestream " + v.litestream : "");
}

function setConnection(ok, text) {
  const conn = $("conn");
  conn.className = ok ? "conn" : "conn down";
  conn.textContent = text;
  $("main").setAttribute("aria-busy", "false");
}

async function pollStatus() {
  try {
    const res = await fetch("/api/status", { cache: "no-store", credentials: "same-origin" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    renderStatus(await res.json());
    lastOk = Date.now();
    setConnection(true, "live · updated " + new Date().toLocaleTimeString());
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    const since = lastOk ? " — last update " + duration((Date.now() - lastOk) / 1000) + " ago" : "";
    setConnection(false, "Daemon unreachable" + since);
    if (lastStatus) {
      $("overall").className = "overall state-unknown";
      $("overall-state").textContent = "Unknown — the daemon does not answer";
      $("overall-reasons").replaceChildren(el("li", null, "khronos run is stopped or unreachable; the figures below are from " + ago(lastOk / 1000)));
    }
  } finally {
    setTimeout(pollStatus, STATUS_EVERY_MS);
  }
}

// ---------------------------------------------------------------- charts

const CHARTS = [
  { key: "messages_per_s", title: "Messages / s", fmt: (v) => v.toFixed(2) },
  { key: "error_ratio", title: "Error ratio", fmt: (v) => (v * 100).toFixed(1) + "%" },
  { key: "latency_p95", title: "Latency p95", fmt: (v) => (v * 1000).toFixed(0) + " ms" },
  { key: "queue", title: "Queue size", fmt: (v) => String(Math.round(v)) },
  { key: "memory", title: "Memory (RSS)", lines: ["memory_khronos", "memory_litestream"], names: ["khronos", "litestream"], fmt: (v) => bytes(Math.round(v)) },
  { key: "lag", title: "Backup lag", fmt: (v) => duration(v) },
  { key: "alerts_sent", title: "Alerts sent", fmt: (v) => String(Math.round(v)) },
];

function seriesOf(chart, points) {
  if (chart.key === "lag") {
    const labels = new Set();
    points.forEach((p) => Object.keys(p.lag || {}).forEach((l) => labels.add(l)));
    return [...labels].slice(0, 4).map((l) => ({ name: l, pts: points.map((p) => [p.t, p.lag ? p.lag[l] : null]) }));
  }
  const keys = chart.lines || [chart.key];
  return keys.map((k, i) => ({ name: chart.names ? chart.names[i] : chart.title, pts: points.map((p) => [p.t, p[k]]) }));
}

function drawChart(chart, points, now) {
  const box = el("figure", "chart");
  const head = el("h3");
  const series = seriesOf(chart, points).map((s) => ({ ...s, pts: s.pts.filter((p) => p[1] !== null && p[1] !== undefined && !isNaN(p[1])) }));
  const latest = series.map((s) => (s.pts.length ? chart.fmt(s.pts[s.pts.length - 1][1]) : "—"));
  head.append(el("span", null, chart.title), el("span", "now", latest.join(" / ")));
  box.append(head);
  // the last hour, or less while the history is younger (at least 5 minutes)
  const first = points.length ? points[0].t : now;
  const W = 300, H = 90, t0 = Math.max(now - 3600, Math.min(first, now - 300)), span = now - t0;
  let max = 0;
  series.forEach((s) => s.pts.forEach((p) => { if (p[1] > max) max = p[1]; }));
  if (max <= 0) max = 1;
  const total = series.reduce((n, s) => n + s.pts.length, 0);
  const graph = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img",
    "aria-label": chart.title + ": " + (total ? "latest " + latest.join(" / ") + ", peak " + chart.fmt(max) : "no data yet") });
  graph.dataset.points = String(total);
  [0.25, 0.5, 0.75].forEach((f) => graph.append(svg("line", { class: "grid", x1: 0, x2: W, y1: H * f, y2: H * f })));
  const x = (t) => Math.max(0, Math.min(W, ((t - t0) / span) * W));
  const y = (v) => H - 2 - (v / max) * (H - 6);
  series.forEach((s, i) => {
    if (s.pts.length === 1) {
      graph.append(svg("circle", { class: "pt l" + i, cx: x(s.pts[0][0]), cy: y(s.pts[0][1]), r: 2.5 }));
    } else if (s.pts.length > 1) {
      graph.append(svg("polyline", { class: "line l" + i, points: s.pts.map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" ") }));
    }
  });
  box.append(graph);
  const legend = el("figcaption", "legend", (series.length > 1 ? series.map((s) => s.name).join(" / ") + " · " : "") + (total ? "peak " + chart.fmt(max) : "no data yet"));
  box.append(legend);
  return box;
}

async function pollHistory() {
  try {
    const res = await fetch("/api/history?span=1h", { cache: "no-store", credentials: "same-origin" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const doc = await res.json();
    const now = Date.now() / 1000;
    $("charts").replaceChildren(...CHARTS.map((c) => drawChart(c, doc.points, now)));
  } catch (err) {
    // the status poll reports the connection; the charts keep their last drawing
  } finally {
    setTimeout(pollHistory, HISTORY_EVERY_MS);
  }
}

document.addEventListener("DOMContentLoaded", () => { pollStatus(); pollHistory(); });

function exitText(last) {
  if (last === null || last === undefined) return "—";
  if (typeof last !== "object") return String(last);
  if (last.signal) return "killed by " + last.signal;
  if (last.code !== null && last.code !== undefined) return "exit code " + last.code;
  return "—";
}
