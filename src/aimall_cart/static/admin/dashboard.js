// The admin dashboard: signs in with a pasted admin token (kept in this tab's sessionStorage),
// reads GET /v1/admin/analytics and GET /v1/admin/health, and draws them. No other network.
"use strict";

const TOKEN_KEY = "aimall-cart-admin-token";
const HEALTH_EVERY_MS = 15000;
const ANALYTICS_EVERY_MS = 60000;
const DAY_MS = 86400000;
const COLORS = {
  carts: "#2563eb", abandoned: "#f79009", recovered: "#12805c", converted: "#7a5af8",
  interval: "rgba(37, 99, 235, 0.22)", point: "#1d2430", grid: "#eef0f3",
};
const GROUPS = ["ai", "baseline", "holdout"];

const $ = (id) => document.getElementById(id);
const state = { charts: {}, timers: [], currency: "USD" };

const numberFormat = new Intl.NumberFormat("en-US");
const format = {
  count: (v) => (v == null ? "–" : numberFormat.format(v)),
  rate: (v) => (v == null ? "–" : `${(v * 100).toFixed(1)}%`),
  "signed-rate": (v) => (v == null ? "–" : `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`),
  money: (v) => (v == null ? "–" : new Intl.NumberFormat("en-US", {
    style: "currency", currency: state.currency,
  }).format(v / 100)),
  seconds: (v) => (v == null ? "–" : `${v.toFixed(1)} s`),
  ms: (v) => (v == null ? "–" : `${v.toFixed(2)} ms`),
  time: (v) => (v == null ? "never" : new Date(v).toISOString().replace("T", " ").slice(0, 19) + " UTC"),
};

function dig(object, path) {
  return path.split(".").reduce((found, key) => (found == null ? undefined : found[key]), object);
}

function isoDate(date) {
  return date.toISOString().slice(0, 10);
}

// ---- talking to the API -------------------------------------------------------------------

