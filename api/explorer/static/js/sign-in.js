// The sign-in form: an "API key" field, opened when the API answers 401 (unauthenticated) or from the
// header's Key button to change or forget the key. A key is tried (GET /v1/cubes) before it is kept, so a
// wrong one shows the server's message and the form asks again.

import { ApiError, getJson } from "./api.js";
import { forgetKey, rememberKey, storedKey } from "./api-key.js";
import { describeError } from "./messages.js";

/**
 * Open the form; ``refusal`` is the 401 that made the explorer ask. Resolves to "signed-in" (a key was
 * accepted and kept), "forgotten" (the key was cleared) or null (closed, nothing changed).
 */
export function openKeyDialog(dialog, refusal = null) {
  const $ = (selector) => dialog.querySelector(selector);
  const input = $("#key-input");
  const showError = (text) => {
    $("#key-error").textContent = text;
    $("#key-error").hidden = !text;
  };
  const hadKey = Boolean(storedKey());
  if (refusal && hadKey) forgetKey(); // the server refused the kept key: it must not be sent again
  $("#key-reason").textContent = !refusal
    ? "The key is kept in this tab only, and sent with every request."
    : hadKey
      ? "The server refused this tab's key."
      : "This server needs an API key.";
  showError(refusal && hadKey ? refusal.message : "");
  $("#key-forget").hidden = !storedKey();
  input.value = "";
  dialog.showModal();
  input.focus();

  return new Promise((resolve) => {
    let outcome = null;
    const form = $("#key-form");
    form.onsubmit = async (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return showError("Enter a key.");
      $("#key-submit").disabled = true;
      try {
        await getJson("v1/cubes", {}, { key });
        rememberKey(key);
        outcome = "signed-in";
        dialog.close();
      } catch (error) {
        showError(error instanceof ApiError && error.status === 401 ? error.message : describeError(error));
        input.select();
      } finally {
        $("#key-submit").disabled = false;
      }
    };
    $("#key-forget").onclick = () => {
      forgetKey();
      outcome = "forgotten";
      dialog.close();
    };
    $("#key-cancel").onclick = () => dialog.close();
    dialog.onclose = () => {
      form.onsubmit = null;
      dialog.onclose = null;
      resolve(outcome);
    };
  });
}
