// Weighted fair share, measured: three busy tsbox containers pinned to CPU 0
// with --cpu-shares 1024:2048:4096 (weights 1:2:4), their cgroups' CPU time
// sampled every 250 ms for ~20 s; half-way the weight-2 container is stopped.
//
// The expectation is weighted fair queuing's: each busy group gets
// w_i / Σ_{j busy} w_j of the CPU they compete for, and a stopped group's share
// is redistributed in proportion to the remaining weights (1:4 → 1/5, 4/5).
// Shares are of the CPU time the three used together, so other load on CPU 0
// (this machine is shared) does not count against any of them.
//
//   npm run bench:fairshare [-- --seconds 20 --interval 250]
// Prints a table per phase and writes bench/results/fairshare.{svg,json}.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cpuNs, startTsbox, stopTsbox, tsboxEnv, type Background } from "./containers.js";
import { REPO, installSignalHandlers, runBenchmark } from "./lib.js";

interface Group { name: string; shares: number; weight: number; color: string }
const GROUPS: Group[] = [
  { name: "w1", shares: 1024, weight: 1, color: "#4e79a7" },
  { name: "w2", shares: 2048, weight: 2, color: "#f28e2b" },
  { name: "w4", shares: 4096, weight: 4, color: "#59a14f" },
];
const STOPPED = "w2";
/** Samples right after a change are left out of the phase averages (the scheduler settles). */
const SETTLE_MS = 1000;
const TOLERANCE = 0.15;

interface Sample { t: number; shares: (number | undefined)[]; busy: boolean[] }

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: not a positive number`);
  return v;
}

/** w_i / Σ_{j busy} w_j for the busy groups; undefined for the others. */
export function expectedShares(busy: readonly boolean[]): (number | undefined)[] {
  const total = GROUPS.reduce((s, g, i) => s + (busy[i] ? g.weight : 0), 0);
  return GROUPS.map((g, i) => (busy[i] ? g.weight / total : undefined));
}

interface PhaseRow { phase: string; group: string; weight: number; expected: number; measured: number; deviation: number; ok: boolean }

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("run as root");
  const seconds = arg("seconds", 20);
  const interval = arg("interval", 250);
  installSignalHandlers(5_000);
  const env = tsboxEnv();

  const cs: Background[] = [];
  for (const g of GROUPS) {
    cs.push(await startTsbox(env, `fs-${g.name}`, ["--cpuset-cpus", "0", "--cpu-shares", String(g.shares), "busybox", "sh", "-c", "while :; do :; done"]));
  }
  const stopIdx = GROUPS.findIndex((g) => g.name === STOPPED);
  const busy = GROUPS.map(() => true);
  const samples: Sample[] = [];
  // Cumulative CPU time of each phase's samples after it settled, for the averages.
  const phaseCpu = [GROUPS.map(() => 0), GROUPS.map(() => 0)];
  let prev = cs.map((c) => cpuNs(c.id));
  const t0 = Date.now();
  let stoppedAt: number | undefined;
  process.stdout.write(`sampling ${seconds} s every ${interval} ms; ${STOPPED} stops at ${seconds / 2} s\n`);
  while (Date.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, interval));
    const t = (Date.now() - t0) / 1000;
    if (stoppedAt === undefined && t >= seconds / 2) {
      await stopTsbox(cs[stopIdx]!);
      busy[stopIdx] = false;
      stoppedAt = (Date.now() - t0) / 1000;
      prev = cs.map((c, i) => (busy[i] ? cpuNs(c.id) : 0));
      continue;
    }
    const now = cs.map((c, i) => (busy[i] ? cpuNs(c.id) : 0));
    const delta = now.map((n, i) => (busy[i] ? n - prev[i]! : 0));
    prev = now;
    const sum = delta.reduce((a, b) => a + b, 0);
    if (sum <= 0) continue;
    samples.push({ t, shares: delta.map((d, i) => (busy[i] ? d / sum : undefined)), busy: [...busy] });
    const phase = stoppedAt === undefined ? 0 : 1;
    const since = phase === 0 ? 0 : stoppedAt!;
    if ((t - since) * 1000 >= SETTLE_MS) delta.forEach((d, i) => { phaseCpu[phase]![i]! += d; });
  }
  for (const [i, c] of cs.entries()) if (busy[i]) await stopTsbox(c);

  const rows: PhaseRow[] = [];
  const phaseNames = ["all three busy", `${STOPPED} stopped`];
  phaseCpu.forEach((cpu, p) => {
    const phaseBusy = GROUPS.map((g) => p === 0 || g.name !== STOPPED);
    const exp = expectedShares(phaseBusy);
    const total = cpu.reduce((a, b) => a + b, 0);
    GROUPS.forEach((g, i) => {
      if (exp[i] === undefined) return;
      const measured = total > 0 ? cpu[i]! / total : 0;
      const deviation = measured / exp[i]! - 1;
      rows.push({ phase: phaseNames[p]!, group: g.name, weight: g.weight, expected: exp[i]!, measured, deviation, ok: Math.abs(deviation) <= TOLERANCE });
    });
  });

  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const table = [
    "| phase | container | weight | expected | measured | deviation |",
    "|---|---|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.phase} | ${r.group} | ${r.weight} | ${pct(r.expected)} | ${pct(r.measured)} | ${r.deviation >= 0 ? "+" : ""}${(r.deviation * 100).toFixed(1)}%${r.ok ? "" : " **> ±15%**"} |`),
  ].join("\n");
  process.stdout.write(`\n${table}\n\n${rows.every((r) => r.ok) ? "all shares within ±15 % of weighted fair queuing" : "SOME SHARES OUTSIDE ±15 %"}\n`);

  const dir = join(REPO, "bench", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "fairshare.svg"), chart(samples, stoppedAt ?? seconds, seconds));
  writeFileSync(join(dir, "fairshare.json"), JSON.stringify({
    date: new Date().toISOString(), seconds, intervalMs: interval, settleMs: SETTLE_MS, tolerance: TOLERANCE,
    groups: GROUPS, stopped: STOPPED, stoppedAt, rows, samples,
  }, null, 1) + "\n");
  process.stdout.write(`wrote bench/results/fairshare.svg and fairshare.json\n`);
  if (!rows.every((r) => r.ok)) process.exitCode = 1;
}

