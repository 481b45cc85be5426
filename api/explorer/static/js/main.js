// The explorer's controller: the state lives in the URL; every change pushes a history entry, re-renders
// the controls, and runs the query when what the server is asked changed (sorting, paging and the chart's
// measure only re-draw). Failures become a readable message; the page never goes blank. A 401 opens the
// sign-in form; a key accepted there (or forgotten) connects afresh, since the key decides what is readable.

import { ApiError, cubePath, getJson } from "./api.js";
import { storedKey } from "./api-key.js";
import { placeEntry, renderAxes } from "./axes.js";
import { renderBreadcrumbs } from "./breadcrumbs.js";
import { chartSpec, renderChart } from "./chart-view.js";
import { pointCut } from "./cuts.js";
import { element } from "./dom.js";
import { fetchApiLinksWithKey } from "./downloads.js";
import { renderCalculations, renderDimensions, renderMeasures } from "./fields.js";
import { openFilterDialog, renderFilterChips, resolveCutLabels } from "./filters.js";
import { columnLabel } from "./format.js";
import { clearMessage, describeError, showMessage } from "./messages.js";
import { CubeModel, formatLevelRef } from "./model.js";
import { exportLinks, explainUrl, fetchGrid } from "./query.js";
import { openKeyDialog } from "./sign-in.js";
import { cloneState, emptyState, formatState, parseState, querySignature } from "./state.js";
import { renderPager, renderTable } from "./table.js";

document.documentElement.dataset.explorer = "started"; // the page's fallback message stays hidden
const $ = (id) => document.getElementById(id);
const app = {
  cubes: [],
  model: null,
  state: emptyState(),
  result: null, // {signature, grid, calcMeta}
  controller: null,
  memberTexts: new Map(), // JSON of a member path's keys (as text) -> how it reads
  renders: 0,
  wired: false, // the controls' listeners, added once the first cube list came
  signingIn: null, // the open sign-in form's promise
};

// ---- progress -------------------------------------------------------------------------------------
function settle(state) {
  document.body.dataset.state = state;
  app.renders += 1;
  document.body.dataset.renderCount = String(app.renders);
}

window.addEventListener("error", (event) => showMessage(`Something went wrong in the explorer: ${event.message}`));
window.addEventListener("unhandledrejection", (event) => {
  showMessage(`Something went wrong in the explorer: ${describeError(event.reason)}`);
  settle("error");
});

// ---- state ----------------------------------------------------------------------------------------
function defaultState(model) {
  const state = emptyState(model.name);
  const time = model.dimensions.find((dimension) => dimension.role === "time");
  const other = model.dimensions.find((dimension) => dimension.role !== "time");
  const top = (dimension) => ({ dimension: dimension.name, hierarchy: null, level: model.levelsOf(dimension.name, null)[0].name });
  if (other) state.rows = [top(other)];
  if (time) state.columns = [top(time)];
  state.measures = model.measures.length ? [model.measures[0].name] : [];
  return state;
}

/** Keep what the model knows; say what a link named that it does not. */
function checkState(model, state) {
  const dropped = [];
  for (const axis of ["rows", "columns"]) {
    const kept = [];
    for (const entry of state[axis]) {
      const valid = model.validEntry(entry);
      if (valid && !kept.some((item) => item.dimension === valid.dimension)) kept.push(valid);
      else dropped.push(formatLevelRef(entry));
    }
    state[axis] = kept;
  }
  state.measures = state.measures.filter((name) => model.measure(name) || (dropped.push(name), false));
  state.drills = state.drills.filter((drill) => model.dimension(drill.dimension) || (dropped.push(drill.dimension), false));
  if (!state.measures.length && model.measures.length) state.measures = [model.measures[0].name];
  if (dropped.length) showMessage(`This cube has no ${dropped.join(", ")}; left out of the view.`, "warning");
  return state;
}

function apply(change) {
  if (!app.model) return; // between keys: no view to change
  const before = querySignature(app.state);
  const next = cloneState(app.state);
  change(next);
  if (querySignature(next) !== before) {
    next.page = 1;
    next.cpage = 1;
  }
  app.state = next;
  history.pushState(null, "", `${location.pathname}?${formatState(next)}`);
  render();
}

