// The pivot table: column headers (one row per column level, then the measures), row headers (one
// column per row level), values formatted per measure, row/column/grand totals, sticky headers, sorting
// by any column, paging of rows (and of column members when there are many). A member is a button that
// drills into it.

import { columnLabel, formatterFor } from "./format.js";
import { integralValues, pageOf, sortedRows } from "./grid.js";
import { element } from "./dom.js";

export const COLUMN_PAGE = 40;

/** What a member reads as: labels with time members' ancestors ("2025 Q1"). */
export function memberText(model, member) {
  return model.memberText(member.entry.dimension, member.entry.hierarchy, member.keys, member.labels);
}

/** Row headers sort by text, time members by their keys (so February follows January). */
export function memberSortValue(model, member) {
  if (model.isTime(member.entry.dimension)) return member.keys.map((key) => String(key).padStart(12, "0")).join("|");
  return memberText(model, member);
}

function isDrillable(model, entry) {
  const depth = model.depthOf(entry);
  return depth >= 0 && depth < model.levelsOf(entry.dimension, entry.hierarchy).length - 1;
}

function memberCell(model, member, tag, attributes, onDrill) {
  const text = memberText(model, member);
  const path = member.labels.map((label, index) => label ?? member.keys[index] ?? "(none)").join(" › ");
  const cell = element(tag, { ...attributes, title: path });
  if (onDrill && isDrillable(model, member.entry)) {
    const button = element("button", { type: "button", className: "member", "aria-label": `Drill into ${text}`, text });
    button.addEventListener("click", () => onDrill(member, text));
    cell.append(button);
  } else {
    cell.append(element("span", { className: "member-text", text }));
  }
  return cell;
}

function sortButton(label, active, descending, onClick) {
  const arrow = active ? (descending ? " ▼" : " ▲") : "";
  const button = element("button", {
    type: "button",
    className: "sort" + (active ? " active" : ""),
    "aria-label": `Sort by ${label}${active ? (descending ? ", descending" : ", ascending") : ""}`,
    text: label + arrow,
  });
  button.addEventListener("click", onClick);
  return button;
}

function sameSort(sort, candidate) {
  if (!sort) return false;
  if (candidate.header !== undefined) return sort.header === candidate.header;
  if (sort.header !== null && sort.header !== undefined) return false;
  if (sort.measure !== candidate.measure) return false;
  if (!candidate.column) return !sort.column;
  return Boolean(sort.column) && sort.column.length === candidate.column.length
    && sort.column.every((key, index) => String(key ?? "") === String(candidate.column[index] ?? ""));
}

