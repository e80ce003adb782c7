// Shared helpers of the UI's pages: formatting (as gateway/ui/format.py does) and the run event stream.
// Text always goes in through textContent: nothing from the API is parsed as HTML.

export const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const END_FIELD = { completed: "completed_at", failed: "failed_at", cancelled: "cancelled_at" };

export function timestamp(value) {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "—";
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}

export function duration(seconds) {
  if (seconds == null || seconds < 0 || Number.isNaN(seconds)) return "—";
  const total = Math.floor(seconds);
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  if (h) return `${h}h ${two(m)}m`;
  if (m) return `${m}m ${two(s)}s`;
  return `${s}s`;
}

export function runDuration(run) {
  const start = run.started_at || run.submitted_at;
  if (!start) return "—";
  const endField = END_FIELD[run.status];
  const end = endField && run[endField] ? new Date(run[endField]) : new Date();
  return duration((end - new Date(start)) / 1000);
}

export function bytes(n) {
  if (n == null) return "—";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0, v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return i === 0 ? `${v} Bytes` : `${v.toFixed(1)} ${units[i]}`;
}

export function setStatus(el, status) {
  el.textContent = status;
  el.className = el.className.replace(/\bstatus-\w+/g, "").trim() + ` status-${status}`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "text") node.textContent = v; else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) node.append(c);
  return node;
}

// GET /api/runs/{id}/events: `status` (the run), `progress` (task counts), then `done`. The browser's own
// reconnect sends Last-Event-ID, so a dropped connection resumes without a gap.
export function watchRun(runId, { onStatus, onProgress, onDone }) {
  const source = new EventSource(`/api/runs/${encodeURIComponent(runId)}/events`);
  source.addEventListener("status", (e) => onStatus && onStatus(JSON.parse(e.data)));
  source.addEventListener("progress", (e) => onProgress && onProgress(JSON.parse(e.data)));
  source.addEventListener("done", () => { source.close(); onDone && onDone(); });
  source.addEventListener("error", (e) => {
    if (e.data) { source.close(); onDone && onDone(JSON.parse(e.data)); }  // the stream's own `error` event
  });
  return source;
}
