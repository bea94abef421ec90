// Blind rating page: keyboard-first, one item at a time, saves to the reviewer's own queue.
// A single-answer item (kind "single") shows one answer, the X panel without its letter, and no preference.
"use strict";
const token = document.body.dataset.token;
const api = (path) => `/api/${encodeURIComponent(token)}${path}`;
const $ = (id) => document.getElementById(id);
const state = { items: [], idx: 0, active: "x", form: null, shownAt: 0, saving: false };

const isSingle = (item) => item.kind === "single";

function blankForm(item) {
  const r = item.rating;
  if (r && isSingle(item))
    return { score_x: r.score, score_y: null, preference: null, acceptable_x: r.acceptable, acceptable_y: false,
             critical_x: r.critical, critical_y: false, comment: r.comment || "" };
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

function renderFacts(facts) {
  const box = $("facts");
  box.replaceChildren(...facts.map(([key, value]) => {
    const pair = document.createElement("div");
    const dt = document.createElement("dt"); dt.textContent = key.replaceAll("_", " ");
    const dd = document.createElement("dd"); dd.textContent = value;
    pair.append(dt, dd);
    return pair;
  }));
  box.hidden = !facts.length;
}

function renderTurns(context) {
  const answered = context.map((t) => t.role).lastIndexOf("customer");
  $("turns").replaceChildren(...context.map((t, i) => {
    const li = document.createElement("li");
    li.className = t.role + (i === answered ? " answered" : "");
    const role = document.createElement("span");
    role.className = "role";
    role.textContent = t.role;
    li.append(role, document.createTextNode(t.text));
    if (i === answered) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = "being answered";
      li.append(tag);
    }
    return li;
  }));
}

// The thread opens at its end (the message being answered in view); what is above is announced.
function renderEarlier() {
  const thread = $("thread");
  const above = [...$("turns").children].filter((li) => li.offsetTop + li.offsetHeight <= thread.scrollTop + 4).length;
  const button = $("earlier");
  button.hidden = above === 0;
  button.textContent = `↑ ${above} earlier message${above === 1 ? "" : "s"} above (scroll up)`;
}

function show(idx) {
  if (!state.items.length) { say("Your queue is empty.", "ok"); return; }
  $("done").hidden = true;
  $("rating").hidden = false;
  state.idx = Math.max(0, Math.min(idx, state.items.length - 1));
  const item = state.items[state.idx];
  state.form = blankForm(item);
  state.active = "x";
  state.shownAt = performance.now();
  $("category").textContent = `· ${item.category}`;
  renderFacts(item.facts || []);
  renderTurns(item.context);
  const single = isSingle(item);
  $("side-y").hidden = single;
  $("prefs").hidden = single;
  $("title-x").textContent = single ? "Answer" : "Answer X";
  $("answer-x").textContent = single ? item.answer : item.answer_x;
  $("answer-y").textContent = single ? "" : item.answer_y;
  $("answer-x").scrollTop = 0;
  $("answer-y").scrollTop = 0;
  const thread = $("thread");
  thread.scrollTop = thread.scrollHeight;
  renderEarlier();
  renderForm();
  renderProgress();
  say(item.rating ? "Already rated; saving again updates your rating." : "", "ok");
}

function showDone() {
  $("rating").hidden = true;
  $("done").hidden = false;
  $("done-count").textContent = String(state.items.length);
  renderProgress();
  $("where").textContent = "";
  $("review").focus();
}

function firstUnrated(from) {
  const n = state.items.length;
  for (let k = 0; k < n; k++) { const i = (from + k) % n; if (!state.items[i].rating) return i; }
  return -1;
}

// What the server stores for this item: a rating (paired) or a review of the one answer (single).
function payload(item, f, seconds) {
  if (!isSingle(item)) return { ...f, seconds };
  return { score: f.score_x, acceptable: f.acceptable_x, critical: f.critical_x, comment: f.comment, seconds };
}

async function save() {
  if (state.saving) return;
  const f = state.form;
  const item = state.items[state.idx];
  const needed = isSingle(item) ? ["score_x"] : ["score_x", "score_y", "preference"];
  const missing = needed.filter((k) => f[k] === null);
  if (missing.length) {
    say(`Still needed: ${isSingle(item) ? "score" : missing.join(", ").replaceAll("_", " ")}`, "error");
    return;
  }
  const seconds = Math.round((performance.now() - state.shownAt) / 100) / 10;
  const body = payload(item, f, (item.rating && item.rating.seconds) ? item.rating.seconds + seconds : seconds);
  state.saving = true;
  $("save").disabled = true;
  try {
    const route = isSingle(item) ? "reviews" : "ratings";
    const res = await fetch(api(`/${route}/${encodeURIComponent(item.rating_id)}`), {
      method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const data = await res.json();
    if (!res.ok) { say(`Not saved: ${data.error || res.status}`, "error"); return; }
    item.rating = body;
    const next = firstUnrated(state.idx + 1);
    if (next === -1) { showDone(); return; }
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
  if (side === "x" && !isSingle(state.items[state.idx])) state.active = "y";
  renderForm();
}

function toggle(name) { state.form[`${name}_${state.active}`] = !state.form[`${name}_${state.active}`]; renderForm(); }

function toggleGuide() { $("guide").hidden = !$("guide").hidden; }

function onKey(e) {
  if (e.key === "Escape" && (!$("guide").hidden || !$("help").hidden)) {
    $("guide").hidden = true; $("help").hidden = true; e.preventDefault(); return;
  }
  if (e.target === $("comment")) {
    if (e.key === "Escape") { $("comment").blur(); e.preventDefault(); }
    else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(); }
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const k = e.key;
  if (k === "h") { e.preventDefault(); toggleGuide(); return; }
  if (k === "?") { e.preventDefault(); $("help").hidden = !$("help").hidden; return; }
  if (!$("done").hidden) return;
  if (isSingle(state.items[state.idx]) && ["ArrowRight", "x", "y", "g", "b"].includes(k)) return;
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
  $("guide-toggle").addEventListener("click", toggleGuide);
  $("guide-close").addEventListener("click", () => { $("guide").hidden = true; });
  $("review").addEventListener("click", () => show(0));
  $("thread").addEventListener("scroll", renderEarlier);
  $("earlier").addEventListener("click", () => { $("thread").scrollTop = 0; });
  window.addEventListener("resize", renderEarlier);
  document.addEventListener("keydown", onKey);
}

async function load() {
  build();
  const res = await fetch(api("/queue"));
  if (!res.ok) { say("This link is not valid.", "error"); return; }
  state.items = (await res.json()).items;
  const start = firstUnrated(0);
  if (start === -1 && state.items.length) showDone();
  else show(start === -1 ? 0 : start);
}

load();
