// `--filter` of `container prune`, `image prune` and `system prune`, as Docker's
// daemon reads it: `until=TIME` (RFC 3339, a Unix timestamp or a duration
// before now: only what was created before it goes) and `label=KEY[=VALUE]` /
// `label!=KEY[=VALUE]` (only what has, or lacks, the label).
import { TsboxError } from "../errors.js";
import { parseSince } from "../runtime/logs.js";

interface LabelTest { key: string; value?: string; negate: boolean }

export interface PruneFilter {
  /** ms since the epoch */
  until?: number;
  labels: LabelTest[];
}

/** What a filter is matched against: when it was created and its labels. */
export interface PruneCandidate { created: number; labels: Readonly<Record<string, string>> }

export function parsePruneFilters(list: readonly string[], now = Date.now()): PruneFilter {
  const f: PruneFilter = { labels: [] };
  for (const item of list) {
    const m = /^([a-z]+)(!?=)(.*)$/s.exec(item);
    if (m === null) throw new TsboxError(`Invalid filter '${item}'`, 1);
    const [, key = "", op, value = ""] = m;
    if (key === "until" && op === "=") {
      try {
        f.until = parseSince(value, now);
      } catch {
        throw new TsboxError(`failed to parse value as time or duration: "${value}"`, 1);
      }
    } else if (key === "label") {
      const eq = value.indexOf("=");
      f.labels.push({ key: eq < 0 ? value : value.slice(0, eq), ...(eq < 0 ? {} : { value: value.slice(eq + 1) }), negate: op === "!=" });
    } else {
      throw new TsboxError(`Invalid filter '${key}'`, 1);
    }
  }
  return f;
}

/** Whether a prune may take this candidate. */
export function pruneFilterMatches(f: PruneFilter, c: PruneCandidate): boolean {
  if (f.until !== undefined && !(c.created < f.until)) return false;
  for (const t of f.labels) {
    const has = Object.hasOwn(c.labels, t.key) && (t.value === undefined || c.labels[t.key] === t.value);
    if (has === t.negate) return false;
  }
  return true;
}
