// Calls to /v1, with the tab's API key (X-API-Key) when it has one. Every failure becomes an ApiError whose
// message a person can read: the server's error envelope ({"error": {"code", "message", "details",
// "request_id"}}), or what went wrong on the way.

import { storedKey } from "./api-key.js";

const ROOT = new URL(".", document.baseURI); // the page is served at the application's root

export class ApiError extends Error {
  constructor(message, { code = "error", status = 0, requestId = "", details = {} } = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.requestId = requestId;
    this.details = details;
  }
}

/** An absolute URL under the app's root; array values become repeated parameters, empty ones are left out. */
export function apiUrl(path, params = {}) {
  const url = new URL(path, ROOT);
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined && item !== "") url.searchParams.append(name, String(item));
    }
  }
  return url.toString();
}

export function cubePath(cube, operation) {
  return `v1/cubes/${encodeURIComponent(cube)}${operation ? "/" + operation : ""}`;
}

/** fetch with the key; ``key`` overrides the tab's (a key tried before it is kept). */
async function send(url, { signal, method = "GET", headers = {}, body, key = storedKey() } = {}) {
  try {
    return await fetch(url, { method, signal, body, headers: key ? { ...headers, "X-API-Key": key } : headers });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("The server could not be reached. Is it still running?", { code: "network" });
  }
}

export async function getJson(path, params = {}, { signal, key } = {}) {
  return readAnswer(await send(apiUrl(path, params), { signal, key, headers: { Accept: "application/json" } }));
}

/** A file (an export, an explain page) as {blob, disposition}: the Content-Disposition header names it. */
export async function fetchFile(url) {
  const response = await send(url);
  if (!response.ok) return readAnswer(response); // throws the server's error
  return { blob: await response.blob(), disposition: response.headers.get("Content-Disposition") || "" };
}

async function readAnswer(response) {
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!response.ok) {
    const envelope = body && body.error && typeof body.error === "object" ? body.error : null;
    const message = envelope ? envelope.message : `The server answered ${response.status} ${response.statusText}.`;
    throw new ApiError(message, {
      code: envelope ? envelope.code : "http_" + response.status,
      status: response.status,
      requestId: envelope ? envelope.request_id : response.headers.get("X-Request-ID") || "",
      details: envelope ? envelope.details : {},
    });
  }
  if (body === null) throw new ApiError("The server's answer was not JSON.", { code: "bad_answer", status: response.status });
  return body;
}

// Beyond this a query goes as a JSON body to POST …/query (long member sets), whose answers are the GETs'.
const LONGEST_GET = 6000;

/** A data operation (pivot, aggregate, members, …) as GET, or POST …/query when its URL would be long. */
export async function runOperation(cube, operation, params, { signal } = {}) {
  const path = cubePath(cube, operation);
  if (apiUrl(path, params).length <= LONGEST_GET) return getJson(path, params, { signal });
  const body = { operation };
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) continue;
    body[name === "calc" ? "calculations" : name] = value;
  }
  const response = await send(apiUrl(cubePath(cube, "query")), {
    method: "POST",
    signal,
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return readAnswer(response);
}
