// The analyse page: choose a photo → instant local preview → /v1/analyze and /v1/search in
// parallel → the hedged garment sentence, colours per garment, the overlay and similar items.
import { ApiFailure, callApi, colourName, describeError, el, percent } from "./api.js";

const ICONS = new Set(["upper-body", "outerwear", "bottoms", "one-piece", "footwear", "headwear", "garment"]);

const $ = (id) => document.getElementById(id);
const ui = {
  drop: $("drop-zone"), input: $("file-input"), error: $("error"),
  stage: $("stage"), frame: $("frame"), preview: $("preview"), overlay: $("overlay"),
  overlaySwitch: $("overlay-switch"), overlayToggle: $("overlay-toggle"), fileName: $("file-name"),
  busy: $("busy"), busyText: $("busy-text"), results: $("results"), placeholder: $("placeholder"),
  analysis: $("analysis"), icon: $("category-icon"), summary: $("summary"),
  confidence: $("confidence"), hedgeNote: $("hedge-note"), colourRows: $("colour-rows"),
  similarSection: $("similar-section"), similar: $("similar"), similarNote: $("similar-note"),
  filters: $("filters"), regionNote: $("region-note"), regionText: $("region-text"),
  regionClear: $("region-clear"), lang: $("lang"),
};

// Garment and colour names (and the hedged sentence) in the chosen language; kept per browser.
const LANGS = new Set(["en", "es", "ca", "ro", "ru"]);
try {
  const saved = window.localStorage.getItem("fashionlens.lang");
  if (LANGS.has(saved)) ui.lang.value = saved;
} catch { /* storage may be off: English */ }

const state = {
  file: null,
  objectUrl: null,
  region: null,        // {label, box} when searching with one garment of the photo
  analysisCtl: null,   // AbortController of the running analyse + search
  searchCtl: null,     // AbortController of a search re-run by the filters
};

// ------------------------------------------------------------------ errors and busy state
function showError(message) {
  ui.error.textContent = message;
}
function clearError() {
  ui.error.textContent = "";
}
function setBusy(on, text = "Analysing…") {
  ui.busy.hidden = !on;
  ui.busyText.textContent = text;
  ui.results.setAttribute("aria-busy", String(on));
  ui.drop.classList.toggle("is-busy", on);
}
function setSearching(on) {
  ui.similar.classList.toggle("is-loading", on);
  ui.similar.setAttribute("aria-busy", String(on));
  if (on) ui.similarNote.textContent = "Searching the catalog…";
}

// ------------------------------------------------------------------ choosing a photo
function openChooser() {
  ui.input.click();
}

ui.drop.addEventListener("click", openChooser);
ui.drop.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" || ev.key === " " || ev.key === "Spacebar") {
    ev.preventDefault();
    openChooser();
  }
});
ui.input.addEventListener("change", () => {
  const file = ui.input.files && ui.input.files[0];
  if (file) choose(file);
  ui.input.value = ""; // choosing the same file again still fires "change"
});

for (const target of [ui.drop, ui.stage]) {
  target.addEventListener("dragenter", (ev) => { ev.preventDefault(); ui.drop.classList.add("is-over"); });
  target.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    ev.dataTransfer.dropEffect = "copy";
    ui.drop.classList.add("is-over");
  });
  target.addEventListener("dragleave", (ev) => {
    if (!target.contains(ev.relatedTarget)) ui.drop.classList.remove("is-over");
  });
  target.addEventListener("drop", (ev) => {
    ev.preventDefault();
    ui.drop.classList.remove("is-over");
    const file = ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (file) choose(file);
  });
}
// A photo dropped next to the zone must not make the browser navigate away from the page.
window.addEventListener("dragover", (ev) => ev.preventDefault());
window.addEventListener("drop", (ev) => ev.preventDefault());

ui.preview.addEventListener("error", () => {
  if (ui.preview.getAttribute("src")) ui.frame.classList.add("no-preview");
});
ui.preview.addEventListener("load", () => ui.frame.classList.remove("no-preview"));

ui.lang.addEventListener("change", () => {
  try { window.localStorage.setItem("fashionlens.lang", ui.lang.value); } catch { /* fine */ }
  if (state.file) analyse();
});

