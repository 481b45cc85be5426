// The message line under the top bar: errors (the server's message, its code and request id), warnings
// (a link naming what the cube lacks) and notes. One at a time; dismissable.

import { ApiError } from "./api.js";
import { element } from "./dom.js";

const box = () => document.getElementById("message");

export function showMessage(text, kind = "error") {
  const target = box();
  const close = element("button", { type: "button", className: "chip-remove", "aria-label": "Dismiss message", text: "×" });
  close.addEventListener("click", () => {
    target.hidden = true;
  });
  target.replaceChildren(document.createTextNode(text), close);
  target.className = `message ${kind}`;
  target.dataset.kind = kind;
  target.hidden = false;
}

export function clearMessage(kind = null) {
  const target = box();
  if (kind === null || target.dataset.kind === kind) target.hidden = true;
}

/** "cube 'x' has no dimension 'tiem' (unknown_dimension, request 3f2a…)": what went wrong, and how to trace it. */
export function describeError(error) {
  if (error instanceof ApiError) {
    const reference = error.requestId ? `, request ${error.requestId.slice(0, 12)}` : "";
    return `${error.message} (${error.code}${reference})`;
  }
  return error && error.message ? error.message : String(error);
}
