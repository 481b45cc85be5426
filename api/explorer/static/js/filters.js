// Filters: the cuts of the view as chips, and the dialog that makes one, by choosing members of a level
// (searched on the server, from the members endpoint) or, on a time dimension, a range between two.

import { cubePath, getJson } from "./api.js";
import { parseCut, pointCut, rangeCut, setCut } from "./cuts.js";
import { element } from "./dom.js";

const SEARCH_LIMIT = 100;
const RANGE_LIMIT = 2000;

/** A members row as {path, keys, labels, text}: the keys from the top of the hierarchy to ``levels``' last. */
export function memberOf(model, dimension, hierarchy, levels, row) {
  const keys = levels.map((level) => row[`${dimension}.${level.name}`] ?? null);
  const labels = levels.map((level, index) => row[`${dimension}.${level.name}.label`] ?? keys[index]);
  return { path: keys, keys, labels, text: model.memberText(dimension, hierarchy, keys, labels) };
}

/** Fetch members of a level: {members, total}. */
export async function fetchMembers(model, dimension, hierarchy, level, { search = "", limit = SEARCH_LIMIT, cut = [] } = {}) {
  const levels = model.levelsOf(dimension, hierarchy);
  const depth = levels.findIndex((item) => item.name === level);
  const answer = await getJson(cubePath(model.name, `members/${encodeURIComponent(dimension)}`), {
    level,
    hierarchy,
    search: search || null,
    limit,
    cut,
  });
  return {
    members: answer.rows.map((row) => memberOf(model, dimension, hierarchy, levels.slice(0, depth + 1), row)),
    total: answer.total_count,
  };
}

/**
 * How a cut reads: "Product: Data Services", "Time: Jan 2025 – Mar 2025", "not Channel: Web portal".
 * ``labelsOf(cut)`` resolves members to text where it can (else the keys are shown).
 */
export function describeCut(model, text, memberTexts) {
  let cut;
  try {
    cut = parseCut(text);
  } catch {
    return text;
  }
  const name = model.dimensionLabel(cut.dimension);
  const show = (path) => (path ? memberTexts.get(JSON.stringify(path.map((key) => String(key ?? "")))) || path.join(", ") : "…");
  let value;
  if (cut.kind === "point") value = show(cut.path);
  else if (cut.kind === "set") value = cut.paths.map(show).join("; ");
  else value = `${show(cut.from)} – ${show(cut.to)}`;
  return `${cut.invert ? "not " : ""}${name}: ${value}`;
}

/**
 * Look the members of cuts up (one members request per cut), so chips and breadcrumbs show labels even for a
 * view opened from a link. Adds to ``memberTexts`` (keyed by the JSON of the path's keys as text).
 */
export async function resolveCutLabels(model, cuts, memberTexts) {
  await Promise.all(
    cuts.map(async (text) => {
      let cut;
      try {
        cut = parseCut(text);
      } catch {
        return;
      }
      const paths = cut.kind === "point" ? [cut.path] : cut.kind === "set" ? cut.paths : [cut.from, cut.to].filter(Boolean);
      const depth = Math.max(...paths.map((path) => path.length));
      const levels = model.levelsOf(cut.dimension, cut.hierarchy);
      if (!levels.length || depth < 1 || depth > levels.length) return;
      const positive = text.replace(/^!/, "");
      for (const path of paths) {
        const level = levels[path.length - 1].name;
        const pathCut = cut.kind === "range" ? pointCut(cut.dimension, cut.hierarchy, path) : positive;
        try {
          const { members } = await fetchMembers(model, cut.dimension, cut.hierarchy, level, { cut: [pathCut], limit: 50 });
          for (const member of members) memberTexts.set(JSON.stringify(member.keys.map((key) => String(key ?? ""))), member.text);
        } catch {
          // a label is a nicety: the chip shows the keys instead
        }
        if (cut.kind !== "range") break; // a point or set cut's members come back in one request
      }
    }),
  );
}

export function renderFilterChips(list, model, state, memberTexts, onRemove) {
  const chips = state.cuts.map((cut, index) => {
    const text = describeCut(model, cut, memberTexts);
    const remove = element("button", { type: "button", className: "chip-remove", "aria-label": `Remove filter ${text}`, text: "×" });
    remove.addEventListener("click", () => onRemove(index));
    return element("li", { className: "chip filter", title: cut }, element("span", { text }), remove);
  });
  if (!chips.length) chips.push(element("li", { className: "axis-empty", text: "No filters: use a level's filter button" }));
  list.replaceChildren(...chips);
}

/**
 * The filter dialog for ``entry``'s dimension; resolves to a cut string, or null when cancelled.
 */
