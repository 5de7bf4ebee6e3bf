// The audit page: start an audit job (the served catalog, or an uploaded catalog file), poll it,
// show progress, then the findings with thumbnail, check, score, reason and stated vs seen.
import { callApi, describeError, el, percent } from "./api.js";

const $ = (id) => document.getElementById(id);
const ui = {
  error: $("error"), demo: $("audit-demo"), form: $("upload-form"), file: $("catalog-file"),
  upload: $("audit-upload"), progressBox: $("progress-box"), progressText: $("progress-text"),
  progressBar: $("progress-bar"), jobId: $("job-id"), findingsBox: $("findings-box"),
  findings: $("findings"), note: $("findings-note"), report: $("report-link"),
  rejectsBox: $("rejects-box"), rejects: $("rejects"),
};

const CHECK_NAMES = {
  category_mismatch: "Category",
  colour_mismatch: "Colour",
  title_mismatch: "Title",
  near_duplicate: "Duplicate",
  label_issue: "Label",
};

let run = 0; // the newest job wins; older polls stop

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function setRunning(on) {
  ui.demo.disabled = on;
  ui.upload.disabled = on;
  ui.demo.textContent = on ? "Auditing…" : "Audit the demo catalog";
}

async function start(form) {
  const mine = ++run;
  ui.error.textContent = "";
  ui.findingsBox.hidden = true;
  ui.progressBox.hidden = false;
  ui.progressText.textContent = "Starting the audit…";
  ui.progressBar.removeAttribute("value"); // indeterminate until the total is known
  ui.jobId.textContent = "";
  setRunning(true);
  try {
    const job = await callApi("/v1/audit", { method: "POST", body: form });
    ui.jobId.textContent = `job ${job.job}`;
    const url = job.url || `/v1/audit/${job.job}`;
    let wait = 400;
    for (;;) {
      const status = await callApi(url);
      if (mine !== run) return;
      showProgress(status);
      if (status.status === "done") {
        render(status);
        break;
      }
      if (status.status === "failed") {
        ui.error.textContent = `The audit failed: ${status.error || "no reason given"}`;
        ui.progressText.textContent = "The audit failed.";
        if ((status.rejects || []).length) render(status);
        break;
      }
      await sleep(wait);
      wait = Math.min(wait * 1.5, 2000);
    }
  } catch (err) {
    if (mine !== run) return;
    ui.error.textContent = describeError(err);
    ui.progressBox.hidden = true;
  } finally {
    if (mine === run) setRunning(false);
  }
}

function showProgress(s) {
  const p = s.progress || {};
  const total = Number(p.total) || 0;
  const done = Math.min(Number(p.done) || 0, total);
  if (total > 0) {
    ui.progressBar.max = total;
    ui.progressBar.value = done;
  } else if (s.status === "done") {
    ui.progressBar.max = 1;
    ui.progressBar.value = 1;
  }
  const counts = total > 0 ? `${done} of ${total} listings checked` : "";
  ui.progressText.textContent = {
    queued: "Queued, waiting for the server…",
    running: counts ? `Auditing: ${counts}…` : "Auditing…",
    done: counts ? `Done: ${counts}.` : "Done.",
    failed: "The audit failed.",
  }[s.status] || s.status;
}

// ------------------------------------------------------------------ stated vs seen
const list = (xs) => (xs || []).map((x) => String(x).replace(/-/g, " ")).join(", ");

function statedSeen(f) {
  const ev = f.evidence || {};
  switch (f.check) {
    case "category_mismatch":
      return [ev.stated, ev.p_seen != null ? `${ev.seen} (${percent(ev.p_seen)})` : ev.seen];
    case "colour_mismatch":
      return [ev.stated, (ev.seen || []).map((c) => (typeof c === "string" ? c : `${String(c.name).replace(/-/g, " ")} ${percent(c.share)}`)).join(", ")];
    case "title_mismatch":
      return ev.field === "colour"
        ? [ev.stated, `title says ${list(ev.title_colours)}`]
        : [ev.stated, `title says ${list(ev.title_nodes)}`];
    case "label_issue":
      return [ev.given, ev.p_suggested != null ? `${ev.suggested} (${percent(ev.p_suggested)})` : ev.suggested];
    case "near_duplicate": {
      const how = ev.pixel_ncc != null ? `pixel match ${Number(ev.pixel_ncc).toFixed(3)}`
        : ev.identical ? "identical file" : `similarity ${ev.similarity}`;
      return ["a listing of its own", `copy of ${ev.other} (${how})`];
    }
    default:
      return [ev.stated, typeof ev.seen === "string" ? ev.seen : ""];
  }
}

function row(f) {
  const [stated, seen] = statedSeen(f);
  const score = Math.max(0, Math.min(1, Number(f.score) || 0));
  const thumb = f.thumb_url
    ? el("img", { src: f.thumb_url, alt: `Photo of ${f.id}`, loading: "lazy", width: 64, height: 64 })
    : el("span", { class: "nothumb", "aria-hidden": "true" });
  return el("tr", { dataset: { testid: "finding", id: f.id, check: f.check } },
    el("td", { class: "f-thumb" }, thumb),
    el("td", { class: "f-id", "data-label": "Listing" }, f.id),
    el("td", { "data-label": "Check" },
      el("span", { class: `check check-${f.check}` }, CHECK_NAMES[f.check] || f.check)),
    el("td", { class: "f-score", "data-label": "Score" },
      el("span", { class: "bar", "aria-hidden": "true" }, el("span", { style: `width:${(score * 100).toFixed(0)}%` })),
      score.toFixed(2)),
    el("td", { class: "f-stated", "data-label": "Stated" }, stated == null ? "—" : String(stated)),
    el("td", { class: "f-stated", "data-label": "Seen" }, seen ? String(seen) : "—"),
    el("td", { class: "f-reason", "data-label": "Reason" }, f.reason || ""));
}

function render(s) {
  const findings = s.findings || [];
  ui.findingsBox.hidden = false;
  if (findings.length) {
    const table = el("table", { class: "findings" },
      el("caption", { class: "visually-hidden" }, "Audit findings, highest score first"),
      el("thead", {}, el("tr", {}, ["Photo", "Listing", "Check", "Score", "Stated", "Seen", "Reason"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, findings.map(row)));
    ui.findings.replaceChildren(table);
  } else {
    ui.findings.replaceChildren(el("p", { class: "empty-state" }, "No findings: every listing agrees with its photo."));
  }
  const checks = new Set(findings.map((f) => f.check)).size;
  ui.note.textContent = findings.length
    ? `${findings.length} finding${findings.length === 1 ? "" : "s"} across ${checks} check${checks === 1 ? "" : "s"}, highest score first.`
    : "";
  if (s.report_url && s.status === "done") {
    ui.report.href = s.report_url;
    ui.report.hidden = false;
  } else {
    ui.report.hidden = true;
  }
  const rejects = s.rejects || [];
  ui.rejectsBox.hidden = !rejects.length;
  ui.rejects.replaceChildren(...rejects.map((r) => el("li", {}, `row ${r.row}: ${r.reason}`)));
}

ui.demo.addEventListener("click", () => start(new FormData()));
ui.form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const file = ui.file.files && ui.file.files[0];
  if (!file) {
    ui.error.textContent = "Choose a catalog file first (CSV, JSONL or ZIP).";
    ui.file.focus();
    return;
  }
  const form = new FormData();
  form.append("catalog", file, file.name);
  start(form);
});

document.documentElement.dataset.ready = "true"; // every handler is in place (tests wait for it)