ui.overlayToggle.addEventListener("change", () => {
  ui.overlay.classList.toggle("is-off", !ui.overlayToggle.checked);
});

function choose(file) {
  clearError();
  if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
  state.file = file;
  state.objectUrl = URL.createObjectURL(file);
  state.region = null;
  // The local preview comes first, before anything is uploaded.
  ui.preview.src = state.objectUrl;
  ui.overlay.hidden = true;
  ui.overlay.removeAttribute("src");
  ui.overlaySwitch.hidden = true;
  ui.fileName.textContent = file.name;
  ui.stage.hidden = false;
  ui.drop.classList.add("has-photo");
  ui.drop.querySelector(".drop-title").firstChild.textContent = "Choose another photo ";
  analyse();
}

// ------------------------------------------------------------------ calls
function formFor(file, fields) {
  const form = new FormData();
  form.append("image", file, file.name || "photo");
  for (const [k, v] of Object.entries(fields)) {
    if (v !== null && v !== undefined && v !== "") form.append(k, String(v));
  }
  return form;
}

function searchFields() {
  const data = new FormData(ui.filters);
  const k = parseInt(data.get("k"), 10);
  return {
    k: Number.isFinite(k) && k > 0 ? Math.min(k, 50) : 8,
    category: String(data.get("category") || "").trim(),
    colour: String(data.get("colour") || "").trim(),
    region: state.region ? state.region.box.map((v) => Math.round(v)).join(",") : "",
  };
}

const postAnalyze = (file, signal) =>
  callApi("/v1/analyze", { method: "POST", body: formFor(file, { overlay: "true", lang: ui.lang.value }), signal });
const postSearch = (file, signal) =>
  callApi("/v1/search", { method: "POST", body: formFor(file, searchFields()), signal });

async function analyse() {
  if (state.analysisCtl) state.analysisCtl.abort();
  if (state.searchCtl) state.searchCtl.abort();
  const ctl = new AbortController();
  state.analysisCtl = ctl;
  const file = state.file;
  setBusy(true, "Analysing the photo…");
  ui.placeholder.hidden = true;
  ui.analysis.hidden = true;
  ui.similarSection.hidden = true;
  ui.similar.replaceChildren();
  const [analysis, search] = await Promise.allSettled([
    postAnalyze(file, ctl.signal), postSearch(file, ctl.signal)]);
  if (ctl.signal.aborted || state.analysisCtl !== ctl) return; // a newer photo took over
  state.analysisCtl = null;
  setBusy(false);
  if (analysis.status === "rejected") {
    showError(describeError(analysis.reason));
    ui.placeholder.hidden = false;
    return;
  }
  renderAnalysis(analysis.value);
  ui.similarSection.hidden = false;
  if (search.status === "fulfilled") renderSimilar(search.value);
  else renderSimilarFailure(search.reason);
}

async function searchAgain() {
  if (!state.file) return;
  if (state.searchCtl) state.searchCtl.abort();
  const ctl = new AbortController();
  state.searchCtl = ctl;
  clearError();
  renderRegionNote();
  setSearching(true);
  try {
    const res = await postSearch(state.file, ctl.signal);
    if (state.searchCtl !== ctl) return;
    renderSimilar(res);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (state.searchCtl !== ctl) return;
    renderSimilarFailure(err);
  } finally {
    if (state.searchCtl === ctl) {
      state.searchCtl = null;
      setSearching(false);
    }
  }
}

ui.filters.addEventListener("submit", (ev) => {
  ev.preventDefault();
  searchAgain();
});
ui.filters.addEventListener("reset", () => {
  state.region = null;
  setTimeout(searchAgain, 0); // after the inputs are cleared
});
ui.regionClear.addEventListener("click", () => {
  state.region = null;
  searchAgain();
});

// ------------------------------------------------------------------ rendering the analysis
const capitalise = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

function summaryOf(a) {
  if (a.summary) return a.summary;
  const h = a.hedged || {};
  if (h.label && a.label && h.covers && h.covers.length > 1) {
    return `a ${h.label} — probably a ${a.label.toLowerCase()}`;
  }
  return `a ${(h.label || a.label || "garment").toLowerCase()}`;
}

