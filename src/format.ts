// Docker-style output: padded tables, human sizes ("4.26MB"), relative times.

/** Docker's tabwriter (minwidth 10, padding 3): a column is its widest cell plus 3, at least 10. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(10, 3 + Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("").trimEnd() + "\n";
  return line(headers) + rows.map(line).join("");
}

/** Decimal units with 3 significant digits (go-units HumanSizeWithPrecision; its HumanSize is 4). */
export function humanSize(bytes: number, precision = 3): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${Number(v.toPrecision(precision))}${units[i]}`;
}

/** 33554432 → "32MiB", as limits are usually given. */
export function formatBytes(n: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (n >= size) return `${Number((n / size).toFixed(2))}${unit}`;
  }
  return `${n}B`;
}

/** "About a minute ago", "3 hours ago", as Docker's HumanDuration + " ago". */
export function relativeTime(iso: string, now = Date.now()): string {
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (Number.isNaN(s)) return "N/A";
  const d = (n: number, unit: string): string => `${Math.round(n)} ${unit}${Math.round(n) === 1 ? "" : "s"} ago`;
  if (s < 1) return "Less than a second ago";
  if (s < 60) return d(s, "second");
  if (s < 120) return "About a minute ago";
  if (s < 3600) return d(s / 60, "minute");
  if (s < 7200) return "About an hour ago";
  if (s < 48 * 3600) return d(s / 3600, "hour");
  if (s < 14 * 86400) return d(s / 86400, "day");
  if (s < 60 * 86400) return d(s / 604800, "week");
  if (s < 730 * 86400) return d(s / 2592000, "month");
  return d(s / 31536000, "year");
}

/** Go's time.Time.String() in UTC, as Docker's CreatedAt columns show it: "2026-12-03 04:56:29 +0000 UTC" (nanos: with the fraction). */
export function goTime(iso: string, nanos = false): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const frac = nanos ? (/\.(\d+)/.exec(iso)?.[1] ?? "").replace(/0+$/, "") : "";
  return `${d.toISOString().slice(0, 19).replace("T", " ")}${frac ? `.${frac}` : ""} +0000 UTC`;
}