/** Render the grid into ``container``; handlers: onSort(sort), onDrill(member, text), onPage({page, cpage, size}). */
export function renderTable(container, model, grid, state, handlers) {
  const rows = sortedRows(grid, state.sort, (member) => memberSortValue(model, member));
  const rowPage = pageOf(rows.length, state.page, state.size);
  const columnPage = pageOf(grid.columns.length, state.cpage, COLUMN_PAGE);
  const visibleRows = rows.slice(rowPage.start, rowPage.end);
  const visibleColumns = grid.columns.slice(columnPage.start, columnPage.end);
  const visibleIndices = visibleColumns.map((_, index) => columnPage.start + index);
  const hasColumns = grid.columnEntries.length > 0;
  const hasRows = grid.rowEntries.length > 0;
  const showRowTotals = hasColumns && grid.rows.some((row) => row.totals);
  const headerCount = Math.max(1, grid.rowEntries.length);
  const width = grid.valueNames.length;
  const integral = integralValues(grid);
  const formatters = grid.valueNames.map((name) => formatterFor(model, name, integral.has(name)));
  const sortOn = (candidate) => {
    const active = sameSort(state.sort, candidate);
    const descending = active ? !state.sort.descending : candidate.header === undefined; // numbers: largest first
    return () => handlers.onSort({ measure: null, header: null, column: null, ...candidate, descending });
  };

  const table = element("table", { className: "pivot", "aria-rowcount": rows.length + headerCount });
  const head = element("thead");
  grid.columnEntries.forEach((entry, depth) => {
    const tr = element("tr");
    tr.append(element("th", { className: "corner", colspan: headerCount, scope: "col", text: model.levelLabel(entry) }));
    let index = 0;
    while (index < visibleColumns.length) {
      const member = visibleColumns[index].members[depth];
      let span = 1;
      const prefix = JSON.stringify(visibleColumns[index].members.slice(0, depth + 1).map((item) => item.keys));
      while (
        index + span < visibleColumns.length &&
        JSON.stringify(visibleColumns[index + span].members.slice(0, depth + 1).map((item) => item.keys)) === prefix
      ) span += 1;
      tr.append(memberCell(model, member, "th", { colspan: span * width, scope: "colgroup", className: "column-member" }, handlers.onDrill));
      index += span;
    }
    if (showRowTotals && depth === 0) {
      tr.append(element("th", { rowspan: grid.columnEntries.length, colspan: grid.measures.length, className: "total-head", scope: "colgroup", text: "Total" }));
    }
    head.append(tr);
  });
  const names = element("tr", { className: "value-names" });
  if (hasRows) {
    grid.rowEntries.forEach((entry, position) => {
      const active = sameSort(state.sort, { header: position });
      names.append(element("th", { className: "corner row-head", scope: "col", "aria-sort": active ? (state.sort.descending ? "descending" : "ascending") : null },
        sortButton(model.levelLabel(entry), active, active && state.sort.descending, sortOn({ header: position }))));
    });
  } else {
    names.append(element("th", { className: "corner row-head", scope: "col" }));
  }
  for (const column of visibleColumns) {
    for (const name of grid.valueNames) {
      const candidate = { measure: name, column: hasColumns ? column.keys.map((key) => key ?? null) : null };
      const active = sameSort(state.sort, candidate);
      names.append(element("th", { scope: "col", className: "value-head", "aria-sort": active ? (state.sort.descending ? "descending" : "ascending") : null },
        sortButton(columnLabel(model, name), active, active && state.sort.descending, sortOn(candidate))));
    }
  }
  if (showRowTotals) {
    for (const name of grid.measures) {
      const active = sameSort(state.sort, { measure: name, column: null });
      names.append(element("th", { scope: "col", className: "value-head total", "aria-sort": active ? (state.sort.descending ? "descending" : "ascending") : null },
        sortButton(columnLabel(model, name), active, active && state.sort.descending, sortOn({ measure: name, column: null }))));
    }
  }
  head.append(names);
  table.append(head);

  const body = element("tbody");
  const naturalOrder = !state.sort;
  visibleRows.forEach((row, position) => {
    const tr = element("tr");
    if (hasRows) {
      row.members.forEach((member, depth) => {
        const previous = position > 0 ? visibleRows[position - 1] : null;
        // In the pivot's own order an outer member repeats down its run; it is dimmed after the first row.
        const repeats = naturalOrder && previous && depth < row.members.length - 1
          && row.members.slice(0, depth + 1).every((item, d) => JSON.stringify(item.keys) === JSON.stringify(previous.members[d].keys));
        tr.append(memberCell(model, member, "th", { scope: "row", className: "row-member" + (repeats ? " repeat" : "") }, handlers.onDrill));
      });
    } else {
      tr.append(element("th", { scope: "row", className: "row-member", text: "All" }));
    }
    for (const c of visibleIndices) {
      row.cells[c].forEach((value, v) => tr.append(element("td", { className: value === null ? "empty" : null, text: formatters[v](value) })));
    }
    if (showRowTotals) {
      grid.measures.forEach((_, m) => tr.append(element("td", { className: "total", text: formatters[m](row.totals ? row.totals[m] : null) })));
    }
    body.append(tr);
  });
  table.append(body);

  if (hasRows && grid.grandTotal) {
    const foot = element("tfoot");
    const tr = element("tr");
    tr.append(element("th", { scope: "row", colspan: headerCount, className: "row-member", text: "Total" }));
    for (const c of visibleIndices) {
      const totals = grid.columnTotals ? grid.columnTotals[c] : grid.grandTotal;
      grid.valueNames.forEach((_, v) => tr.append(element("td", { className: "total", text: v < grid.measures.length ? formatters[v](totals[v]) : "" })));
    }
    if (showRowTotals) grid.measures.forEach((_, m) => tr.append(element("td", { className: "total grand", text: formatters[m](grid.grandTotal[m]) })));
    foot.append(tr);
    table.append(foot);
  }

  container.replaceChildren(table);
  stickHeaders(table, headerCount);
  return { rowPage, columnPage, visibleRows, visibleColumns, rowCount: rows.length };
}