function iconOf(a) {
  if (ICONS.has(a.icon)) return a.icon;
  const path = (a.hedged && a.hedged.path) || [];
  const group = path[1] === "upper-body" && path[2] === "outerwear" ? "outerwear" : path[1];
  return ICONS.has(group) ? group : "garment";
}

function renderAnalysis(a) {
  ui.icon.src = `/static/icons/${iconOf(a)}.svg`;
  ui.icon.alt = "";
  ui.summary.textContent = capitalise(summaryOf(a));
  ui.summary.lang = ui.lang.value;
  ui.colourRows.lang = ui.lang.value;

  const others = (a.top || []).filter((t) => t.label !== a.label)
    .map((t) => `${t.label} ${percent(t.p)}`).join(", ");
  ui.confidence.textContent = a.label
    ? `Best single guess: ${a.label}, ${percent(a.confidence)} confident${others ? ` · then ${others}` : ""}.`
    : "";
  const h = a.hedged;
  ui.hedgeNote.textContent = h && h.target_accuracy
    ? `Named as specifically as a ${percent(h.target_accuracy)} target accuracy allows (${(h.path || []).join(" › ")}; right ${percent(h.probability)} of the time).`
    : "";

  ui.colourRows.replaceChildren(
    colourRow("Whole photo", a.colours, null),
    ...groupGarments(a.garments || []).map((g) => colourRow(capitalise(g.display || g.label), g.colours, g)),
  );
  if (!(a.garments || []).length) {
    ui.colourRows.append(el("p", { class: "muted small" }, "No separate garments were outlined in this photo."));
  }

  if (a.overlay) {
    ui.overlay.src = a.overlay;
    ui.overlay.hidden = false;
    ui.overlay.classList.toggle("is-off", !ui.overlayToggle.checked);
    ui.overlaySwitch.hidden = false;
  }
  ui.analysis.hidden = false;
}

/** One row per garment label: colours of all its pieces pooled by area, the largest box kept. */
function groupGarments(garments) {
  const groups = new Map();
  for (const g of garments) {
    const area = Number(g.area) || 1;
    let group = groups.get(g.label);
    if (!group) {
      group = { label: g.label, display: g.display, box: g.box, area: 0, best: 0, score: g.score, byName: new Map(), pattern: null };
      groups.set(g.label, group);
    }
    if (area > group.best) {
      group.best = area;
      group.box = g.box;
      group.pattern = g.colours && g.colours.pattern;
    }
    group.area += area;
    for (const c of (g.colours && g.colours.colours) || []) {
      const seen = group.byName.get(c.name) || { ...c, weight: 0, top: 0 };
      const w = area * (Number(c.share) || 0);
      seen.weight += w;
      if (w > seen.top) Object.assign(seen, { rgb: c.rgb, display: c.display, top: w });
      group.byName.set(c.name, seen);
    }
  }
  return [...groups.values()].map((g) => {
    const total = [...g.byName.values()].reduce((s, c) => s + c.weight, 0) || 1;
    const colours = [...g.byName.values()]
      .map((c) => ({ ...c, share: c.weight / total }))
      .sort((x, y) => y.share - x.share);
    return { label: g.label, display: g.display, box: g.box, colours: { colours, pattern: g.pattern } };
  });
}

function swatch(c) {
  const rgb = Array.isArray(c.rgb) && c.rgb.length === 3 ? `rgb(${c.rgb.map(Number).join(",")})` : "transparent";
  return el("li", { class: "chip", title: `${colourName(c)} · ${percent(c.share)}` },
    el("span", { class: "swatch", style: `background:${rgb}`, "aria-hidden": "true" }),
    el("span", { class: "chip-name" }, colourName(c)),
    el("span", { class: "chip-share" }, percent(c.share)));
}

function colourRow(where, colours, garment) {
  const list = (colours && colours.colours) || [];
  const names = list.map(colourName).join(", ") || "no colour measured";
  const pattern = colours && colours.pattern && colours.pattern !== "solid" ? colours.pattern : null;
  const row = el("div", { class: "colour-row" },
    el("p", { class: "colour-where" },
      el("span", { class: "colour-label" }, `${where}:`), " ",
      el("span", { class: "visually-hidden" }, `${names}.`),
      pattern ? el("span", { class: "pattern" }, pattern) : null),
    el("ul", { class: "chips", "aria-hidden": "true" }, list.map(swatch)));
  if (garment && Array.isArray(garment.box) && garment.box.length === 4) {
    row.append(el("button", {
      type: "button", class: "btn-link find-similar",
      "aria-label": `Find items similar to the ${garment.label} in this photo`,
      onclick: () => {
        state.region = { label: garment.label, box: garment.box };
        searchAgain();
        ui.similarSection.scrollIntoView({ behavior: "smooth", block: "start" });
      },
    }, "Find similar"));
  }
  return row;
}