// ---- queries --------------------------------------------------------------------------------------
async function runQuery(signature) {
  if (app.controller) app.controller.abort();
  const controller = new AbortController();
  app.controller = controller;
  document.body.dataset.state = "loading";
  $("status").textContent = "Running…";
  try {
    const { grid, calcMeta } = await fetchGrid(app.model, app.state, controller.signal);
    if (controller.signal.aborted) return;
    app.result = { signature, grid, calcMeta };
    clearMessage("error"); // the view the error was about is gone
    renderResults();
    settle("ready");
  } catch (error) {
    if (error.name === "AbortError" || controller.signal.aborted) return;
    app.result = null;
    showFailure(error);
    settle("error");
    if (isUnauthenticated(error)) signIn(error);
  }
}

function showFailure(error) {
  const text = describeError(error);
  showMessage(`This view could not be computed: ${text}`);
  const panel = element("div", { className: "table-error" }, element("p", { text: `No table: ${text}` }));
  // Ways out, so an error is never a dead end.
  const way = (label, onClick) => {
    const button = element("button", { type: "button", className: "button small", text: label });
    button.addEventListener("click", onClick);
    panel.append(button, " ");
  };
  if (app.state.calcs.length) way("Remove the calculations", () => apply((next) => { next.calcs = []; }));
  if (history.length > 1) way("Back to the previous view", () => history.back());
  way("Start over", () => openView(emptyState(app.state.cube), true));
  $("table-scroll").replaceChildren(panel);
  $("pager").replaceChildren();
  $("status").textContent = "The query failed.";
  $("chart-measure").replaceChildren();
  $("chart-note").textContent = "";
  renderChart($("chart"), app.model, null, null, null);
}

// ---- rendering ------------------------------------------------------------------------------------
function render() {
  const { model, state } = app;
  $("cube-select").value = state.cube;
  renderMeasures($("measure-list"), model, state, (name, checked) =>
    apply((next) => {
      next.measures = checked ? [...next.measures.filter((item) => item !== name), name] : next.measures.filter((item) => item !== name);
      next.measures = model.measures.map((item) => item.name).filter((item) => next.measures.includes(item));
      if (!next.measures.length) next.measures = [name]; // at least one measure: un-ticking the last keeps it
    }),
  );
  renderDimensions($("dimension-list"), model, state, {
    onPlace: (entry, axis) => apply((next) => moveEntry(next, { entry, from: null, to: { axis, index: next[axis].length } })),
    onFilter: (entry) => addFilter(entry),
  });
  renderAxes({ rows: $("rows-axis"), columns: $("columns-axis") }, model, state, {
    onMove: (move) => apply((next) => moveEntry(next, move)),
    onRemove: (axis, index) => apply((next) => next[axis].splice(index, 1)),
  });
  renderFilterChips($("filter-list"), model, state, app.memberTexts, (index) => apply((next) => next.cuts.splice(index, 1)));
  renderBreadcrumbs($("breadcrumbs"), model, state, app.memberTexts, {
    onRollUp: (dimension, path) =>
      apply((next) => {
        next.drills = next.drills.filter((drill) => drill.dimension !== dimension || path);
        for (const drill of next.drills) if (drill.dimension === dimension) drill.path = path;
      }),
  });
  renderCalculations($("calc-form"), $("calc-list"), model, state, {
    onAdd: (calc) => apply((next) => {
      if (!next.calcs.includes(calc)) next.calcs.push(calc);
    }),
    onRemove: (calc) => apply((next) => {
      next.calcs = next.calcs.filter((item) => item !== calc);
    }),
  });
  updateExports();
  const signature = querySignature(state);
  if (app.result && app.result.signature === signature) {
    renderResults();
    settle("ready");
  } else {
    runQuery(signature);
  }
}

function moveEntry(state, move) {
  // A level chosen afresh for a dimension starts that dimension over: its drill is undone.
  if (!move.from) state.drills = state.drills.filter((drill) => drill.dimension !== move.entry.dimension);
  const placed = placeEntry(state, move);
  state.rows = placed.rows;
  state.columns = placed.columns;
}

async function addFilter(entry) {
  const cut = await openFilterDialog($("filter-dialog"), app.model, entry, app.memberTexts);
  if (cut) apply((next) => next.cuts.push(cut));
}

