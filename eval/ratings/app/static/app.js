// Blind rating page: keyboard-first, one item at a time, saves to the reviewer's own queue.
"use strict";
const token = document.body.dataset.token;
const api = (path) => `/api/${encodeURIComponent(token)}${path}`;
const $ = (id) => document.getElementById(id);
const state = { items: [], idx: 0, active: "x", form: null, shownAt: 0, saving: false };

function blankForm(item) {
  const r = item.rating;
  return r ? { ...r, comment: r.comment || "" } : {
    score_x: null, score_y: null, preference: null, acceptable_x: false, acceptable_y: false,
    critical_x: false, critical_y: false, comment: "" };
}

function say(text, kind) { const m = $("message"); m.textContent = text; m.className = kind || ""; }

function renderProgress() {
  const done = state.items.filter((i) => i.rating).length;
  $("progress").textContent = `${done} of ${state.items.length} rated`;
  $("where").textContent = state.items.length ? `item ${state.idx + 1} of ${state.items.length}` : "";
}

function renderForm() {
  const f = state.form;
  for (const side of ["x", "y"]) {
    $(`side-${side}`).classList.toggle("active", state.active === side);
    for (const b of document.querySelectorAll(`#side-${side} .scores button`))
      b.setAttribute("aria-checked", String(Number(b.dataset.score) === f[`score_${side}`]));
    $(`acceptable-${side}`).checked = f[`acceptable_${side}`];
    $(`critical-${side}`).checked = f[`critical_${side}`];
  }
  for (const b of document.querySelectorAll(".prefs button"))
    b.setAttribute("aria-checked", String(b.dataset.pref === f.preference));
  $("comment").value = f.comment;
}

function show(idx) {
  if (!state.items.length) { say("Your queue is empty.", "ok"); return; }
  state.idx = Math.max(0, Math.min(idx, state.items.length - 1));
  const item = state.items[state.idx];
  state.form = blankForm(item);
  state.active = "x";
  state.shownAt = performance.now();
  $("category").textContent = `· ${item.category}`;
  const turns = $("turns");
  turns.replaceChildren(...item.context.map((t) => {
    const li = document.createElement("li");
    li.className = t.role;
    const role = document.createElement("span");
    role.className = "role";
    role.textContent = t.role;
    li.append(role, document.createTextNode(t.text));
    return li;
  }));
  $("answer-x").textContent = item.answer_x;
  $("answer-y").textContent = item.answer_y;
  renderForm();
  renderProgress();
  say(item.rating ? "Already rated; saving again updates your rating." : "", "ok");
}

function firstUnrated(from) {
  const n = state.items.length;
  for (let k = 0; k < n; k++) { const i = (from + k) % n; if (!state.items[i].rating) return i; }
  return -1;
}

async function save() {
  if (state.saving) return;
  const f = state.form;
  const missing = ["score_x", "score_y", "preference"].filter((k) => f[k] === null);
  if (missing.length) { say(`Still needed: ${missing.join(", ").replaceAll("_", " ")}`, "error"); return; }
  const item = state.items[state.idx];
  const seconds = Math.round((performance.now() - state.shownAt) / 100) / 10;
  const body = { ...f, seconds: (item.rating && item.rating.seconds) ? item.rating.seconds + seconds : seconds };
  state.saving = true;
  $("save").disabled = true;
  try {
    const res = await fetch(api(`/ratings/${encodeURIComponent(item.rating_id)}`), {
      method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const data = await res.json();
    if (!res.ok) { say(`Not saved: ${data.error || res.status}`, "error"); return; }
    item.rating = body;
    const next = firstUnrated(state.idx + 1);
    if (next === -1) { renderProgress(); say(`Saved. All ${state.items.length} rated, thank you!`, "ok"); return; }
    show(next);
    say("Saved.", "ok");
  } catch (err) {
    say(`Not saved (network): ${err}`, "error");
  } finally {
    state.saving = false;
    $("save").disabled = false;
  }
}

function setScore(side, score) {
  state.form[`score_${side}`] = score;
  if (side === "x") state.active = "y";
  renderForm();
}

function toggle(name) { state.form[`${name}_${state.active}`] = !state.form[`${name}_${state.active}`]; renderForm(); }

function onKey(e) {
  if (e.target === $("comment")) {
    if (e.key === "Escape") { $("comment").blur(); e.preventDefault(); }
    else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(); }
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const k = e.key;
  const act = {
    ArrowLeft: () => { state.active = "x"; renderForm(); },
    ArrowRight: () => { state.active = "y"; renderForm(); },
    x: () => { state.form.preference = "x"; renderForm(); },
    y: () => { state.form.preference = "y"; renderForm(); },
    g: () => { state.form.preference = "tie_good"; renderForm(); },
    b: () => { state.form.preference = "tie_bad"; renderForm(); },
    a: () => toggle("acceptable"),
    c: () => toggle("critical"),
    "/": () => $("comment").focus(),
    Enter: save,
    ",": () => show(state.idx - 1),
    ".": () => show(state.idx + 1),
    "?": () => { $("help").hidden = !$("help").hidden; },
  }[k] || (/^[1-5]$/.test(k) ? () => setScore(state.active, Number(k)) : null);
  if (act) { e.preventDefault(); act(); }
}

function build() {
  for (const side of ["x", "y"]) {
    const box = document.querySelector(`#side-${side} .scores`);
    for (let s = 1; s <= 5; s++) {
      const b = document.createElement("button");
      b.type = "button"; b.dataset.score = s; b.textContent = s; b.setAttribute("role", "radio");
      b.addEventListener("click", () => { state.active = side; setScore(side, s); });
      box.append(b);
    }
    for (const name of ["acceptable", "critical"])
      $(`${name}-${side}`).addEventListener("change", (e) => { state.form[`${name}_${side}`] = e.target.checked; });
    $(`side-${side}`).addEventListener("click", (e) => {
      if (e.target.closest("input, label, button")) return;
      state.active = side; renderForm();
    });
  }
  for (const b of document.querySelectorAll(".prefs button"))
    b.addEventListener("click", () => { state.form.preference = b.dataset.pref; renderForm(); });
  $("comment").addEventListener("input", (e) => { state.form.comment = e.target.value; });
  $("save").addEventListener("click", save);
  $("prev").addEventListener("click", () => show(state.idx - 1));
  $("next").addEventListener("click", () => show(state.idx + 1));
  $("help-toggle").addEventListener("click", () => { $("help").hidden = !$("help").hidden; });
  document.addEventListener("keydown", onKey);
}

async function load() {
  build();
  const res = await fetch(api("/queue"));
  if (!res.ok) { say("This link is not valid.", "error"); return; }
  state.items = (await res.json()).items;
  const start = firstUnrated(0);
  show(start === -1 ? 0 : start);
}

load();