// ------------------------------------------------------------------ similar items and looks
function renderRegionNote() {
  ui.regionNote.hidden = !state.region;
  if (state.region) ui.regionText.textContent = `Searching with the ${state.region.label} of your photo.`;
}

function renderSimilarFailure(err) {
  ui.similar.replaceChildren();
  ui.filters.hidden = false;
  if (err instanceof ApiFailure && err.code === "no_catalog") {
    ui.filters.hidden = true;
    ui.similarNote.textContent = capitalise(`${err.message}.`.replace(/\.\.$/, "."));
  } else if (err instanceof ApiFailure && err.code === "invalid_request") {
    showError(describeError(err));
    ui.similarNote.textContent = "Change the filters and try again.";
  } else {
    ui.similarNote.textContent = `The catalog could not be searched: ${describeError(err)}`;
  }
}

function garmentText(g) {
  const colours = (g.colours || []).map((c) => (typeof c === "string" ? c.replace(/-/g, " ") : colourName(c)));
  return colours.length ? `${g.label}: ${colours.join(", ")}` : g.label;
}

function card(r) {
  const kind = r.kind === "look" ? "look" : "item";
  const title = r.title || r.id;
  const colours = (r.colours || []).map((c) => c.replace(/-/g, " ")).join(", ");
  const thumb = el("a", { class: "thumb", href: r.image_url || r.thumb_url, target: "_blank", rel: "noopener",
    "aria-label": `${title} (${r.id}), open the photo` },
    el("img", {
      src: r.thumb_url || r.image_url, alt: "", loading: "lazy",
      // the 128 px thumbnail on small cards; the photo itself where the card is wider
      srcset: r.thumb_url && r.image_url ? `${r.thumb_url} 128w, ${r.image_url} 640w` : null,
      sizes: "(max-width: 700px) 45vw, 200px",
    }),
    el("span", { class: `badge badge-${kind}` }, kind === "look" ? "Look" : "Item"),
    r.copy ? el("span", { class: "badge badge-copy" }, "Same photo") : null);
  const score = Math.max(0, Math.min(1, Number(r.score) || 0));
  const body = el("div", { class: "card-body" },
    el("h3", { class: "card-title" }, title),
    el("p", { class: "card-meta" }, [r.category, colours].filter(Boolean).join(" · ")),
    el("p", { class: "card-score" },
      el("span", { class: "bar", "aria-hidden": "true" }, el("span", { style: `width:${(score * 100).toFixed(0)}%` })),
      el("span", {}, `similarity ${Number(r.score).toFixed(2)}`)),
    el("p", { class: "card-id" }, r.id));
  if (kind === "look" && r.garment && r.garment.label && r.garment.box) {
    body.append(el("p", { class: "matched" }, `Matched on the ${r.garment.label}`));
  }
  if (kind === "look" && (r.complete_the_look || []).length) {
    body.append(el("div", { class: "ctl", dataset: { testid: "complete-the-look" } },
      el("p", { class: "ctl-title" }, "Complete the look"),
      el("ul", {}, r.complete_the_look.map((g) => el("li", {}, garmentText(g))))));
  }
  return el("li", { class: `card card-${kind}`, dataset: { testid: "result", id: r.id, kind } }, thumb, body);
}

function renderSimilar(res) {
  const results = (res && res.results) || [];
  ui.filters.hidden = false;
  renderRegionNote();
  ui.similar.replaceChildren(...results.map(card));
  const looks = results.filter((r) => r.kind === "look").length;
  ui.similarNote.textContent = results.length
    ? `${results.length} result${results.length === 1 ? "" : "s"}, ${looks} of them look${looks === 1 ? "" : "s"}.`
    : "Nothing in the catalog matches these filters.";
}

document.documentElement.dataset.ready = "true"; // every handler is in place (tests wait for it)