export function openFilterDialog(dialog, model, entry, memberTexts) {
  const $ = (selector) => dialog.querySelector(selector);
  const levels = model.levelsOf(entry.dimension, entry.hierarchy);
  const isTime = model.isTime(entry.dimension);
  const chosen = new Map(); // JSON of path -> member
  let level = entry.level;
  let mode = "members";
  let searchTimer = null;
  let generation = 0;

  $("#filter-title").textContent = `Filter by ${model.dimensionLabel(entry.dimension)}`;
  $("#filter-level").replaceChildren(...levels.map((item) => element("option", { value: item.name, selected: item.name === level, text: item.label })));
  $("#filter-mode").hidden = !isTime;
  dialog.querySelector('input[name="filter-mode"][value="members"]').checked = true;
  $("#filter-members").hidden = false;
  $("#filter-range").hidden = true;
  $("#filter-exclude").checked = false;
  $("#filter-search").value = "";

  const showCount = (text) => {
    $("#filter-count").textContent = text;
  };
  const renderOptions = (members, total) => {
    const items = members.map((member) => {
      const key = JSON.stringify(member.path);
      const box = element("input", { type: "checkbox", checked: chosen.has(key) });
      box.addEventListener("change", () => {
        if (box.checked) chosen.set(key, member);
        else chosen.delete(key);
        showCount(`${chosen.size} chosen`);
      });
      return element("li", {}, element("label", { title: member.labels.join(" › ") }, box, ` ${member.text}`));
    });
    $("#filter-options").replaceChildren(...items);
    const more = total > members.length ? ` · ${members.length} of ${total} shown: search to narrow` : "";
    showCount(`${chosen.size} chosen${more}`);
  };
  const loadMembers = async () => {
    const mine = ++generation;
    showCount("Loading…");
    try {
      const { members, total } = await fetchMembers(model, entry.dimension, entry.hierarchy, level, { search: $("#filter-search").value.trim() });
      if (mine === generation) renderOptions(members, total);
    } catch (error) {
      if (mine === generation) showCount(`Could not list members: ${error.message}`);
    }
  };
  const loadRange = async () => {
    const mine = ++generation;
    try {
      const { members } = await fetchMembers(model, entry.dimension, entry.hierarchy, level, { limit: RANGE_LIMIT });
      if (mine !== generation) return;
      const options = () => members.map((member, index) => element("option", { value: index, text: member.text }));
      $("#filter-from").replaceChildren(...options());
      $("#filter-to").replaceChildren(...options());
      $("#filter-to").value = String(Math.max(0, members.length - 1));
      $("#filter-range").members = members;
    } catch (error) {
      showCount(`Could not list members: ${error.message}`);
    }
  };
  const reload = () => (mode === "range" ? loadRange() : loadMembers());

  $("#filter-level").onchange = () => {
    level = $("#filter-level").value;
    chosen.clear();
    reload();
  };
  $("#filter-search").oninput = () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(loadMembers, 200);
  };
  for (const radio of dialog.querySelectorAll('input[name="filter-mode"]')) {
    radio.onchange = () => {
      mode = radio.value;
      $("#filter-members").hidden = mode !== "members";
      $("#filter-range").hidden = mode !== "range";
      reload();
    };
  }
  reload();
  dialog.returnValue = ""; // Escape closes without touching it: a previous "apply" must not linger
  dialog.showModal();
  $("#filter-search").focus();

  return new Promise((resolve) => {
    const finish = (value) => {
      dialog.onclose = null;
      $("#filter-cancel").onclick = null;
      resolve(value);
    };
    $("#filter-cancel").onclick = () => dialog.close("cancel");
    dialog.onclose = () => {
      if (dialog.returnValue !== "apply") return finish(null);
      const invert = $("#filter-exclude").checked;
      if (mode === "range") {
        const members = $("#filter-range").members || [];
        let from = members[Number($("#filter-from").value)];
        let to = members[Number($("#filter-to").value)];
        if (!from || !to) return finish(null);
        if (Number($("#filter-from").value) > Number($("#filter-to").value)) [from, to] = [to, from];
        memberTexts.set(JSON.stringify(from.keys.map((key) => String(key ?? ""))), from.text);
        memberTexts.set(JSON.stringify(to.keys.map((key) => String(key ?? ""))), to.text);
        return finish(rangeCut(entry.dimension, entry.hierarchy, from.path, to.path, invert));
      }
      if (!chosen.size) return finish(null);
      for (const member of chosen.values()) memberTexts.set(JSON.stringify(member.keys.map((key) => String(key ?? ""))), member.text);
      return finish(setCut(entry.dimension, entry.hierarchy, [...chosen.values()].map((member) => member.path), invert));
    };
  });
}