class ApiRefused extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path) {
  const answer = await fetch(path, {
    headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}`, Accept: "application/json" },
    cache: "no-store",
  });
  if (answer.status === 401 || answer.status === 403) {
    const problem = await answer.json().catch(() => ({}));
    throw new ApiRefused(answer.status, answer.status === 401
      ? `The token was not accepted: ${problem.detail || "sign in again"}.`
      : "This token is not an admin's: the dashboard needs role admin.");
  }
  if (!answer.ok && answer.status !== 503) {
    const problem = await answer.json().catch(() => ({}));
    throw new Error(`${path} answered ${answer.status}: ${problem.detail || answer.statusText}`);
  }
  return answer.json();
}

// ---- figures ------------------------------------------------------------------------------

function fill(view) {
  for (const element of document.querySelectorAll("[data-figure]")) {
    const value = dig(view, element.dataset.figure);
    element.dataset.value = JSON.stringify(value ?? null);
    element.textContent = format[element.dataset.format || "count"](value ?? null);
  }
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.append(cell); else td.textContent = cell;
    if (typeof cell !== "string" || /^[+\-$–\d]/.test(cell)) td.className = "n";
    tr.append(td);
  }
  return tr;
}

function meter(share) {
  const outer = document.createElement("div");
  outer.className = "meter";
  const inner = document.createElement("div");
  inner.style.width = `${Math.round(Math.max(0, Math.min(1, share)) * 100)}%`;
  outer.append(inner);
  return outer;
}

// ---- charts -------------------------------------------------------------------------------

function axis(title, extra = {}) {
  return { title: { display: true, text: title, color: "#667085" }, grid: { color: COLORS.grid }, ...extra };
}

function draw(id, config) {
  state.charts[id]?.destroy();
  config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
  state.charts[id] = new Chart($(id), config);
}

function drawFunnel(funnel) {
  const steps = [
    ["Carts created", funnel.carts_created], ["With items", funnel.carts_with_items],
    ["Checkouts started", funnel.checkouts_started], ["Orders", funnel.orders],
  ];
  draw("funnel-chart", {
    type: "bar",
    data: {
      labels: steps.map(([name]) => name),
      datasets: [{ label: "carts", data: steps.map(([, n]) => n), backgroundColor: COLORS.carts, borderRadius: 4 }],
    },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: { x: axis("carts", { beginAtZero: true, ticks: { precision: 0 } }), y: { grid: { display: false } } },
    },
  });
  const body = $("funnel-table").tBodies[0];
  body.replaceChildren(...steps.map(([name, n]) => row([
    name, format.count(n), funnel.carts_created ? format.rate(n / funnel.carts_created) : "–",
  ])));
}

function drawSeries(series) {
  // Bars side by side: counts of one day stay apart even when two are equal, as a day's carts
  // and its abandoned carts often are, where lines would hide one under the other.
  const bars = (label, key, color) => ({
    label, data: series.map((day) => day[key] ?? 0), backgroundColor: color, borderRadius: 2,
  });
  const datasets = [
    bars("Carts with items", "carts", COLORS.carts),
    bars("Abandoned", "abandoned_carts", COLORS.abandoned),
    bars("Converted", "converted_carts", COLORS.converted),
    bars("Recovered", "recovered_carts", COLORS.recovered),
  ];
  draw("series-chart", {
    type: "bar",
    data: { labels: series.map((day) => day.date), datasets },
    options: {
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      scales: {
        x: axis("date (UTC)", { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 } }),
        y: axis("carts per day", { beginAtZero: true, ticks: { precision: 0 } }),
      },
    },
  });
}

function drawRecovery(recovery) {
  const groups = GROUPS.map((name) => [name, recovery.groups?.[name] ?? {}]);
  const percent = (v) => (v == null ? null : +(v * 100).toFixed(2));
  draw("recovery-chart", {
    type: "bar",
    data: {
      labels: groups.map(([name]) => name),
      datasets: [
        {
          type: "line", label: "recovery rate", data: groups.map(([, g]) => percent(g.recovery_rate)),
          showLine: false, pointRadius: 6, pointStyle: "rectRot", borderColor: COLORS.point, backgroundColor: COLORS.point,
        },
        {
          label: "95% interval", backgroundColor: COLORS.interval, borderColor: COLORS.carts, borderWidth: 1,
          data: groups.map(([, g]) => (g.recovery_rate_interval ? g.recovery_rate_interval.map(percent) : null)),
          barPercentage: 0.45,
        },
      ],
    },
    options: {
      plugins: { legend: { position: "bottom" } },
      scales: { x: { grid: { display: false } }, y: axis("% recovered", { beginAtZero: true, suggestedMax: 10 }) },
    },
  });
  const body = $("recovery-table").tBodies[0];
  body.replaceChildren(...groups.map(([name, g]) => row([
    name, format.count(g.carts), format.count(g.messaged), format.count(g.recovered),
    format.rate(g.recovery_rate), format.money(g.recovered_revenue),
  ])));
  const interval = recovery.lift?.interval;
  $("lift-interval").textContent = interval
    ? `(95% interval ${format["signed-rate"](interval[0])} to ${format["signed-rate"](interval[1])})`
    : "(not enough carts yet for an interval)";
}

function drawReasons(reasons) {
  const entries = Object.entries(reasons).sort((a, b) => b[1] - a[1]);
  draw("reasons-chart", {
    type: "bar",
    data: {
      labels: entries.map(([reason]) => reason.replaceAll("_", " ")),
      datasets: [{ label: "abandoned carts", data: entries.map(([, n]) => n), backgroundColor: COLORS.abandoned, borderRadius: 4 }],
    },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: { x: axis("abandoned carts", { beginAtZero: true, ticks: { precision: 0 } }), y: { grid: { display: false } } },
    },
  });
}

function listProducts(products) {
  const most = Math.max(1, ...products.map((p) => p.abandoned_carts ?? 0));
  $("products").tBodies[0].replaceChildren(...products.map((p) => {
    const tr = row([
      p.name ? `${p.name} (${p.product_id})` : p.product_id, p.seller_id ?? "–",
      format.count(p.abandoned_carts), meter((p.abandoned_carts ?? 0) / most),
      format.count(p.carts), format.rate(p.abandonment_rate),
    ]);
    tr.dataset.product = p.product_id;
    return tr;
  }));
}

function listSellers(sellers) {
  $("sellers").tBodies[0].replaceChildren(...sellers.map((s) => {
    const tr = row([
      s.seller_id, format.count(s.carts), format.count(s.converted_carts), format.count(s.abandoned_carts),
      format.count(s.recovered_carts), format.rate(s.abandonment_rate), format.money(s.value_in_open_carts),
    ]);
    tr.dataset.seller = s.seller_id;
    return tr;
  }));
}

// ---- health -------------------------------------------------------------------------------

function fact(list, name, value, level = "") {
  const div = document.createElement("div");
  if (level) div.className = level;
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  div.append(dt, dd);
  list.append(div);
  return dd;
}

function showHealth(health) {
  const badge = $("health-status");
  badge.textContent = health.status;
  badge.className = `badge ${health.status}`;
  const facts = $("health-facts");
  facts.replaceChildren();
  const db = health.database;
  fact(facts, "Database round trip", db.ok ? format.ms(db.latency_ms) : "no answer", db.ok ? "" : "bad");
  fact(facts, "Schema", db.revision ? `${db.revision}${db.schema_current ? "" : " (behind)"}` : "–", db.schema_current ? "" : "warn");
  if (health.outbox) {
    fact(facts, "Outbox pending", format.count(health.outbox.pending), health.outbox.pending ? "warn" : "");
    fact(facts, "Outbox dead", format.count(health.outbox.dead), health.outbox.dead ? "bad" : "");
    fact(facts, "Oldest pending", format.seconds(health.outbox.oldest_pending_age_seconds));
  }
  if (health.reservations) {
    fact(facts, "Open reservations", `${format.count(health.reservations.open)} (${format.count(health.reservations.units)} units)`);
  }
  if (health.recovery) {
    fact(facts, "Recovery", health.recovery.enabled ? "enabled" : "disabled", health.recovery.enabled ? "" : "warn");
    fact(facts, "Last recovery pass", format.time(health.recovery.last_pass_at));
  }
  $("workers").tBodies[0].replaceChildren(...(health.workers.length
    ? health.workers.map((w) => row([w.id, format.time(w.last_seen), format.seconds(w.age_seconds)]))
    : [row(["no worker heard from in the last hour", "", ""])]));
  const conflicts = $("conflicts");
  conflicts.replaceChildren();
  for (const [code, count] of Object.entries(health.conflicts_last_5_min)) {
    fact(conflicts, code.replaceAll("_", " "), format.count(count), count ? "warn" : "").dataset.conflict = code;
  }
}

// ---- the page -----------------------------------------------------------------------------

function setRange(days, end) {
  $("to").value = isoDate(end);
  $("from").value = isoDate(new Date(end.getTime() - (days - 1) * DAY_MS));
  for (const button of document.querySelectorAll(".presets button")) {
    button.classList.toggle("active", Number(button.dataset.days) === days);
  }
}

function showError(message) {
  $("load-error").textContent = message;
  $("load-error").hidden = !message;
}

async function loadHealth() {
  const health = await api("/v1/admin/health");
  showHealth(health);
  return health;
}

async function loadAnalytics() {
  const query = new URLSearchParams({ from: $("from").value, to: $("to").value });
  const analytics = await api(`/v1/admin/analytics?${query}`);
  state.currency = analytics.currency;
  fill(analytics);
  drawFunnel(analytics.funnel);
  drawSeries(analytics.series);
  drawRecovery(analytics.recovery);
  drawReasons(analytics.reasons);
  listSellers(analytics.sellers);
  listProducts(analytics.most_abandoned_products);
  $("updated").textContent = analytics.as_of
    ? `figures as of ${format.time(analytics.as_of)}` : "figures not rolled up yet";
  document.body.dataset.loaded = "true";
}

async function guarded(work) {
  try {
    await work();
    showError("");
  } catch (error) {
    if (error instanceof ApiRefused) signOut(error.message); else showError(error.message);
  }
}

async function start() {
  $("sign-in").hidden = true;
  $("board").hidden = false;
  $("range").hidden = false;
  $("session").hidden = false;
  await guarded(async () => {
    const health = await loadHealth();
    if (!$("to").value) setRange(30, new Date(health.checked_at));
    await loadAnalytics();
  });
  state.timers.push(setInterval(() => guarded(loadHealth), HEALTH_EVERY_MS));
  state.timers.push(setInterval(() => guarded(loadAnalytics), ANALYTICS_EVERY_MS));
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  state.timers.splice(0).forEach(clearInterval);
  $("board").hidden = true;
  $("range").hidden = true;
  $("session").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message;
  $("sign-in-error").hidden = !message;
  delete document.body.dataset.loaded;
}

document.addEventListener("DOMContentLoaded", () => {
  Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
  Chart.defaults.color = "#344054";
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    start();
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("range").addEventListener("submit", (event) => {
    event.preventDefault();
    for (const button of document.querySelectorAll(".presets button")) button.classList.remove("active");
    guarded(loadAnalytics);
  });
  for (const button of document.querySelectorAll(".presets button")) {
    button.addEventListener("click", () => {
      setRange(Number(button.dataset.days), new Date($("to").value || Date.now()));
      guarded(loadAnalytics);
    });
  }
  if (sessionStorage.getItem(TOKEN_KEY)) start();
});
