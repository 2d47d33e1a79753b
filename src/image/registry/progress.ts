// `docker pull`'s output: one line per layer (`<id12>: <status>`), redrawn in
// place on a terminal; on anything else one plain line per status change and
// no progress bars (Docker's jsonmessage drops them off a TTY too).
import type { Writable } from "node:stream";

export type LayerStatus =
  | "Pulling fs layer" | "Waiting" | "Downloading" | "Verifying Checksum" | "Download complete"
  | "Extracting" | "Pull complete" | "Already exists" | `Retrying in ${number} second${"" | "s"}`
  // push
  | "Preparing" | "Pushing" | "Pushed" | "Layer already exists" | `Mounted from ${string}`;

export interface Progress {
  /** A line of its own (`latest: Pulling from library/busybox`, `Digest: …`). */
  line(text: string): void;
  /** A layer's status; `current`/`total` draw the bar (terminal only). */
  layer(id: string, status: LayerStatus, bytes?: { current: number; total: number }): void;
}

/** go-units HumanSize: decimal units, 4 significant digits (`52.43MB`, `2.222kB`). */
export function humanSize4(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** jsonmessage's JSONProgress.String(): `[=====>     ]  1.2MB/3.4MB` (bar only on wide terminals). */
export function progressText(current: number, total: number, width: number): string {
  if (current <= 0 && total <= 0) return "";
  if (total <= 0) return humanSize4(current).padStart(8);
  const percentage = Math.min(50, Math.trunc(Math.trunc((current / total) * 100) / 2));
  const bar = width > 110 ? `[${"=".repeat(percentage)}>${" ".repeat(Math.max(0, 50 - percentage))}] ` : "";
  const numbers = current > total ? humanSize4(current).padStart(8) : `${humanSize4(current).padStart(8)}/${humanSize4(total)}`;
  return bar + numbers;
}

export function layerLine(id: string, status: string, text: string): string {
  return text === "" ? `${id}: ${status}` : `${id}: ${status} ${text}`;
}

/** Statuses that carry a bar; on a terminal their repeats are throttled. */
const BAR_STATUSES = new Set(["Downloading", "Extracting"]);
const REDRAW_INTERVAL_MS = 100;

export interface ProgressOptions {
  tty: boolean;
  /** Terminal width (Docker draws bars only above 110 columns). */
  columns?: number;
  now?: () => number;
}

/** Plain lines: one per status change, bars omitted. */
class PlainProgress implements Progress {
  private readonly last = new Map<string, string>();
  constructor(private readonly out: Writable) {}
  line(text: string): void {
    this.out.write(`${text}\n`);
  }
  layer(id: string, status: LayerStatus, bytes?: { current: number; total: number }): void {
    if (bytes !== undefined && BAR_STATUSES.has(status)) return;
    if (this.last.get(id) === status) return;
    this.last.set(id, status);
    this.out.write(`${layerLine(id, status, "")}\n`);
  }
}

/** The terminal form: each layer keeps its line; updates move the cursor up to it (ANSI CUU/CUD). */
class TerminalProgress implements Progress {
  /** Every line printed so far: a layer id, or undefined for a plain line. */
  private readonly lines: (string | undefined)[] = [];
  private readonly shown = new Map<string, { status: string; at: number }>();
  constructor(private readonly out: Writable, private readonly columns: number, private readonly now: () => number) {}

  line(text: string): void {
    this.lines.push(undefined);
    this.out.write(`${text}\n`);
  }

  layer(id: string, status: LayerStatus, bytes?: { current: number; total: number }): void {
    const t = this.now();
    const prev = this.shown.get(id);
    const withBar = bytes !== undefined && BAR_STATUSES.has(status);
    if (prev !== undefined && prev.status === status && (!withBar || t - prev.at < REDRAW_INTERVAL_MS)) return;
    this.shown.set(id, { status, at: t });
    const text = layerLine(id, status, withBar ? progressText(bytes.current, bytes.total, this.columns) : "");
    const index = this.lines.indexOf(id);
    if (index === -1) {
      this.lines.push(id);
      this.out.write(`${text}\n`);
      return;
    }
    const up = this.lines.length - index;
    // Up to the layer's line, clear it, write, and back down to the bottom.
    this.out.write(`\x1b[${up}A\r\x1b[2K${text}\r\x1b[${up}B`);
  }
}

class QuietProgress implements Progress {
  line(): void {}
  layer(): void {}
}

export function createProgress(out: Writable, o: ProgressOptions): Progress {
  if (!o.tty) return new PlainProgress(out);
  return new TerminalProgress(out, o.columns ?? 80, o.now ?? Date.now);
}

export function quietProgress(): Progress {
  return new QuietProgress();
}
