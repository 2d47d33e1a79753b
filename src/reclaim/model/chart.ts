// Hand-written SVG: where the guests' memory lives over time (stacked by
// technique, with the host's size as a line), and lost throughput against the number
// of guests for every policy (with the budget as a line). No dependency.

import { PAGE_SIZE } from "../profile.js";
import type { DensityPoint } from "./density.js";
import type { SimulationReport } from "./report.js";

const W = 960;
const PANEL_H = 400;
const M = { left: 80, right: 200, top: 50, bottom: 60 };
const COLORS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"];

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const f = (x: number): string => (Math.round(x * 10) / 10).toString();

/** Round axis steps: 1, 2 or 5 × 10^k. */
function ticks(max: number, count = 5): number[] {
  if (max <= 0) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max * 1.0001; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

interface Frame { x0: number; y0: number; w: number; h: number }

function axes(fr: Frame, xmax: number, ymax: number, xlabel: string, ylabel: string, title: string, yfmt: (v: number) => string): string[] {
  const o: string[] = [];
  o.push(`<text x="${fr.x0}" y="${fr.y0 - 20}" font-size="16" font-weight="bold">${esc(title)}</text>`);
  for (const v of ticks(ymax)) {
    const y = fr.y0 + fr.h - (v / ymax) * fr.h;
    o.push(`<line x1="${fr.x0}" y1="${f(y)}" x2="${fr.x0 + fr.w}" y2="${f(y)}" stroke="#ddd"/>`);
    o.push(`<text x="${fr.x0 - 8}" y="${f(y + 4)}" font-size="12" text-anchor="end">${esc(yfmt(v))}</text>`);
  }
  for (const v of ticks(xmax, 8)) {
    const x = fr.x0 + (v / xmax) * fr.w;
    o.push(`<line x1="${f(x)}" y1="${fr.y0 + fr.h}" x2="${f(x)}" y2="${fr.y0 + fr.h + 5}" stroke="#333"/>`);
    o.push(`<text x="${f(x)}" y="${fr.y0 + fr.h + 20}" font-size="12" text-anchor="middle">${v}</text>`);
  }
  o.push(`<line x1="${fr.x0}" y1="${fr.y0 + fr.h}" x2="${fr.x0 + fr.w}" y2="${fr.y0 + fr.h}" stroke="#333"/>`);
  o.push(`<line x1="${fr.x0}" y1="${fr.y0}" x2="${fr.x0}" y2="${fr.y0 + fr.h}" stroke="#333"/>`);
  o.push(`<text x="${fr.x0 + fr.w / 2}" y="${fr.y0 + fr.h + 45}" font-size="13" text-anchor="middle">${esc(xlabel)}</text>`);
  o.push(`<text transform="translate(${fr.x0 - 60},${fr.y0 + fr.h / 2}) rotate(-90)" font-size="13" text-anchor="middle">${esc(ylabel)}</text>`);
  return o;
}

function legend(x: number, y: number, items: { label: string; color: string; dashed?: boolean }[]): string[] {
  return items.flatMap((it, i) => [
    it.dashed
      ? `<line x1="${x}" y1="${y + i * 22 + 6}" x2="${x + 14}" y2="${y + i * 22 + 6}" stroke="${it.color}" stroke-width="2" stroke-dasharray="4 3"/>`
      : `<rect x="${x}" y="${y + i * 22}" width="14" height="12" fill="${it.color}"/>`,
    `<text x="${x + 20}" y="${y + i * 22 + 11}" font-size="12">${esc(it.label)}</text>`,
  ]);
}

function memoryPanel(r: SimulationReport, top: number): string[] {
  const fr: Frame = { x0: M.left, y0: top + M.top, w: W - M.left - M.right, h: PANEL_H - M.top - M.bottom };
  const gib = PAGE_SIZE / 1024 ** 3;
  const layers: { label: string; color: string; value: (s: SimulationReport["timeline"][number]) => number }[] = [
    { label: "resident in RAM", color: COLORS[0]!, value: (s) => s.totals.resident },
    { label: "compression cache (RAM)", color: COLORS[4]!, value: (s) => s.totals.compressionPool },
    { label: "tmem pools (RAM)", color: COLORS[5]!, value: (s) => s.totals.tmem },
    { label: "saved by sharing", color: COLORS[2]!, value: (s) => s.totals.shared },
    { label: "freed by balloons", color: COLORS[1]!, value: (s) => s.totals.balloonFreed },
    { label: "saved by compression", color: COLORS[7]!, value: (s) => s.totals.compressed - s.totals.compressionPool },
    { label: "swapped out", color: COLORS[3]!, value: (s) => s.totals.swapped },
  ];
  const tl = r.timeline;
  const minutes = (i: number): number => (i * r.stepSeconds) / 60;
  const xmax = Math.max(minutes(Math.max(1, tl.length - 1)), 1e-9);
  const totalAt = tl.map((s) => layers.reduce((a, l) => a + Math.max(0, l.value(s)), 0) * gib);
  const ymax = Math.max(r.hostPages * gib, ...totalAt) * 1.1;
  const X = (i: number): number => fr.x0 + (minutes(i) / xmax) * fr.w;
  const Y = (v: number): number => fr.y0 + fr.h - (v / ymax) * fr.h;
  const o = axes(fr, xmax, ymax, "time (minutes)", "GiB", `Where the guests' memory is (policy ${r.policy})`, (v) => String(v));
  const base = tl.map(() => 0);
  for (const l of layers) {
    const upper = tl.map((s, i) => base[i]! + Math.max(0, l.value(s)) * gib);
    if (upper.some((u, i) => u > base[i]!)) {
      const pts = [...upper.map((u, i) => `${f(X(i))},${f(Y(u))}`), ...base.map((b, i) => `${f(X(i))},${f(Y(b))}`).reverse()];
      if (tl.length === 1) pts.splice(1, 0, `${f(fr.x0 + fr.w)},${f(Y(upper[0]!))}`), pts.push(`${f(fr.x0 + fr.w)},${f(Y(base[0]!))}`);
      o.push(`<polygon points="${pts.join(" ")}" fill="${l.color}" fill-opacity="0.85"><title>${esc(l.label)}</title></polygon>`);
    }
    upper.forEach((u, i) => (base[i] = u));
  }
  const hy = Y(r.hostPages * gib);
  o.push(`<line x1="${fr.x0}" y1="${f(hy)}" x2="${fr.x0 + fr.w}" y2="${f(hy)}" stroke="#000" stroke-width="2" stroke-dasharray="6 4"/>`);
  o.push(...legend(fr.x0 + fr.w + 20, fr.y0, [
    ...layers.map((l) => ({ label: l.label, color: l.color })),
    { label: "host memory", color: "#000", dashed: true },
  ]));
  return o;
}

function densityPanel(r: SimulationReport, curves: Record<string, DensityPoint[]>, top: number): string[] {
  const fr: Frame = { x0: M.left, y0: top + M.top, w: W - M.left - M.right, h: PANEL_H - M.top - M.bottom };
  const ymax = Math.max(r.budget * 4, 0.2);
  const xmax = Math.max(2, ...Object.values(curves).flatMap((c) => c.map((p) => p.guests)));
  const X = (n: number): number => fr.x0 + (n / xmax) * fr.w;
  const Y = (v: number): number => fr.y0 + fr.h - (Math.min(v, ymax) / ymax) * fr.h;
  const o = axes(fr, xmax, ymax, "number of guests", "worst guest's lost throughput", `Lost throughput against density (budget ${(r.budget * 100).toFixed(1)} %; at the top: off the scale or host ran out)`, (v) => `${Math.round(v * 100)}%`);
  const by = Y(r.budget);
  o.push(`<line x1="${fr.x0}" y1="${f(by)}" x2="${fr.x0 + fr.w}" y2="${f(by)}" stroke="#000" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  const items: { label: string; color: string; dashed?: boolean }[] = [];
  Object.entries(curves).forEach(([p, pts], k) => {
    const color = COLORS[k % COLORS.length]!;
    const path = pts.map((pt, i) => `${i === 0 ? "M" : "L"}${f(X(pt.guests))},${f(Y(pt.overcommitted ? ymax : pt.maxLostThroughput))}`).join(" ");
    o.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"><title>${esc(p)}</title></path>`);
    const fit = r.density.guestsThatFit[p];
    if (fit !== undefined && fit > 0) o.push(`<circle cx="${f(X(fit))}" cy="${f(by)}" r="4" fill="${color}"><title>${esc(`${p}: ${fit} guests`)}</title></circle>`);
    items.push({ label: `${p}${fit !== undefined ? ` (${fit} fit)` : ""}`, color });
  });
  items.push({ label: "lost-throughput budget", color: "#000", dashed: true });
  o.push(...legend(fr.x0 + fr.w + 20, fr.y0, items));
  return o;
}

export function renderChart(r: SimulationReport, curves: Record<string, DensityPoint[]>): string {
  const h = PANEL_H * 2 + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif">`,
    `<rect width="${W}" height="${h}" fill="#fff"/>`,
    ...memoryPanel(r, 0),
    ...densityPanel(r, curves, PANEL_H + 20),
    "</svg>",
    "",
  ].join("\n");
}