function drillInto(member, text) {
  const { dimension, hierarchy } = member.entry;
  const path = member.keys.map((key) => (key === null || key === undefined ? null : String(key)));
  app.memberTexts.set(JSON.stringify(path.map((key) => key ?? "")), text);
  apply((next) => {
    next.drills = next.drills.filter((drill) => drill.dimension !== dimension);
    next.drills.push({ dimension, hierarchy, path });
  });
}

function renderResults() {
  const { model, state } = app;
  const { grid, calcMeta } = app.result;
  const info = renderTable($("table-scroll"), model, grid, state, {
    onSort: (sort) => apply((next) => {
      next.sort = sort;
      next.page = 1;
    }),
    onDrill: drillInto,
  });
  renderPager($("pager"), info, state, (change) => apply((next) => Object.assign(next, change)));
  renderChartPanel(grid, info);
  renderStatus(grid, calcMeta, info);
}

function renderChartPanel(grid, info) {
  const { model, state } = app;
  const select = $("chart-measure");
  const chosen = grid.valueNames.includes(state.chart) ? state.chart : grid.valueNames[0];
  select.replaceChildren(
    ...grid.valueNames.map((name) => element("option", { value: name, selected: name === chosen, text: columnLabel(model, name) })),
  );
  select.onchange = () => apply((next) => {
    next.chart = select.value;
  });
  const spec = chartSpec(model, grid, info.visibleRows, chosen);
  $("chart-note").textContent = spec && spec.note ? spec.note : "";
  const onPick = (index) => {
    if (spec && spec.rows) {
      const row = spec.rows[index];
      const member = row && row.members[row.members.length - 1];
      if (member && model.depthOf(member.entry) < model.levelsOf(member.entry.dimension, member.entry.hierarchy).length - 1) {
        drillInto(member, model.memberText(member.entry.dimension, member.entry.hierarchy, member.keys, member.labels));
      }
    }
  };
  try {
    renderChart($("chart"), model, spec, chosen, onPick);
  } catch (error) {
    $("chart-note").textContent = error.message;
  }
}

function renderStatus(grid, calcMeta, info) {
  const meta = grid.meta;
  const status = $("status");
  const source = element("a", {
    href: explainUrl(app.model, app.state), target: "_blank", rel: "noopener", className: "source",
    title: "the plan: why this source", text: meta.source,
  });
  const parts = [document.createTextNode("Answered from "), source, ` in ${Math.round(meta.elapsed_ms)} ms`];
  if (calcMeta) parts.push(` · calculations ${Math.round(calcMeta.elapsed_ms)} ms`);
  parts.push(` · ${info.rowCount} ${info.rowCount === 1 ? "row" : "rows"}`);
  status.replaceChildren(...parts);
  status.title = [
    `store version ${meta.version}`,
    ...(meta.sources ? Object.entries(meta.sources).map(([part, from]) => `${part}: ${from}`) : []),
    ...(calcMeta ? [`calculations: ${calcMeta.source}`] : []),
  ].join("\n");
  status.dataset.source = meta.source;
  status.dataset.elapsedMs = String(meta.elapsed_ms);
  status.dataset.version = meta.version;
}

function updateExports() {
  const links = exportLinks(app.model, app.state);
  for (const [id, href] of [["export-csv", links.csv], ["export-calc-csv", links.calcCsv], ["export-xlsx", links.xlsx]]) {
    const link = $(id);
    link.hidden = !href;
    if (href) link.href = href;
  }
}

// ---- the key ----------------------------------------------------------------------------------------
function isUnauthenticated(error) {
  return error instanceof ApiError && error.code === "unauthenticated";
}

/** Ask for a key (``refusal``: the 401 that made us ask); connect afresh when it changed. */
async function signIn(refusal = null) {
  if (app.signingIn) return app.signingIn;
  app.signingIn = openKeyDialog($("key-dialog"), refusal);
  const outcome = await app.signingIn;
  app.signingIn = null;
  showKeyState();
  if (!outcome) {
    if (refusal) {
      showMessage("This server answers only with an API key: use Key (top right) to sign in.", "warning");
      $("status").textContent = "Not signed in.";
    }
    return;
  }
  clearView(); // what the previous key could read is not left on the page under another
  if (outcome === "forgotten") showMessage("The key is forgotten: this tab sends none.", "info");
  await connect();
}

function clearView() {
  const emptied = ["cube-select", "measure-list", "dimension-list", "rows-axis", "columns-axis", "filter-list", "breadcrumbs",
    "calc-list", "table-scroll", "pager", "chart-measure"];
  for (const id of emptied) $(id).replaceChildren();
  $("chart-note").textContent = "";
  renderChart($("chart"), null, null, null, null);
}

