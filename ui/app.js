// The built-in dashboard: plain JavaScript over the Clash API this daemon
// serves (docs/design.md §20). The secret comes from ?secret= or the
// field, and is kept in localStorage.
"use strict";
const $ = (s) => document.querySelector(s);
const params = new URLSearchParams(location.search);
let secret = params.get("secret") || localStorage.getItem("t2s-secret") || "";
$("#secret").value = secret;
$("#secret").addEventListener("change", () => {
  secret = $("#secret").value;
  localStorage.setItem("t2s-secret", secret);
  start();
});

function api(path, opts = {}) {
  opts.headers = Object.assign({ "Content-Type": "application/json" }, opts.headers || {});
  if (secret) opts.headers.Authorization = "Bearer " + secret;
  return fetch(path, opts).then((r) => {
    if (r.status === 401) throw new Error("wrong secret");
    if (!r.ok && r.status !== 204) return r.json().then((j) => { throw new Error(j.message || r.status); });
    return r.status === 204 ? null : r.json();
  });
}

function status(msg, err) {
  $("#status").textContent = msg;
  $("#status").className = err ? "err" : "";
}

const sockets = {};
function stream(name, path, onmsg) {
  if (sockets[name]) sockets[name].close();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const sep = path.includes("?") ? "&" : "?";
  const ws = new WebSocket(proto + "//" + location.host + path + sep + "token=" + encodeURIComponent(secret));
  ws.onmessage = (e) => onmsg(JSON.parse(e.data));
  ws.onclose = () => { if (sockets[name] === ws) setTimeout(() => stream(name, path, onmsg), 2000); };
  sockets[name] = ws;
}

function human(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < 4) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
}

