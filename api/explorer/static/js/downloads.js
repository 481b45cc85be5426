// Links to API URLs (the CSV and Excel exports, the explain link) cannot carry the API key. With a key, a
// click on one fetches it with the key instead and hands the browser a Blob URL: a download keeps the name
// the server gave (Content-Disposition), a link meant for a new tab opens the fetched page there. Without
// a key the links are followed as they are.

import { apiUrl, fetchFile } from "./api.js";
import { storedKey } from "./api-key.js";

const API_ROOT = apiUrl("v1/");
const KEEP_BLOB_MS = 60_000; // long enough for the browser to start the download or open the tab

/** The file name of a Content-Disposition header: RFC 5987's ``filename*`` first, then ``filename``. */
export function filenameOf(disposition, fallback) {
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition);
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // a malformed escape: the plain name below
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/i.exec(disposition);
  const name = plain ? (plain[1] ?? plain[2]).trim() : "";
  return name || fallback;
}

/** Follow clicks on API links under ``root`` with the key; ``onFailure(error)`` when one cannot be fetched. */
export function fetchApiLinksWithKey(root, onFailure) {
  root.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || event.button !== 0 || !link.href.startsWith(API_ROOT) || !storedKey()) return;
    event.preventDefault();
    const follow = link.hasAttribute("download") ? saveLink(link) : openLink(link);
    link.setAttribute("aria-busy", "true");
    follow.catch(onFailure).finally(() => link.removeAttribute("aria-busy"));
  });
}

async function saveLink(link) {
  const { blob, disposition } = await fetchFile(link.href);
  const fallback = link.getAttribute("download") || new URL(link.href).pathname.split("/").pop();
  saveBlob(blob, filenameOf(disposition, fallback));
}

function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = filename;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), KEEP_BLOB_MS);
}

async function openLink(link) {
  // The tab is opened now, while the click still counts as the person's: after the fetch it would be a
  // blocked pop-up. It starts blank and is sent to the fetched page.
  const tab = window.open("", "_blank");
  try {
    const { blob, disposition } = await fetchFile(link.href);
    if (!tab) return saveBlob(blob, filenameOf(disposition, "answer.json"));
    const url = URL.createObjectURL(blob);
    tab.opener = null;
    tab.location.href = url;
    setTimeout(() => URL.revokeObjectURL(url), KEEP_BLOB_MS);
  } catch (error) {
    if (tab) tab.close();
    throw error;
  }
}
