// Altimeter web console: a single page over the agent's own APIs. No build
// step: plain ES2017, served as is. The token lives in sessionStorage and
// goes with every call as X-Auth-Token; the server confines a member token
// to its project.
"use strict";
(function () {
  const page = document.getElementById("page");
  const status = document.getElementById("status");
  const TOKEN_KEY = "altimeter.token";

  // --- helpers -----------------------------------------------------------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }
  function say(msg, isError) {
    status.textContent = msg || "";
    status.className = isError ? "error" : "";
  }
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
  async function api(path) {
    const resp = await fetch(path, { headers: { "X-Auth-Token": token(), "Accept": "application/json" } });
    const text = await resp.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
    if (resp.status === 401) { location.hash = "#/signin"; throw new Error("sign in first (401)"); }
    if (!resp.ok) {
      const msg = (body && body.error_message && body.error_message.faultstring) || (body && body.error) || text;
      throw new Error(resp.status + ": " + msg);
    }
    return body;
  }
  function q(params) { return new URLSearchParams(params).toString(); }
  // Ceilometer times have no zone: they are UTC.
  function parseTime(s) { return new Date(/[zZ]|[+-]\d\d:\d\d$/.test(s) ? s : s + "Z"); }
  function fmtTime(d) { return d.toISOString().replace(".000Z", "Z"); }
  function table(caption, cols, rows, id) {
    return h("table", { id },
      h("caption", { text: caption }),
      h("thead", {}, h("tr", {}, cols.map(c => h("th", { scope: "col", text: c })))),
      h("tbody", {}, rows.map(r => h("tr", {}, r.map((c, i) =>
        c instanceof Node ? h("td", {}, c) : h("td", { class: typeof c === "number" && i > 0 ? "num" : null, text: c }))))));
  }
  function controls(onsubmit, ...fields) {
    return h("form", { class: "controls", onsubmit: e => { e.preventDefault(); onsubmit(new FormData(e.target)); } }, fields);
  }
  function field(label, input) { return h("label", {}, label, input); }
  function hashParams() {
    const i = location.hash.indexOf("?");
    return new URLSearchParams(i < 0 ? "" : location.hash.slice(i + 1));
  }

  // --- pages -------------------------------------------------------------
  function signin() {
    page.replaceChildren(
      h("h2", { text: "Sign in" }),
      h("p", { text: "Paste an API token (the admin token is in <data_dir>/admin-token; `altimeter token create` makes more). It is kept for this browser tab only." }),
      controls(async fd => {
        sessionStorage.setItem(TOKEN_KEY, String(fd.get("token")).trim());
        try {
          await api("/v2/meters?" + q({ limit: 1 }));
          await who();
          say("Signed in.");
          location.hash = "#/meters";
        } catch (e) {
          sessionStorage.removeItem(TOKEN_KEY);
          say("Sign-in failed: " + e.message, true);
        }
      },
      field("API token", h("input", { name: "token", id: "token", type: "password", autocomplete: "off", required: true, size: 40 })),
      h("button", { type: "submit", id: "signin", text: "Sign in" }),
      h("button", { type: "button", text: "Sign out", onclick: () => { sessionStorage.removeItem(TOKEN_KEY); who(); say("Signed out."); } })));
    document.getElementById("token").focus();
  }

  async function meters() {
    const all = await api("/v2/meters?" + q({ limit: 10000 }));
    const byName = new Map();
    for (const m of all) {
      const e = byName.get(m.name) || { name: m.name, type: m.type, unit: m.unit, resources: 0 };
      e.resources++;
      byName.set(m.name, e);
    }
    const list = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
    const render = filter => {
      const rows = list.filter(m => m.name.includes(filter)).map(m => [
        h("a", { href: "#/chart?" + q({ meter: m.name }), text: m.name }), m.type, m.unit, m.resources]);
      return table(rows.length + " meters", ["Meter", "Type", "Unit", "Resources"], rows, "meters");
    };
    let shown = render("");
    const search = h("input", { type: "search", id: "meter-search", name: "search", placeholder: "cpu, memory…",
      oninput: e => { const t = render(e.target.value); shown.replaceWith(t); shown = t; } });
    page.replaceChildren(h("h2", { text: "Meters" }),
      controls(() => {}, field("Search meters", search)), shown);
  }

  const STATS = ["avg", "min", "max", "sum", "count"];
  const PERIODS = [["60", "1 minute"], ["300", "5 minutes"], ["3600", "1 hour"], ["86400", "1 day"]];
  const RANGES = [["3600", "last hour"], ["21600", "last 6 hours"], ["86400", "last day"], ["604800", "last week"]];

  async function chart() {
    const p = hashParams();
    const meter = p.get("meter") || "";
    const period = p.get("period") || "300";
    const stat = p.get("stat") || "avg";
    const range = p.get("range") || "86400";
    const sel = (name, opts, cur) => h("select", { name, id: name },
      opts.map(([v, t]) => h("option", { value: v, selected: v === cur, text: t })));
    page.replaceChildren(h("h2", { text: "Chart: " + meter }),
      controls(fd => { location.hash = "#/chart?" + q({ meter, period: fd.get("period"), stat: fd.get("stat"), range: fd.get("range") }); },
        field("Period", sel("period", PERIODS, period)),
        field("Statistic", sel("stat", STATS.map(s => [s, s]), stat)),
        field("Range", sel("range", RANGES, range)),
        h("button", { type: "submit", id: "draw", text: "Draw" })),
      h("div", { id: "chart", role: "img", "aria-label": `${stat} of ${meter} per ${period} s, per resource` }));
    // Buckets on whole periods (UTC), so they line up with the store's
    // roll-ups and read the same from one load to the next.
    const end = new Date();
    const per = Number(period) * 1000;
    const start = new Date(Math.floor((end.getTime() - Number(range) * 1000) / per) * per);
    const params = new URLSearchParams({ period, groupby: "resource_id" });
    params.append("q.field", "timestamp"); params.append("q.op", "ge"); params.append("q.value", fmtTime(start));
    params.append("q.field", "timestamp"); params.append("q.op", "lt"); params.append("q.value", fmtTime(end));
    const stats = await api("/v2/meters/" + encodeURIComponent(meter) + "/statistics?" + params.toString());
    // One line per resource over the union of period starts.
    const byRes = new Map();
    const xs = new Set();
    for (const s of stats) {
      const r = (s.groupby && s.groupby.resource_id) || "";
      const x = parseTime(s.period_start).getTime() / 1000;
      xs.add(x);
      if (!byRes.has(r)) byRes.set(r, new Map());
      byRes.get(r).set(x, s[stat]);
    }
    const xv = [...xs].sort((a, b) => a - b);
    const resources = [...byRes.keys()].sort();
    const data = [xv, ...resources.map(r => xv.map(x => byRes.get(r).has(x) ? byRes.get(r).get(x) : null))];
    const unit = stats.length ? stats[0].unit : "";
    const el = document.getElementById("chart");
    const palette = ["#0b57d0", "#b3261e", "#1e7a34", "#8e44ad", "#e67e22", "#16a085", "#7f8c8d", "#c0392b"];
    window.altimeterChart = new uPlot({
      width: Math.min(1100, document.body.clientWidth - 40), height: 360,
      series: [{}, ...resources.map((r, i) => ({ label: r, stroke: palette[i % palette.length], points: { show: true } }))],
      axes: [{}, { label: stat + " (" + unit + ")" }],
    }, data, el);
    // The same points as a table, for screen readers and copy-paste.
    const rows = [];
    resources.forEach((r, i) => xv.forEach((x, j) => { if (data[i + 1][j] !== null) rows.push([r, fmtTime(new Date(x * 1000)), data[i + 1][j]]); }));
    page.append(h("details", {}, h("summary", { text: `Data (${rows.length} points)` }),
      table(`${stat} of ${meter} (${unit}) per resource`, ["Resource", "Period start", stat], rows, "chart-data")));
    say(stats.length ? "" : "No samples of " + meter + " in this range.");
  }

  async function resources() {
    const p = hashParams();
    if (p.get("id")) return resource(p.get("id"));
    const rs = await api("/v2/resources?" + q({ limit: 1000 }));
    page.replaceChildren(h("h2", { text: "Resources" }),
      table(rs.length + " resources", ["Resource", "Project", "User", "Last sample", "Meters"], rs.map(r => [
        h("a", { href: "#/resources?" + q({ id: r.resource_id }), text: r.resource_id }),
        r.project_id || "", r.user_id || "", r.last_sample_timestamp || "",
        (r.links || []).filter(l => l.rel !== "self").map(l => l.rel).join(", ")]), "resources"));
  }

  // resource shows the metadata history: consecutive samples with the same
  // metadata form one version (from the newest 1,000 samples).
  async function resource(id) {
    const r = await api("/v2/resources/" + encodeURIComponent(id));
    const params = new URLSearchParams({ limit: 1000 });
    params.append("q.field", "resource_id"); params.append("q.op", "eq"); params.append("q.value", id);
    const samples = await api("/v2/samples?" + params.toString());
    samples.sort((a, b) => parseTime(a.timestamp) - parseTime(b.timestamp));
    const versions = [];
    for (const s of samples) {
      const md = JSON.stringify(s.metadata || {}, Object.keys(s.metadata || {}).sort());
      const last = versions[versions.length - 1];
      if (last && last.md === md) last.to = s.timestamp;
      else versions.push({ md, from: s.timestamp, to: s.timestamp, meta: s.metadata || {} });
    }
    page.replaceChildren(h("h2", { text: "Resource " + id }),
      table("Attributes", ["Field", "Value"], [["project_id", r.project_id || ""], ["user_id", r.user_id || ""], ["source", r.source || ""],
        ["first sample", r.first_sample_timestamp || ""], ["last sample", r.last_sample_timestamp || ""]], "resource"),
      table("Current metadata", ["Key", "Value"], Object.entries(r.metadata || {}).sort(), "metadata"),
      table(`Metadata history (${versions.length} versions in the newest ${samples.length} samples)`, ["From", "To", "Metadata"],
        versions.reverse().map(v => [v.from, v.to, Object.entries(v.meta).sort().map(([k, x]) => k + "=" + x).join(", ")]), "history"));
  }

  async function events() {
    const p = hashParams();
    const params = new URLSearchParams({ limit: 200 });
    const add = (f, op, v) => { if (v) { params.append("q.field", f); params.append("q.op", op); params.append("q.value", v); } };
    add("event_type", "eq", p.get("type"));
    add("start_timestamp", "ge", p.get("start"));
    add("end_timestamp", "le", p.get("end"));
    const evs = await api("/v2/events?" + params.toString());
    page.replaceChildren(h("h2", { text: "Events" }),
      controls(fd => { location.hash = "#/events?" + q({ type: fd.get("type"), start: fd.get("start"), end: fd.get("end") }); },
        field("Event type", h("input", { name: "type", id: "event-type", value: p.get("type") || "", placeholder: "compute.instance.create.end" })),
        field("From (UTC)", h("input", { name: "start", type: "datetime-local", value: p.get("start") || "" })),
        field("To (UTC)", h("input", { name: "end", type: "datetime-local", value: p.get("end") || "" })),
        h("button", { type: "submit", text: "Filter" })),
      table(evs.length + " events", ["Generated", "Type", "Message id", "Traits"], evs.map(e => [
        e.generated, e.event_type, e.message_id, (e.traits || []).map(t => t.name + "=" + t.value).join(", ")]), "events"));
  }

  async function plugins() {
    const ps = await api("/v2/plugins");
    page.replaceChildren(h("h2", { text: "Plugins" }),
      table(ps.length + " plugins", ["Plugin", "Kind", "Version", "State", "PID", "Restarts", "Since", "Last error"], ps.map(p => [
        p.id, p.kind, p.version, h("span", { class: "state-" + p.state, text: p.state }), p.pid, p.restarts, p.since,
        p.last_error ? h("details", {}, h("summary", { text: p.last_error }), h("pre", { text: (p.stderr_tail || []).join("\n") })) : ""]), "plugins"));
  }

  // query runs PromQL over the query API and plots the matrix.
  async function query() {
    const p = hashParams();
    const expr = p.get("expr") || "";
    const range = p.get("range") || "3600";
    page.replaceChildren(h("h2", { text: "PromQL query" }),
      controls(fd => { location.hash = "#/query?" + q({ expr: fd.get("expr"), range: fd.get("range") }); },
        field("Expression", h("textarea", { name: "expr", id: "expr", rows: 2, cols: 60, text: expr })),
        field("Range", h("select", { name: "range" }, RANGES.map(([v, t]) => h("option", { value: v, selected: v === range, text: t })))),
        h("button", { type: "submit", id: "run", text: "Run" })),
      h("div", { id: "chart", role: "img", "aria-label": "Query result over time" }));
    if (!expr) return;
    const end = Math.floor(Date.now() / 1000);
    const start = end - Number(range);
    const step = Math.max(15, Math.ceil(Number(range) / 500));
    const r = await api("/api/v1/query_range?" + q({ query: expr, start, end, step }));
    const res = r.data.result;
    const xs = new Set();
    res.forEach(s => s.values.forEach(v => xs.add(v[0])));
    const xv = [...xs].sort((a, b) => a - b);
    const data = [xv, ...res.map(s => { const m = new Map(s.values.map(v => [v[0], Number(v[1])])); return xv.map(x => m.has(x) ? m.get(x) : null); })];
    const label = m => Object.entries(m).filter(([k]) => k !== "__name__").map(([k, v]) => k + "=" + v).join(",");
    window.altimeterChart = new uPlot({ width: Math.min(1100, document.body.clientWidth - 40), height: 360,
      series: [{}, ...res.map(s => ({ label: label(s.metric), stroke: "#0b57d0" }))] }, data, document.getElementById("chart"));
    say(res.length + " series.");
  }

  // cluster shows this member's view of the cluster: raft state and the
  // members with their state and share of the pollsters.
  async function cluster() {
    const c = await api("/v2/cluster");
    const members = c.members || [];
    page.replaceChildren(h("h2", { text: "Cluster" }),
      table("This member", ["Field", "Value"], [["Member", c.node_id], ["Raft state", c.state],
        ["Leader", c.leader_id ? c.leader_id + " (" + c.leader_address + ")" : "none"], ["Term", String(c.term)],
        ["Applied index", String(c.applied_index)], ["Partition epoch", String(c.epoch)],
        ["Last contact with the leader", c.last_contact || ""]], "cluster"),
      table(members.length + (members.length === 1 ? " member" : " members"), ["Member", "State", "Suffrage", "Raft address", "API address", "Pollsters", "Joined"],
        members.map(m => [m.id, h("span", { class: "state-" + m.state, text: m.state }), m.suffrage, m.raft_address,
          m.api_address || "", (m.pollsters || []).join(", "), m.joined || ""]), "members"));
  }

  // Aodh's alarm states; a class name cannot hold the space.
  const ALARM_STATES = ["ok", "alarm", "insufficient data"];
  function stateBadge(s) { return h("span", { class: "state-" + String(s).split(" ")[0], text: s }); }
  function yesNo(b) { return b ? "yes" : "no"; }

  // alarms lists the alarms the token sees (its project's, or all for an
  // admin), filtered by state (in the API) and by a part of the name.
  async function alarms() {
    const p = hashParams();
    if (p.get("id")) return alarmDetail(p.get("id"));
    const state = p.get("state") || "";
    const name = p.get("name") || "";
    const params = new URLSearchParams({ limit: 10000, sort: "name:asc" });
    if (state) { params.append("q.field", "state"); params.append("q.op", "eq"); params.append("q.value", state); }
    const all = await api("/v2/alarms?" + params.toString());
    if (all.length >= 10000) say("Showing the first 10,000 alarms by name: filter by state to see others.");
    const needle = name.toLowerCase();
    const rows = all.filter(a => a.name.toLowerCase().includes(needle));
    page.replaceChildren(h("h2", { text: "Alarms" }),
      controls(fd => { location.hash = "#/alarms?" + q({ state: fd.get("state"), name: fd.get("name") }); },
        field("State", h("select", { name: "state", id: "alarm-state" },
          [["", "any"], ...ALARM_STATES.map(s => [s, s])].map(([v, t]) => h("option", { value: v, selected: v === state, text: t })))),
        field("Name contains", h("input", { type: "search", name: "name", id: "alarm-name", value: name, placeholder: "cpu…" })),
        h("button", { type: "submit", id: "alarm-filter", text: "Filter" })),
      table(rows.length + (rows.length === 1 ? " alarm" : " alarms"),
        ["Name", "Type", "State", "Severity", "Enabled", "State since", "Project"], rows.map(a => [
          h("a", { href: "#/alarms?" + q({ id: a.alarm_id }), text: a.name }), a.type, stateBadge(a.state), a.severity,
          yesNo(a.enabled), a.state_timestamp, a.project_id || ""]), "alarms"));
  }

  // historyDetail summarises a history entry's detail (a JSON string):
  // the state and reason of a transition, what a rule change changed, an
  // action's outcome.
  function historyDetail(c) {
    let d = null;
    try { d = JSON.parse(c.detail); } catch (e) { return c.detail; }
    if (!d || typeof d !== "object") return c.detail;
    switch (c.type) {
      case "state transition": return d.transition_reason || "";
      case "creation": return "created as " + (d.name || "") + " (" + (d.type || "") + ")";
      case "deletion": return "deleted";
      case "rule change": return "changed: " + Object.keys(d).sort().map(k => k + "=" + (typeof d[k] === "string" ? d[k] : JSON.stringify(d[k]))).join(", ");
      case "action": return [d.outcome, d.action, d.detail].filter(Boolean).join(": ");
    }
    return c.detail;
  }

  // alarmDetail shows one alarm: its attributes, its rule and its history
  // (newest first, as the API sorts it).
  async function alarmDetail(id) {
    const enc = encodeURIComponent(id);
    const [a, hist] = await Promise.all([api("/v2/alarms/" + enc), api("/v2/alarms/" + enc + "/history?" + q({ limit: 1000 }))]);
    const rule = a[a.type + "_rule"] || {};
    const val = v => typeof v === "string" ? v : JSON.stringify(v);
    const stateOf = c => { try { return JSON.parse(c.detail).state || ""; } catch (e) { return ""; } };
    page.replaceChildren(h("h2", { text: "Alarm " + a.name }),
      h("p", {}, h("a", { href: "#/alarms", text: "All alarms" })),
      table("Attributes", ["Field", "Value"], [["Name", a.name], ["ID", a.alarm_id], ["Type", a.type], ["State", stateBadge(a.state)],
        ["State reason", a.state_reason || ""], ["State since", a.state_timestamp], ["Severity", a.severity],
        ["Enabled", yesNo(a.enabled)], ["Repeat actions", yesNo(a.repeat_actions)], ["Description", a.description || ""],
        ["Alarm actions", (a.alarm_actions || []).join(", ")], ["OK actions", (a.ok_actions || []).join(", ")],
        ["Insufficient data actions", (a.insufficient_data_actions || []).join(", ")],
        ["Time constraints", (a.time_constraints || []).map(t => t.name).join(", ")],
        ["Project", a.project_id || ""], ["User", a.user_id || ""], ["Last change", a.timestamp]], "alarm"),
      table("Rule (" + a.type + ")", ["Field", "Value"], Object.entries(rule).sort().map(([k, v]) => [k, val(v)]), "rule"),
      table(`State history (${hist.length} entries, newest first)`, ["Time", "Type", "State", "Detail", "By"], hist.map(c => [
        c.timestamp, c.type, stateOf(c) ? stateBadge(stateOf(c)) : "", historyDetail(c), c.user_id || ""]), "alarm-history"));
  }

  // Pages by hash.
  const ROUTES = { "#/signin": signin, "#/meters": meters, "#/chart": chart, "#/resources": resources,
    "#/events": events, "#/plugins": plugins, "#/query": query, "#/cluster": cluster, "#/alarms": alarms };

  async function who() {
    const el = document.getElementById("who");
    el.textContent = token() ? "Signed in" : "Not signed in";
    document.getElementById("signin-link").textContent = token() ? "Token" : "Sign in";
  }

  async function route() {
    const key = location.hash.split("?")[0] || "#/meters";
    const fn = ROUTES[key] || meters;
    document.querySelectorAll("nav a").forEach(a => a.toggleAttribute("aria-current", a.getAttribute("href") === key) || a.removeAttribute("aria-current"));
    document.querySelectorAll("nav a").forEach(a => { if (a.getAttribute("href") === key) a.setAttribute("aria-current", "page"); });
    if (!token() && fn !== signin) { location.hash = "#/signin"; return; }
    say("Loading…");
    document.body.dataset.ready = "";
    try {
      await fn();
      if (status.textContent === "Loading…") say("");
    } catch (e) {
      say(e.message, true);
    }
    document.body.dataset.ready = key;
    document.getElementById("main").focus({ preventScroll: true });
  }
  window.addEventListener("hashchange", route);
  who();
  route();
})();
