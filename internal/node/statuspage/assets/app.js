// proofd status page: polls the ingest API's GetStatus every second and
// renders it. Plain DOM, no library. Node data goes in as text only.
"use strict";

const STATUS_PATH = "/proofd.ingest.v1.IngestService/GetStatus";
const POLL_MS = 1000;

// field reads a protojson field by its proto name, or its JSON (camelCase)
// name, so the page works whichever names the server writes.
function field(obj, name) {
  if (obj == null) return undefined;
  if (name in obj) return obj[name];
  const camel = name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  return obj[camel];
}

// num: protojson writes 64-bit integers as strings; an absent field is 0.
function num(obj, name) {
  const v = field(obj, name);
  if (v == null || v === "") return 0;
  const n = Number(v);
  return Number.isNaN(n) ? 0 : n;
}

function list(obj, name) {
  const v = field(obj, name);
  return Array.isArray(v) ? v : [];
}

const fmt = new Intl.NumberFormat("en");

function setText(id, text) {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

function shortHash(h) {
  if (!h) return "";
  return h.length > 14 ? h.slice(0, 10) + "…" + h.slice(-4) : h;
}

function clock(ms) {
  if (!ms) return "–";
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function fillBody(tableId, rows, empty, columns) {
  const tbody = document.querySelector("#" + tableId + " tbody");
  const out = [];
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(tr, empty, "muted empty");
    td.colSpan = columns;
    out.push(tr);
  }
  for (const r of rows) out.push(r);
  tbody.replaceChildren(...out);
}

function renderStages(stages) {
  const rows = stages.map((s) => {
    const tr = document.createElement("tr");
    const name = field(s, "stage") || "?";
    tr.id = "stage-" + name;
    cell(tr, name, "name");
    for (const f of ["waiting", "queued", "in_flight", "proofs_made", "cache_hits", "published", "retries", "failed"]) {
      const v = num(s, f);
      cell(tr, fmt.format(v), "n" + ((f === "failed" && v > 0) ? " bad" : (v === 0 ? " zero" : "")));
    }
    return tr;
  });
  fillBody("stages", rows, "no stages reported", 9);
}

function renderEngines(engines) {
  const rows = engines.map((e) => {
    const tr = document.createElement("tr");
    const state = field(e, "state") || "?";
    tr.className = "engine-" + state;
    cell(tr, String(num(e, "slot")), "n");
    const st = cell(tr, "");
    const b = document.createElement("span");
    b.className = "pill " + state;
    b.textContent = state;
    st.appendChild(b);
    const circ = cell(tr, "");
    const circuits = list(e, "circuits");
    if (circuits.length === 0) {
      circ.textContent = "none";
      circ.className = "muted";
    }
    for (const c of circuits) {
      const chip = document.createElement("span");
      chip.className = "chip mono";
      chip.textContent = c.length > 16 ? shortHash(c) : c;
      chip.title = c;
      circ.appendChild(chip);
    }
    cell(tr, fmt.format(num(e, "calls")), "n");
    cell(tr, field(e, "address") || "", "mono muted");
    return tr;
  });
  fillBody("engines", rows, "no engine started yet", 5);
}

function renderRecent(recent) {
  const rows = recent.map((p) => {
    const tr = document.createElement("tr");
    cell(tr, clock(num(p, "finished_unix_ms")), "mono");
    cell(tr, field(p, "stage") || "?");
    cell(tr, String(num(p, "height")), "n");
    const blk = cell(tr, shortHash(field(p, "block") || ""), "mono");
    blk.title = field(p, "block") || "";
    cell(tr, String(num(p, "index")), "n");
    if (field(p, "cached")) cell(tr, "cached", "n cached");
    else cell(tr, num(p, "seconds").toFixed(2) + " s", "n");
    return tr;
  });
  fillBody("recent", rows, "nothing proven yet", 6);
}

const SVG = "http://www.w3.org/2000/svg";

// renderChart draws one bar per minute given, newest on the right, on a
// 60-minute-wide axis (wider if more minutes come). The dashed line is the
// peak; the SVG stretches, so its labels are HTML around it.
function renderChart(minutes) {
  const svg = document.getElementById("chart");
  const W = 600, H = 120, top = 14, base = H - 2;
  const slots = Math.max(60, minutes.length);
  const w = W / slots;
  const max = Math.max(1, ...minutes.map((m) => num(m, "proofs")));
  const nodes = [];
  const grid = document.createElementNS(SVG, "line");
  grid.setAttribute("x1", "0"); grid.setAttribute("x2", String(W));
  grid.setAttribute("y1", String(top)); grid.setAttribute("y2", String(top));
  grid.setAttribute("class", "grid");
  grid.setAttribute("vector-effect", "non-scaling-stroke");
  nodes.push(grid);
  minutes.forEach((m, i) => {
    const n = num(m, "proofs");
    const h = n === 0 ? 0 : Math.max(1, (base - top) * n / max);
    const r = document.createElementNS(SVG, "rect");
    r.setAttribute("class", "bar");
    r.setAttribute("x", String(W - (minutes.length - i) * w + w * 0.1));
    r.setAttribute("width", String(w * 0.8));
    r.setAttribute("y", String(base - h));
    r.setAttribute("height", String(h));
    r.setAttribute("data-proofs", String(n));
    const t = document.createElementNS(SVG, "title");
    t.textContent = clock(num(m, "minute_unix") * 1000).slice(0, 5) + ": " + n + " proofs";
    r.appendChild(t);
    nodes.push(r);
  });
  svg.replaceChildren(...nodes);
  svg.setAttribute("data-bars", String(minutes.length));
  const total = minutes.reduce((a, m) => a + num(m, "proofs"), 0);
  setText("chart-note", "(" + fmt.format(total) + " in the last " + minutes.length + " min, peak " + fmt.format(max) + "/min)");
  setText("chart-axis-left", slots + " min ago");
}

function render(s) {
  const badge = document.getElementById("state");
  const draining = !!field(s, "draining"), ready = !!field(s, "ready");
  badge.textContent = draining ? "draining" : ready ? "ready" : "starting";
  badge.className = "badge " + (draining ? "draining" : ready ? "ready" : "starting");

  const tip = field(s, "tip");
  setText("tip-height", tip ? fmt.format(num(tip, "height")) : "–");
  const th = document.getElementById("tip-hash");
  th.textContent = shortHash(tip ? field(tip, "hash") : "");
  th.title = tip ? field(tip, "hash") || "" : "";
  setText("finalized", fmt.format(num(s, "finalized")));
  setText("settlement-height", fmt.format(num(s, "settlement_height")));
  setText("behind", fmt.format(num(s, "behind")));
  setText("blocks-accepted", fmt.format(num(s, "blocks_accepted")));
  setText("reorgs", fmt.format(num(s, "reorgs")));
  setText("refused", fmt.format(num(s, "refused")));

  const stages = list(s, "stages");
  const made = stages.reduce((a, st) => a + num(st, "proofs_made"), 0);
  const hits = stages.reduce((a, st) => a + num(st, "cache_hits"), 0);
  setText("proofs-total", fmt.format(made));
  setText("cache-hits-total", fmt.format(hits));
  const rate = num(s, "cache_hit_rate");
  setText("cache-hit-rate", made + hits === 0 ? "–" : (rate * 100).toFixed(1) + "%");

  renderStages(stages);
  renderEngines(list(s, "engines"));
  renderRecent(list(s, "recent"));
  renderChart(list(s, "proofs_per_minute"));
  setText("started", clock(num(s, "started_unix_ms")));
}

function connected(ok, err) {
  document.body.classList.toggle("disconnected", !ok);
  document.getElementById("conn").hidden = ok;
  if (!ok) {
    const badge = document.getElementById("state");
    badge.textContent = "disconnected";
    badge.className = "badge disconnected";
    setText("conn-error", err);
  }
}

let lastOK = 0;

async function poll() {
  try {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 5 * POLL_MS);
    let resp;
    try {
      resp = await fetch(STATUS_PATH, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Connect-Protocol-Version": "1" },
        body: "{}",
        cache: "no-store",
        signal: ctl.signal,
      });
    } finally {
      clearTimeout(timer);
    }
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    const s = await resp.json();
    render(s);
    connected(true);
    lastOK = Date.now();
    setText("updated", "updated " + clock(lastOK));
  } catch (e) {
    const since = lastOK ? " (last update " + clock(lastOK) + ")" : "";
    connected(false, (e && e.message ? e.message : String(e)) + since);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