function showKeyState() {
  const button = $("key-button");
  const signedIn = Boolean(storedKey());
  button.classList.toggle("signed-in", signedIn);
  button.title = signedIn ? "Signed in with an API key: change or forget it" : "Sign in with an API key";
}

// ---- start ----------------------------------------------------------------------------------------
async function loadCube(name) {
  app.model = new CubeModel(await getJson(cubePath(name)));
  app.result = null;
}

function start() {
  showKeyState();
  $("key-button").addEventListener("click", () => signIn());
  fetchApiLinksWithKey(document.body, (error) => {
    showMessage(`The download failed: ${describeError(error)}`);
    if (isUnauthenticated(error)) signIn(error);
  });
  connect();
}

/** List the cubes (what the key may read) and open the URL's view. */
async function connect() {
  if (app.controller) app.controller.abort();
  app.model = null;
  app.result = null;
  app.memberTexts.clear();
  try {
    app.cubes = await getJson("v1/cubes");
  } catch (error) {
    if (error instanceof ApiError && error.code === "not_ready") {
      // The server answers while it loads its project: ask again shortly.
      showMessage("The server is still loading its data; the explorer opens when it is ready.", "info");
      setTimeout(connect, 1000);
      return;
    }
    if (isUnauthenticated(error)) {
      clearMessage();
      $("status").textContent = "Signing in…";
      settle("sign-in");
      signIn(error);
      return;
    }
    showMessage(`The cubes could not be listed: ${describeError(error)}`);
    $("status").textContent = "Not connected.";
    settle("error");
    return;
  }
  const select = $("cube-select");
  select.replaceChildren(...app.cubes.map((cube) => element("option", { value: cube.name, text: cube.label || cube.name })));
  if (!app.cubes.length) {
    showMessage(storedKey() ? "This key may read no cube." : "This server has no cubes.", "warning");
    $("status").textContent = "No cubes.";
    settle("error");
    return;
  }
  if (!app.wired) wireControls();
  await openView(parseState(location.search), false, { replace: true });
}

function wireControls() {
  app.wired = true;
  const select = $("cube-select");
  select.addEventListener("change", () => openView(emptyState(select.value), true));
  $("copy-link").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      showMessage("Link copied: it opens this very view.", "info");
    } catch {
      showMessage(`Copy this link: ${location.href}`, "info");
    }
  });
  $("swap-axes").addEventListener("click", () => apply((next) => {
    [next.rows, next.columns] = [next.columns, next.rows];
    next.sort = null;
  }));
  window.addEventListener("popstate", () => openView(parseState(location.search), false, { fromHistory: true }));
}

/** Show ``state`` (from the URL, or a new cube's default view); push a history entry when asked. */
async function openView(state, push, { replace = false, fromHistory = false } = {}) {
  clearMessage();
  let wanted = state.cube || app.cubes[0].name;
  if (!app.cubes.some((cube) => cube.name === wanted)) {
    showMessage(`There is no cube named "${wanted}"; showing ${app.cubes[0].label || app.cubes[0].name}.`, "warning");
    wanted = app.cubes[0].name;
    state = emptyState(wanted);
  }
  try {
    if (!app.model || app.model.name !== wanted) await loadCube(wanted);
  } catch (error) {
    showMessage(`The model of ${wanted} could not be loaded: ${describeError(error)}`);
    settle("error");
    if (isUnauthenticated(error)) signIn(error);
    return;
  }
  // A link with no layout (a new cube, or only filters) gets the default layout, keeping what it had.
  const empty = !state.rows.length && !state.columns.length && !state.measures.length;
  const layout = empty ? defaultState(app.model) : state;
  const next = checkState(app.model, { ...state, cube: wanted, rows: layout.rows, columns: layout.columns, measures: layout.measures });
  await resolveCutLabels(app.model, [...next.cuts, ...next.drills.map((drill) => pointCut(drill.dimension, drill.hierarchy, drill.path))], app.memberTexts);
  app.state = next;
  const url = `${location.pathname}?${formatState(next)}`;
  if (push) history.pushState(null, "", url);
  else if (replace || !fromHistory) history.replaceState(null, "", url);
  render();
}

start();
