// Shared by the two pages: JSON calls to the fashionlens API, readable error messages and a
// tiny DOM helper. Server text is only ever put into the page with textContent.

/** An API call that failed: HTTP status (0 = no answer), error code and server message. */
export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiFailure";
    this.status = status;
    this.code = code;
  }
}

/** fetch() a JSON endpoint; throws ApiFailure with the server's `{"error": {...}}` on 4xx/5xx. */
export async function callApi(url, options = {}) {
  let res;
  try {
    res = await fetch(url, { headers: { Accept: "application/json" }, ...options });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiFailure(0, "network", "the server could not be reached");
  }
  let body = null;
  if ((res.headers.get("content-type") || "").includes("json")) {
    body = await res.json().catch(() => null);
  }
  if (!res.ok) {
    const e = (body && body.error) || {};
    throw new ApiFailure(res.status, e.code || `http_${res.status}`,
      e.message || res.statusText || "no details given");
  }
  return body;
}

const sentence = (text) => {
  const t = String(text || "").trim();
  if (!t) return "";
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
};

/** One readable sentence (or two) for a failed call, for a role="alert" element. */
export function describeError(err) {
  if (!(err instanceof ApiFailure)) {
    return `Something went wrong in the page: ${err && err.message ? err.message : err}`;
  }
  const detail = sentence(err.message);
  switch (err.status) {
    case 0:
      return "The fashionlens server could not be reached. Check that it is still running, then try again.";
    case 400:
      return `The photo could not be used. ${detail}`;
    case 413:
      return `This photo is too large to analyse. ${detail} Try a smaller photo.`;
    case 415:
      return `This file is not a photo fashionlens can read. ${detail} Choose a JPEG, PNG or WebP photo.`;
    case 422:
      return err.code === "invalid_request"
        ? `The request was not accepted. ${detail}`
        : `The photo could not be read. ${detail}`;
    case 503:
      return `The server is busy or not ready. ${detail} Please try again in a moment.`;
    default:
      return `Something went wrong (error ${err.status}). ${detail}`;
  }
}

/**
 * el("li", {class: "chip", dataset: {testid: "x"}}, "text", childNode) → a DOM element.
 * Attributes set with setAttribute; `text` children become text nodes (never HTML).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const percent = (p) => `${Math.round(Number(p) * 100)}%`;

/** "light-blue" → "light blue" (the API may also send a ready `display` name). */
export const colourName = (c) => (c && (c.display || String(c.name || "").replace(/-/g, " "))) || "";