// ---- traffic graph ----
const points = [];
function drawTraffic(t) {
  points.push(t);
  if (points.length > 120) points.shift();
  const c = $("#traffic"), g = c.getContext("2d");
  const max = Math.max(1024, ...points.map((p) => Math.max(p.up, p.down)));
  g.clearRect(0, 0, c.width, c.height);
  for (const [key, color] of [["down", "#1565c0"], ["up", "#ef6c00"]]) {
    g.strokeStyle = color;
    g.beginPath();
    points.forEach((p, i) => {
      const x = (i / 119) * c.width, y = c.height - (p[key] / max) * (c.height - 14);
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke();
  }
  g.fillStyle = "#555";
  g.fillText("up " + human(t.up) + "/s  down " + human(t.down) + "/s", 6, 12);
}

// ---- connections ----
let conns = [], sortKey = "start", sortDesc = true;
function row(c) {
  const m = c.metadata;
  return {
    id: c.id,
    host: (m.host || m.destinationIP) + ":" + m.destinationPort,
    network: m.network,
    source: m.sourceIP + ":" + m.sourcePort,
    chain: c.chains.slice().reverse().join(" \u2192 "),
    rule: c.rule + (c.rulePayload ? " " + c.rulePayload : ""),
    upload: c.upload,
    download: c.download,
    start: Date.parse(c.start),
  };
}
function renderConns() {
  const f = $("#filter").value.toLowerCase();
  let rows = conns.map(row).filter((r) =>
    !f || [r.host, r.source, r.chain, r.rule, r.network].join(" ").toLowerCase().includes(f));
  rows.sort((a, b) => (a[sortKey] < b[sortKey] ? -1 : a[sortKey] > b[sortKey] ? 1 : 0) * (sortDesc ? -1 : 1));
  const now = Date.now();
  $("#conns tbody").innerHTML = rows.map((r) =>
    `<tr data-id="${esc(r.id)}"><td>${esc(r.host)}</td><td>${esc(r.network)}</td><td>${esc(r.source)}</td>` +
    `<td>${esc(r.chain)}</td><td>${esc(r.rule)}</td><td class="num">${human(r.upload)}</td>` +
    `<td class="num">${human(r.download)}</td><td class="num">${Math.round((now - r.start) / 1000)} s</td>` +
    `<td><button class="close" data-id="${esc(r.id)}">close</button></td></tr>`).join("");
  $("#count").textContent = rows.length + " of " + conns.length + " connections";
  document.querySelectorAll("#conns th").forEach((th) => th.classList.toggle("sorted", th.dataset.key === sortKey));
}
$("#filter").addEventListener("input", renderConns);
document.querySelectorAll("#conns th[data-key]").forEach((th) => th.addEventListener("click", () => {
  if (sortKey === th.dataset.key) sortDesc = !sortDesc; else { sortKey = th.dataset.key; sortDesc = false; }
  renderConns();
}));
$("#conns tbody").addEventListener("click", (e) => {
  const id = e.target.dataset.id;
  if (!e.target.classList.contains("close") || !id) return;
  api("/connections/" + encodeURIComponent(id), { method: "DELETE" })
    .then(() => { conns = conns.filter((c) => c.id !== id); renderConns(); status("closed " + id); })
    .catch((err) => status(err.message, true));
});
$("#close-all").addEventListener("click", () =>
  api("/connections", { method: "DELETE" }).then(() => status("closed all")).catch((e) => status(e.message, true)));

// ---- mode: rule, global (through GLOBAL's choice), direct ----
let mode = "rule";
function loadMode() {
  return api("/configs").then((c) => { mode = c.mode; $("#mode").value = mode; });
}
$("#mode").addEventListener("change", () => {
  const m = $("#mode").value;
  api("/configs", { method: "PATCH", body: JSON.stringify({ mode: m }) })
    .then(() => { mode = m; status("mode " + m); return renderGroups(); })
    .catch((e) => { $("#mode").value = mode; status(e.message, true); });
});

// ---- groups (GLOBAL only in global mode, where it decides) ----
function renderGroups() {
  return api("/proxies").then((d) => {
    const p = d.proxies,
      names = Object.keys(p).filter((n) => p[n].all && (n !== "GLOBAL" || mode === "global"));
    $("#groups").innerHTML = names.map((n) => {
      const g = p[n];
      const members = g.all.map((m) => {
        const h = (p[m] && p[m].history) || [], last = h.length ? h[h.length - 1].delay : null;
        return `<button class="member${m === g.now ? " now" : ""}" data-group="${esc(n)}" data-member="${esc(m)}">` +
          `${esc(m)}<span class="delay">${last === null ? "" : last ? last + " ms" : "timeout"}</span></button>`;
      }).join("");
      return `<div class="group" data-group="${esc(n)}"><h3>${esc(n)} <small>${esc(g.type)}</small> ` +
        `<button class="test" data-group="${esc(n)}">test delay</button></h3>${members}</div>`;
    }).join("");
  });
}
$("#groups").addEventListener("click", (e) => {
  const t = e.target.closest("button");
  if (!t) return;
  if (t.classList.contains("member")) {
    api("/proxies/" + encodeURIComponent(t.dataset.group), { method: "PUT", body: JSON.stringify({ name: t.dataset.member }) })
      .then(() => { status(t.dataset.group + " \u2192 " + t.dataset.member); return renderGroups(); })
      .catch((err) => status(err.message, true));
  } else if (t.classList.contains("test")) {
    const url = encodeURIComponent("https://www.gstatic.com/generate_204");
    api("/group/" + encodeURIComponent(t.dataset.group) + "/delay?timeout=5000&url=" + url)
      .then(() => renderGroups()).catch((err) => status(err.message, true));
  }
});

// ---- rules, logs ----
function renderRules() {
  return api("/rules").then((d) => {
    $("#rule-table tbody").innerHTML = d.rules.map((r, i) =>
      `<tr><td>${i}</td><td>${esc(r.type)}</td><td>${esc(r.payload)}</td><td>${esc(r.proxy)}</td><td class="num">${r.hits ?? ""}</td></tr>`).join("");
  });
}
function startLogs() {
  $("#log-lines").textContent = "";
  stream("logs", "/logs?level=" + $("#level").value, (l) => {
    const pre = $("#log-lines");
    pre.textContent += l.type + "  " + l.payload + "\n";
    if (pre.textContent.length > 200000) pre.textContent = pre.textContent.slice(-100000);
    pre.scrollTop = pre.scrollHeight;
  });
}
$("#level").addEventListener("change", startLogs);

document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll("nav button, .tab").forEach((x) => x.classList.remove("on"));
  b.classList.add("on");
  $("#" + b.dataset.tab).classList.add("on");
  if (b.dataset.tab === "groups") renderGroups().catch((e) => status(e.message, true));
  if (b.dataset.tab === "rules") renderRules().catch((e) => status(e.message, true));
}));

function start() {
  api("/version").then((v) => {
    $("#version").textContent = v.version;
    status("connected");
    stream("traffic", "/traffic", drawTraffic);
    stream("connections", "/connections?interval=1000", (d) => {
      conns = d.connections;
      $("#totals").textContent = "\u2191 " + human(d.uploadTotal) + "  \u2193 " + human(d.downloadTotal);
      renderConns();
    });
    startLogs();
    loadMode().then(renderGroups).catch(() => {});
  }).catch((e) => status(e.message, true));
}
start();
