// A cube's model (GET /v1/cubes/{cube}) with the questions the explorer asks of it: levels of a
// hierarchy, labels, which dimension is time, how a member reads.

const MONTHS = Array.from({ length: 12 }, (_, index) =>
  new Intl.DateTimeFormat(undefined, { month: "short", timeZone: "UTC" }).format(new Date(Date.UTC(2000, index, 1))),
);

/** "dim[@hierarchy]:level" <-> {dimension, hierarchy, level}. */
export function parseLevelRef(text) {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:@([A-Za-z_][A-Za-z0-9_]*))?:([A-Za-z_][A-Za-z0-9_]*)$/.exec(text || "");
  return match ? { dimension: match[1], hierarchy: match[2] || null, level: match[3] } : null;
}

export function formatLevelRef(entry) {
  return `${entry.dimension}${entry.hierarchy ? "@" + entry.hierarchy : ""}:${entry.level}`;
}

export class CubeModel {
  constructor(json) {
    this.json = json;
    this.name = json.name;
    this.label = json.label || json.name;
    this.measures = json.measures;
    this.dimensions = json.dimensions;
  }

  dimension(name) {
    return this.dimensions.find((dimension) => dimension.name === name) || null;
  }

  measure(name) {
    return this.measures.find((measure) => measure.name === name) || null;
  }

  isTime(dimensionName) {
    const dimension = this.dimension(dimensionName);
    return Boolean(dimension && dimension.role === "time");
  }

  /** The hierarchy object (default when name is null), or null. */
  hierarchy(dimensionName, name) {
    const dimension = this.dimension(dimensionName);
    if (!dimension) return null;
    const wanted = name || dimension.default_hierarchy_name;
    return dimension.hierarchies.find((hierarchy) => hierarchy.name === wanted) || null;
  }

  /** Level objects of a hierarchy, top first. */
  levelsOf(dimensionName, hierarchyName) {
    const dimension = this.dimension(dimensionName);
    const hierarchy = this.hierarchy(dimensionName, hierarchyName);
    if (!dimension || !hierarchy) return [];
    return hierarchy.levels.map((name) => dimension.levels.find((level) => level.name === name));
  }

  /** Depth of a level in its hierarchy (0 = top), or -1. */
  depthOf(entry) {
    return this.levelsOf(entry.dimension, entry.hierarchy).findIndex((level) => level.name === entry.level);
  }

  level(dimensionName, levelName) {
    const dimension = this.dimension(dimensionName);
    return dimension ? dimension.levels.find((level) => level.name === levelName) || null : null;
  }

  levelLabel(entry) {
    const level = this.level(entry.dimension, entry.level);
    return level ? level.label : entry.level;
  }

  dimensionLabel(name) {
    const dimension = this.dimension(name);
    return dimension ? dimension.label : name;
  }

  /** A level reference the model knows (else null): the hierarchy must hold the level. */
  validEntry(entry) {
    if (!entry || this.depthOf(entry) < 0) return null;
    const dimension = this.dimension(entry.dimension);
    const hierarchy = entry.hierarchy === dimension.default_hierarchy_name ? null : entry.hierarchy;
    return { dimension: entry.dimension, hierarchy, level: entry.level };
  }

  /**
   * How a member reads: a label where the level has one; time members read with their ancestors by calendar
   * role ("2025 Q1", "Mar 2025", "2025-03-14"), since "Q1" alone is every year's.
   */
  memberText(dimensionName, hierarchyName, keys, labels) {
    const levels = this.levelsOf(dimensionName, hierarchyName).slice(0, keys.length);
    const depth = keys.length - 1;
    if (depth < 0) return "";
    const text = (index) => {
      const value = labels && labels[index] !== undefined && labels[index] !== null ? labels[index] : keys[index];
      if (value !== null && value !== undefined) return String(value);
      // The NULL member (international calls have no province) reads by its nearest ancestor: "Japan (no province)".
      const above = keys.slice(0, index).map((key, position) => (key === null || key === undefined ? null : text(position))).filter(Boolean);
      const name = levels[index] ? levels[index].label.toLowerCase() : "member";
      return above.length ? `${above[above.length - 1]} (no ${name})` : `(no ${name})`;
    };
    if (!this.isTime(dimensionName)) return text(depth);
    const byRole = {};
    levels.forEach((level, index) => {
      byRole[level.role || level.name] = keys[index];
    });
    const pad = (value) => String(value).padStart(2, "0");
    const role = levels[depth].role || levels[depth].name;
    const { year, quarter, month, day, hour, minute, isoyear, isoweek } = byRole;
    const monthName = (value) => (Number.isInteger(Number(value)) && MONTHS[Number(value) - 1]) || String(value);
    switch (role) {
      case "quarter":
        return year !== undefined ? `${year} Q${quarter}` : `Q${quarter}`;
      case "month":
        return year !== undefined ? `${monthName(month)} ${year}` : monthName(month);
      case "day":
        if (year !== undefined && month !== undefined) return `${year}-${pad(month)}-${pad(day)}`;
        if (isoyear !== undefined) return `${isoyear} W${pad(isoweek)} · ${day}`;
        return text(depth);
      case "hour":
        return year !== undefined ? `${year}-${pad(month)}-${pad(day)} ${pad(hour)}h` : `${pad(hour)}h`;
      case "minute":
        return `${year}-${pad(month)}-${pad(day)} ${pad(hour)}:${pad(minute)}`;
      case "isoweek":
        return isoyear !== undefined ? `${isoyear} W${pad(isoweek)}` : `W${pad(isoweek)}`;
      default:
        return levels.slice(0, depth + 1).length > 1 && role !== "year" && role !== "isoyear"
          ? levels.slice(0, depth + 1).map((_, index) => text(index)).join(" · ")
          : text(depth);
    }
  }
}