/** Sticky offsets: each header row below the ones above it, each row-header column beside the ones before. */
function stickHeaders(table, headerCount) {
  let top = 0;
  for (const tr of table.tHead.rows) {
    for (const th of tr.cells) th.style.top = `${top}px`;
    top += tr.getBoundingClientRect().height;
  }
  const lefts = [];
  const firstBodyRow = table.tBodies[0] && table.tBodies[0].rows[0];
  if (!firstBodyRow) return;
  let left = 0;
  for (let index = 0; index < headerCount && index < firstBodyRow.cells.length; index += 1) {
    lefts.push(left);
    left += firstBodyRow.cells[index].getBoundingClientRect().width;
  }
  for (const section of [table.tBodies[0], table.tFoot]) {
    if (!section) continue;
    for (const tr of section.rows) {
      for (let index = 0; index < headerCount && index < tr.cells.length; index += 1) {
        if (tr.cells[index].tagName === "TH") {
          tr.cells[index].style.left = `${lefts[index] ?? 0}px`;
          tr.cells[index].classList.add("sticky-left");
        }
      }
    }
  }
  // Corners stay put both ways: a column level's name spans the row headers from the left edge.
  for (const th of table.tHead.querySelectorAll("th.corner")) {
    th.classList.add("sticky-left");
    th.style.left = "0px";
  }
  table.tHead.querySelectorAll("tr.value-names th.corner").forEach((th, index) => {
    th.style.left = `${lefts[index] ?? 0}px`;
  });
}

/** The pager under the table: rows (and column members when paged), page size. */
export function renderPager(container, info, state, onPage) {
  const { rowPage, columnPage, rowCount } = info;
  const parts = [];
  const button = (text, label, disabled, change) => {
    const node = element("button", { type: "button", className: "button small", "aria-label": label, disabled: disabled || null, text });
    node.addEventListener("click", () => onPage(change));
    return node;
  };
  const first = rowCount ? rowPage.start + 1 : 0;
  parts.push(element("span", { className: "pager-text", text: `Rows ${first}–${rowPage.end} of ${rowCount}` }));
  if (rowPage.pages > 1) {
    parts.push(button("‹", "Previous page of rows", rowPage.page <= 1, { page: rowPage.page - 1 }));
    parts.push(element("span", { className: "pager-text", text: `page ${rowPage.page} of ${rowPage.pages}` }));
    parts.push(button("›", "Next page of rows", rowPage.page >= rowPage.pages, { page: rowPage.page + 1 }));
  }
  if (columnPage.pages > 1) {
    parts.push(element("span", { className: "pager-text", text: `· Columns ${columnPage.start + 1}–${columnPage.end}` }));
    parts.push(button("‹", "Previous columns", columnPage.page <= 1, { cpage: columnPage.page - 1 }));
    parts.push(button("›", "Next columns", columnPage.page >= columnPage.pages, { cpage: columnPage.page + 1 }));
  }
  const size = element("select", { "aria-label": "Rows per page" });
  for (const option of [50, 100, 250, 500]) size.append(element("option", { value: option, selected: option === state.size, text: `${option} rows` }));
  size.addEventListener("change", () => onPage({ size: Number(size.value), page: 1 }));
  parts.push(size);
  container.replaceChildren(...parts);
}

