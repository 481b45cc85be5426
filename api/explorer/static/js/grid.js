// The table's content, computed from the pivot answer (and the calculated cells, when calculations are on):
// rows with their members per axis entry, value columns (column member × measure or calculation), totals.
// Pure data: no DOM, so sorting and paging are plain functions of it.

/**
 * Split a pivot's header keys (every level from the top of each dimension down) into one member per axis
 * entry: {entry, keys, labels} where keys run from the top of the entry's hierarchy to its level.
 */
export function membersOf(model, entries, keys, labels) {
  const members = [];
  let position = 0;
  for (const entry of entries) {
    const depth = model.depthOf(entry) + 1;
    members.push({ entry, keys: keys.slice(position, position + depth), labels: labels.slice(position, position + depth) });
    position += depth;
  }
  return members;
}

function calculatedIndex(pivot, calculated) {
  const index = new Map();
  if (!calculated) return index;
  const levels = [...pivot.row_levels, ...pivot.column_levels];
  for (const cell of calculated.cells) index.set(JSON.stringify(levels.map((level) => cell[level] ?? null)), cell);
  return index;
}

/**
 * rows: [{keys, labels, members, cells: [[value per value name] per column member], totals: [per measure]}]
 * columns: [{keys, labels, members}] (one, with no keys, when nothing is on columns)
 */
export function buildGrid(model, rowEntries, columnEntries, pivot, calculated) {
  const calculations = calculated ? calculated.meta.calculations || [] : [];
  const valueNames = [...pivot.measures, ...calculations];
  const index = calculatedIndex(pivot, calculated);
  const columns = pivot.column_headers.map((keys, position) => ({
    keys,
    labels: pivot.column_header_labels[position],
    members: membersOf(model, columnEntries, keys, pivot.column_header_labels[position]),
  }));
  const rows = pivot.row_headers.map((keys, r) => {
    const cells = columns.map((column, c) => {
      const values = pivot.values[r][c];
      const extra = index.get(JSON.stringify([...keys, ...column.keys]));
      return valueNames.map((name, v) => {
        if (v < pivot.measures.length) return values ? values[v] : null;
        return extra ? extra[name] ?? null : null;
      });
    });
    return {
      keys,
      labels: pivot.row_header_labels[r],
      members: membersOf(model, rowEntries, keys, pivot.row_header_labels[r]),
      cells,
      totals: pivot.row_totals ? pivot.row_totals[r] : null,
    };
  });
  return {
    rowEntries,
    columnEntries,
    measures: pivot.measures,
    valueNames,
    columns,
    rows,
    columnTotals: pivot.column_totals,
    grandTotal: pivot.grand_total,
    meta: pivot.meta,
  };
}

/** A one-row grid of the summary, for a view with nothing on rows or columns. */
export function summaryGrid(answer) {
  const measures = answer.measures;
  return {
    rowEntries: [],
    columnEntries: [],
    measures,
    valueNames: measures,
    columns: [{ keys: [], labels: [], members: [] }],
    rows: [{ keys: [], labels: [], members: [], cells: [measures.map((name) => answer.summary[name] ?? null)], totals: null }],
    columnTotals: null,
    grandTotal: null,
    meta: answer.meta,
  };
}

function sameKeys(left, right) {
  return left.length === right.length && left.every((value, index) => String(value ?? "") === String(right[index] ?? ""));
}

/** The index of the column member whose keys are ``keys`` (compared as text, as URLs carry them), or -1. */
export function columnIndex(grid, keys) {
  return grid.columns.findIndex((column) => sameKeys(column.keys.map((key) => key ?? null), keys));
}

function compareValues(left, right) {
  const missingLeft = left === null || left === undefined;
  const missingRight = right === null || right === undefined;
  if (missingLeft || missingRight) return missingLeft === missingRight ? 0 : missingLeft ? 1 : -1;
  if (typeof left === "number" && typeof right === "number") return left - right;
  return String(left).localeCompare(String(right), undefined, { numeric: true });
}

/**
 * Rows in the sort's order (a copy); empty values always last. A sort naming a column the grid does not have
 * keeps the pivot's order. ``memberSortValue(member)`` gives what a row header sorts by.
 */
export function sortedRows(grid, sort, memberSortValue) {
  const rows = grid.rows.map((row, position) => ({ row, position }));
  if (!sort) return rows.map(({ row }) => row);
  let valueOf = null;
  if (sort.header !== null && sort.header !== undefined) {
    if (sort.header >= grid.rowEntries.length) return grid.rows.slice();
    valueOf = (row) => memberSortValue(row.members[sort.header]);
  } else {
    const valuePosition = grid.valueNames.indexOf(sort.measure);
    if (valuePosition < 0) return grid.rows.slice();
    if (sort.column === null || sort.column === undefined) {
      const measurePosition = grid.measures.indexOf(sort.measure);
      if (grid.rows[0] && grid.rows[0].totals && measurePosition >= 0) valueOf = (row) => row.totals[measurePosition];
      else valueOf = (row) => row.cells[0][valuePosition];
    } else {
      const column = columnIndex(grid, sort.column);
      if (column < 0) return grid.rows.slice();
      valueOf = (row) => row.cells[column][valuePosition];
    }
  }
  const direction = sort.descending ? -1 : 1;
  rows.sort((a, b) => {
    const left = valueOf(a.row);
    const right = valueOf(b.row);
    const missing = (left === null || left === undefined) - (right === null || right === undefined);
    if (missing) return missing; // empty cells last, whichever the direction
    return direction * compareValues(left, right) || a.position - b.position;
  });
  return rows.map(({ row }) => row);
}

/** Page ``page`` (1-based, clamped) of ``count`` items, ``size`` per page. */
export function pageOf(count, page, size) {
  const pages = Math.max(1, Math.ceil(count / size));
  const current = Math.min(Math.max(1, page), pages);
  return { pages, page: current, start: (current - 1) * size, end: Math.min(count, current * size) };
}

/** The value names whose every value is a whole number (shown without decimals). */
export function integralValues(grid) {
  const integral = new Set(grid.valueNames);
  const check = (name, value) => {
    if (value !== null && value !== undefined && !Number.isInteger(Number(value))) integral.delete(name);
  };
  for (const row of grid.rows) {
    for (const cells of row.cells) cells.forEach((value, v) => check(grid.valueNames[v], value));
    if (row.totals) row.totals.forEach((value, m) => check(grid.measures[m], value));
  }
  for (const totals of [...(grid.columnTotals || []), grid.grandTotal || []]) totals.forEach((value, m) => check(grid.measures[m], value));
  return integral;
}