/** A stacked-area chart of each container's share per sample, expected shares dashed. */
export function chart(samples: readonly Sample[], stoppedAt: number, seconds: number): string {
  const W = 860, H = 420, L = 60, R = 150, T = 40, B = 50;
  const pw = W - L - R, ph = H - T - B;
  const x = (t: number): number => L + (t / seconds) * pw;
  const y = (share: number): number => T + (1 - share) * ph;
  const f = (n: number): string => n.toFixed(1);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${L}" y="22" font-size="15" font-weight="bold">CPU share of three containers on one CPU, --cpu-shares 1:2:4 (tsbox)</text>`);
  // Stacked areas, bottom first: w1, then w2, then w4 — each a band between two cumulative lines.
  let lower = samples.map(() => 0);
  GROUPS.forEach((g, i) => {
    const upper = samples.map((s, k) => lower[k]! + (s.shares[i] ?? 0));
    const top = samples.map((s, k) => `${f(x(s.t))},${f(y(upper[k]!))}`);
    const bottom = samples.map((s, k) => `${f(x(s.t))},${f(y(lower[k]!))}`).reverse();
    if (samples.length > 0) parts.push(`<polygon points="${[...top, ...bottom].join(" ")}" fill="${g.color}" fill-opacity="0.85" stroke="none"/>`);
    lower = upper;
  });
  // Expected boundaries (cumulative w/Σw) per phase, dashed.
  const phases: [number, number, boolean[]][] = [[0, stoppedAt, [true, true, true]], [stoppedAt, seconds, GROUPS.map((g) => g.name !== STOPPED)]];
  for (const [a, b, busy] of phases) {
    const exp = expectedShares(busy);
    let cum = 0;
    for (const e of exp.slice(0, -1)) {
      cum += e ?? 0;
      if (e === undefined) continue;
      parts.push(`<line x1="${f(x(a))}" y1="${f(y(cum))}" x2="${f(x(b))}" y2="${f(y(cum))}" stroke="black" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    }
  }
  // Axes, grid and ticks.
  for (let s = 0; s <= 1.0001; s += 0.25) {
    parts.push(`<line x1="${L}" y1="${f(y(s))}" x2="${L + pw}" y2="${f(y(s))}" stroke="#000" stroke-opacity="0.12"/>`);
    parts.push(`<text x="${L - 8}" y="${f(y(s) + 4)}" text-anchor="end">${Math.round(s * 100)}%</text>`);
  }
  for (let t = 0; t <= seconds; t += Math.max(1, Math.round(seconds / 10))) {
    parts.push(`<line x1="${f(x(t))}" y1="${T + ph}" x2="${f(x(t))}" y2="${T + ph + 5}" stroke="black"/>`);
    parts.push(`<text x="${f(x(t))}" y="${T + ph + 18}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="black"/>`);
  parts.push(`<text x="${L + pw / 2}" y="${H - 10}" text-anchor="middle">time (s), samples every 250 ms</text>`);
  parts.push(`<text transform="translate(16 ${T + ph / 2}) rotate(-90)" text-anchor="middle">share of the CPU the three used</text>`);
  // The stop.
  parts.push(`<line x1="${f(x(stoppedAt))}" y1="${T}" x2="${f(x(stoppedAt))}" y2="${T + ph}" stroke="#c00" stroke-width="2"/>`);
  parts.push(`<text x="${f(x(stoppedAt) + 4)}" y="${T + 14}" fill="#c00">${STOPPED} stopped</text>`);
  // Legend.
  const lx = L + pw + 16;
  [...GROUPS].reverse().forEach((g, k) => {
    parts.push(`<rect x="${lx}" y="${T + k * 22}" width="14" height="14" fill="${g.color}"/>`);
    parts.push(`<text x="${lx + 20}" y="${T + k * 22 + 11}">${g.name} (shares ${g.shares})</text>`);
  });
  const ly = T + GROUPS.length * 22 + 6;
  parts.push(`<line x1="${lx}" y1="${ly + 7}" x2="${lx + 14}" y2="${ly + 7}" stroke="black" stroke-width="1.5" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${lx + 20}" y="${ly + 11}">expected w/Σw</text>`);
  parts.push("</svg>\n");
  return parts.join("\n");
}

await runBenchmark(main);
