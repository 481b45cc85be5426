// The API key this tab sends as X-API-Key. It is kept in sessionStorage: it lives as long as the tab (a
// reload keeps it, closing the tab forgets it), never in localStorage, which would outlive the tab, and never
// in the URL, which is shared. Where storage is refused (a privacy setting), it lives until the page unloads.

const STORAGE_NAME = "cube-explorer.api-key";
let unstored = "";

export function storedKey() {
  try {
    return sessionStorage.getItem(STORAGE_NAME) || "";
  } catch {
    return unstored;
  }
}

export function rememberKey(key) {
  try {
    sessionStorage.setItem(STORAGE_NAME, key);
  } catch {
    unstored = key;
  }
}

export function forgetKey() {
  unstored = "";
  try {
    sessionStorage.removeItem(STORAGE_NAME);
  } catch {
    // nothing was stored
  }
}
