// Weighted fair share of a link, measured: the network twin of fairshare.ts.
// A tsbox network shapes a veth to 100 Mbit/s (`network create -o
// tsbox.link=VETH -o tsbox.link-rate=100mbit`); three busy tsbox containers on
// it with --network-weight 1:2:4 each stream zeros (dd | nc) to a discarding
// listener in a sink namespace at the veth's other end. Each container's HTB
// class on the veth is sampled (`tc -s class show`) every 250 ms for ~30 s;
// half-way the weight-4 container is stopped, at three quarters the weight-2 one.
//
// The expectation is weighted fair queuing's, as for the CPU: each busy
// container gets w_i / Σ_{j busy} w_j of the link's bytes (1:2:4 → 1/7, 2/7,
// 4/7; then 1:2 → 1/3, 2/3), and one alone gets the whole link (≥ 85 % of
// 100 Mbit/s). Shares are of the bytes the three classes sent together; each
// phase also reports Mbit/s and how much of the link the three used.
//
//   npx tsx bench/fairshare-net.ts [--seconds 30 --interval 250]
//
// A container's stop once stalled the others' traffic: netavark before 1.9
// does not pin the bridge's MAC, so the kernel gave the bridge its ports'
// lowest, which changed when that port's container left, and the remaining
// containers sent to the old gateway MAC until their ARP entries expired
// (tens of seconds; 5 of ~29 runs here). tsbox now sets the bridge's MAC when
// it makes the bridge; the bench still watches the MAC and says so if it moves.
// Needs root, iproute2, iptables and busybox on the host. Prints a table per
// phase and writes bench/results/fairshare-net.{svg,json}. Everything it makes
// (sink namespace, veth, FORWARD rules, listeners, network, containers) is
// removed at the end, on error and on SIGINT, and checked to be gone.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { startTsbox, stopTsbox, tsboxEnv, type Background, type TsboxEnv } from "./containers.js";
import { REPO, cleanUp, hostFacts, installSignalHandlers, mustSh, onCleanup, runBenchmark, sh } from "./lib.js";
import { lineChart, type Series } from "./svg-chart.js";

interface Group { name: string; weight: number; port: number; color: string }
const GROUPS: Group[] = [
  { name: "w1", weight: 1, port: 5001, color: "#4e79a7" },
  { name: "w2", weight: 2, port: 5002, color: "#f28e2b" },
  { name: "w4", weight: 4, port: 5004, color: "#59a14f" },
];
/** Phases: all busy from 0; w4 stopped at 1/2 of the run; w2 stopped at 3/4 (w1 alone). */
const STOPS: { group: string; at: number }[] = [{ group: "w4", at: 1 / 2 }, { group: "w2", at: 3 / 4 }];
const LINK_MBIT = 100;
/** Samples right after a change are left out of the phase averages (TCP and HTB settle). */
const SETTLE_MS = 1000;
const TOLERANCE = 0.15;
const HOST_IP = "10.212.0.1";
const SINK_IP = "10.212.0.2";
const PID = process.pid;
const NETNS = `tsfs-sink-${PID}`;
const VETH = `tsfsl${PID % 10000}`;
const NETWORK = `fsnet-${PID}`;
const RULE_COMMENT = `tsbox bench fairshare-net ${PID}`;
/** The sink's listeners, each the leader of its own process group (sh, sleep, nc). */
const listeners: ChildProcess[] = [];

interface Sample { t: number; dt: number; mbit: number[]; linkMbit: number; shares: (number | undefined)[]; busy: boolean[] }
interface PhaseRow {
  phase: string; container: string; weight: number | null;
  /** "share": of the bytes the busy classes sent together; "link": of the link's rate */
  of: "share" | "link";
  mbit: number; expected: number; measured: number; deviation: number; ok: boolean;
}

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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Bytes sent by each HTB class on dev, by minor (`tc -s class show`). */
function classBytes(dev: string): Map<number, number> {
  const out = mustSh(["tc", "-s", "class", "show", "dev", dev]);
  const m = new Map<number, number>();
  for (const block of out.split(/\n(?=class )/)) {
    const c = /^class htb 1:([0-9a-f]+)\b[\s\S]*?\bSent (\d+) bytes/.exec(block);
    if (c) m.set(parseInt(c[1]!, 16), Number(c[2]));
  }
  return m;
}

/** Container id (12 hex) → its class minor on dev, from tsbox's CLASSIFY rules in mangle POSTROUTING. */
function classifyRules(dev: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of mustSh(["iptables", "-w", "-t", "mangle", "-S", "POSTROUTING"]).split("\n")) {
    if (!line.includes(`-o ${dev} `)) continue;
    const r = /--comment "?tsbox ([0-9a-f]{12})"? .*--set-class 0*1:([0-9a-f]+)/.exec(line);
    if (r) m.set(r[1]!, parseInt(r[2]!, 16));
  }
  return m;
}

/** A /24 of 10.212.0.0/16 for the tsbox network that no address or route on the host is in. */
function freeSubnet(): string {
  const used = sh(["ip", "-o", "-4", "addr"]).out + "\n" + sh(["ip", "-4", "route"]).out;
  for (let k = 0; k < 250; k++) {
    const third = 16 + ((PID + k) % 230);
    if (!used.includes(`10.212.${third}.`)) return `10.212.${third}.0/24`;
  }
  throw new Error("no free /24 in 10.212.0.0/16");
}

/** The sink namespace, the shaped veth to it, the FORWARD rules and the three discarding listeners. */
async function setUpSink(): Promise<void> {
  const taken = sh(["ip", "-o", "-4", "addr"]).out.split("\n").filter((l) => /\s10\.212\.0\.[0-3]\//.test(l));
  if (taken.length > 0) throw new Error(`10.212.0.0/30 is in use already: ${taken[0]!.trim()}`);
  if (sh(["cat", "/proc/sys/net/ipv4/ip_forward"]).out !== "1") throw new Error("net.ipv4.ip_forward is 0: the containers' traffic is not forwarded");

  mustSh(["ip", "netns", "add", NETNS]);
  onCleanup(`netns ${NETNS}`, () => { sh(["ip", "netns", "del", NETNS]); });
  mustSh(["ip", "link", "add", VETH, "type", "veth", "peer", "name", "eth0", "netns", NETNS]);
  onCleanup(`veth ${VETH}`, () => { sh(["ip", "link", "del", VETH]); });
  mustSh(["ip", "addr", "add", `${HOST_IP}/30`, "dev", VETH]);
  mustSh(["ip", "link", "set", VETH, "up"]);
  mustSh(["ip", "-n", NETNS, "link", "set", "lo", "up"]);
  mustSh(["ip", "-n", NETNS, "addr", "add", `${SINK_IP}/30`, "dev", "eth0"]);
  mustSh(["ip", "-n", NETNS, "link", "set", "eth0", "up"]);
  mustSh(["ip", "-n", NETNS, "route", "add", "default", "via", HOST_IP]);

  // The host's FORWARD policy is DROP (Docker's): let the veth's traffic through, both ways.
  for (const dir of ["-o", "-i"]) {
    const rule = ["FORWARD", dir, VETH, "-m", "comment", "--comment", RULE_COMMENT, "-j", "ACCEPT"];
    mustSh(["iptables", "-w", "-I", ...rule]);
    onCleanup(`FORWARD ${dir} ${VETH}`, () => { sh(["iptables", "-w", "-D", ...rule]); });
  }

  // busybox nc -l exits when its stdin hits EOF: the sleep keeps it open.
  onCleanup("listeners", () => {
    for (const l of listeners) if (l.pid !== undefined && l.exitCode === null && l.signalCode === null) {
      try { process.kill(-l.pid, "SIGKILL"); } catch { /* gone already */ }
    }
  });
  for (const g of GROUPS) {
    const l = spawn("ip", ["netns", "exec", NETNS, "sh", "-c", `sleep 100000 | busybox nc -l -p ${g.port} > /dev/null`],
      { detached: true, stdio: "ignore" });
    l.on("error", () => { /* reported by the readiness check */ });
    listeners.push(l);
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ss = sh(["ip", "netns", "exec", NETNS, "ss", "-Hltn"]).out;
    if (GROUPS.every((g) => new RegExp(`:${g.port}\\b`).test(ss))) return;
    if (Date.now() > deadline) throw new Error(`the listeners in ${NETNS} did not start: ${ss || "(none listening)"}`);
    await sleep(50);
  }
}

/** The bridge's MAC address: the containers' gateway's. */
function bridgeMac(bridge: string | undefined): string {
  return bridge ? sh(["cat", `/sys/class/net/${bridge}/address`]).out || "(gone)" : "(unknown)";
}

/** `tsbox stop -t 0`, then the foreground `tsbox run` exits (killing its init if the stop did not). */
async function stopContainer(env: TsboxEnv, c: Background): Promise<void> {
  const r = sh(env.cli("stop", "-t", "0", c.name));
  if (!r.ok) process.stderr.write(`tsbox stop ${c.name}: ${r.err}\n`);
  const timedOut = await Promise.race([c.exited.then(() => false), sleep(15_000).then(() => true)]);
  if (timedOut) await stopTsbox(c);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("run as root");
  const seconds = arg("seconds", 30);
  const interval = arg("interval", 250);
  installSignalHandlers(5_000);
  const load0 = loadavg()[0]!;
  const env = tsboxEnv();

  await setUpSink();
  const subnet = freeSubnet();
  mustSh(env.cli("network", "create", "--subnet", subnet, "-o", `tsbox.link=${VETH}`, "-o", `tsbox.link-rate=${LINK_MBIT}mbit`, NETWORK));
  onCleanup(`network ${NETWORK}`, () => { sh(env.cli("network", "rm", NETWORK)); });
  const netInfo = JSON.parse(mustSh(env.cli("network", "inspect", NETWORK))) as { Options?: Record<string, string> }[];
  const bridge = (netInfo[0]?.Options ?? {})["com.docker.network.bridge.name"];

  const cs: Background[] = [];
  for (const g of GROUPS) {
    cs.push(await startTsbox(env, `fsn-${g.name}`, ["--network", NETWORK, "--network-weight", String(g.weight), "busybox",
      "sh", "-c", `dd if=/dev/zero bs=64k 2>/dev/null | nc ${SINK_IP} ${g.port}`]));
  }
  const rules = classifyRules(VETH);
  const minors = cs.map((c) => {
    const m = rules.get(c.id.slice(0, 12));
    if (m === undefined) throw new Error(`no CLASSIFY rule for ${c.name} (${c.id.slice(0, 12)}) on ${VETH}`);
    return m;
  });
  process.stdout.write(`link ${VETH} shaped to ${LINK_MBIT} Mbit/s; network ${NETWORK} ${subnet}; classes ${
    GROUPS.map((g, i) => `${g.name}→1:${minors[i]!.toString(16)}`).join(" ")}\n`);

  const busy = GROUPS.map(() => true);
  const stops = STOPS.map((s) => ({ idx: GROUPS.findIndex((g) => g.name === s.group), at: s.at * seconds, done: undefined as number | undefined }));
  const nPhases = STOPS.length + 1;
  const phaseBytes = Array.from({ length: nPhases }, () => GROUPS.map(() => 0));
  const phaseSecs = Array.from({ length: nPhases }, () => 0);
  const samples: Sample[] = [];
  // The three classes' bytes, then the link's (root class 1:1: theirs and any other traffic's).
  const read = (): number[] => {
    const b = classBytes(VETH);
    return [...minors.map((m, i) => (busy[i] ? b.get(m) ?? 0 : 0)), b.get(1) ?? 0];
  };
  const exitedEarly: string[] = [];
  const events: { t: number; what: string }[] = [];
  let stalls = 0;
  let prev = read();
  const t0 = Date.now();
  let tPrev = 0;
  let phase = 0;
  let since = 0;
  process.stdout.write(`sampling ${seconds} s every ${interval} ms; ${stops.map((s) => `${GROUPS[s.idx]!.name} stops at ${s.at} s`).join(", ")}\n`);
  while (Date.now() - t0 < seconds * 1000) {
    await sleep(interval);
    const next = stops.find((s) => s.done === undefined);
    if (next && (Date.now() - t0) / 1000 >= next.at) {
      const macBefore = bridgeMac(bridge);
      await stopContainer(env, cs[next.idx]!);
      const macAfter = bridgeMac(bridge);
      events.push({ t: (Date.now() - t0) / 1000, what: `${cs[next.idx]!.name} stopped; bridge ${bridge} MAC ${macBefore} → ${macAfter}` });
      if (macBefore !== macAfter) {
        process.stderr.write(`warning: the gateway's MAC changed when ${cs[next.idx]!.name} left the bridge (${macBefore} → ${macAfter}): ` +
          "the other containers' ARP entries for the gateway are stale until they re-resolve\n");
      }
      busy[next.idx] = false;
      next.done = (Date.now() - t0) / 1000;
      phase++;
      since = next.done;
      prev = read();
      tPrev = (Date.now() - t0) / 1000;
      continue;
    }
    const now = read();
    const t = (Date.now() - t0) / 1000;
    const dt = t - tPrev;
    const delta = GROUPS.map((_, i) => (busy[i] ? Math.max(0, now[i]! - prev[i]!) : 0));
    const linkDelta = Math.max(0, now[GROUPS.length]! - prev[GROUPS.length]!);
    prev = now;
    tPrev = t;
    cs.forEach((c, i) => {
      if (busy[i] && c.child.exitCode !== null && !exitedEarly.includes(c.name)) {
        exitedEarly.push(c.name);
        process.stderr.write(`warning: ${c.name} exited at ${t.toFixed(1)} s (code ${c.child.exitCode}): ${c.output().trim()}\n`);
      }
    });
    const sum = delta.reduce((a, b) => a + b, 0);
    // The first SETTLE_MS after the start and after each stop are left out (TCP's slow start, HTB's
    // first rounds); a sample without bytes (a stall) still counts its time towards the phase's Mbit/s.
    if ((t - dt - since) * 1000 >= SETTLE_MS && dt > 0) {
      delta.forEach((d, i) => { phaseBytes[phase]![i]! += d; });
      phaseSecs[phase]! += dt;
    }
    if (sum <= 0 || dt <= 0) {
      if (stalls++ === 0) {
        const mac = bridgeMac(bridge);
        const neigh = cs.map((c, i) => (busy[i] ? `${c.name}: ${sh(["nsenter", "-t", String(c.pid), "-n", "ip", "neigh", "show", "dev", "eth0"]).out || "(none)"}` : ""))
          .filter((x) => x).join("; ");
        const stale = /lladdr ([0-9a-f:]{17})/g.exec(neigh)?.[1];
        const why = stale !== undefined && stale !== mac
          ? ` — the containers still send to the gateway's old MAC ${stale}, the bridge's is now ${mac}: the bridge's MAC is not pinned ` +
            "(netavark < 1.9, containers/netavark#833), so it changed when a container's veth left; until their ARP entries expire " +
            "their packets are dropped (tsbox pins the bridge's MAC when it makes the bridge: was it made by another version?)"
          : "";
        events.push({ t, what: `no bytes from the busy containers (link: ${linkDelta} bytes); bridge MAC ${mac}; gateway neighbours ${neigh}${why}` });
        process.stderr.write(`warning: no bytes from the busy containers at ${t.toFixed(2)} s (link: ${linkDelta} bytes); bridge MAC ${mac}; ${neigh}${why}\n`);
      }
      continue;
    }
    if (stalls > 0) {
      events.push({ t, what: `traffic again after ${stalls} empty samples` });
      process.stderr.write(`warning: traffic again at ${t.toFixed(2)} s after ${stalls} empty samples\n`);
      stalls = 0;
    }
    samples.push({
      t, dt, mbit: delta.map((d) => (d * 8) / dt / 1e6), linkMbit: (linkDelta * 8) / dt / 1e6,
      shares: delta.map((d, i) => (busy[i] ? d / sum : undefined)), busy: [...busy],
    });
  }
  const tEnd = (Date.now() - t0) / 1000;
  for (const [i, c] of cs.entries()) if (busy[i]) await stopContainer(env, c);

  // Rows per phase: each busy container's share of the bytes sent together
  // (a lone container's against the whole link), and the link used by all.
  const rows: PhaseRow[] = [];
  const phaseNames = ["all three busy", ...STOPS.map((_, k) => `${STOPS.slice(0, k + 1).map((s) => s.group).join(", ")} stopped`)];
  const phaseBusy = phaseNames.map((_, p) => GROUPS.map((g) => !STOPS.slice(0, p).some((s) => s.group === g.name)));
  const row = (r: Omit<PhaseRow, "deviation" | "ok">): PhaseRow => {
    const deviation = r.measured / r.expected - 1;
    return { ...r, deviation, ok: Math.abs(deviation) <= TOLERANCE };
  };
  phaseBytes.forEach((bytes, p) => {
    const exp = expectedShares(phaseBusy[p]!);
    const total = bytes.reduce((a, b) => a + b, 0);
    const secs = phaseSecs[p]!;
    const mbit = (b: number): number => (secs > 0 ? (b * 8) / secs / 1e6 : 0);
    const nBusy = exp.filter((e) => e !== undefined).length;
    GROUPS.forEach((g, i) => {
      if (exp[i] === undefined) return;
      if (nBusy === 1) {
        rows.push(row({ phase: phaseNames[p]!, container: `${g.name} alone`, weight: g.weight, of: "link", mbit: mbit(bytes[i]!), expected: 1, measured: mbit(bytes[i]!) / LINK_MBIT }));
      } else {
        rows.push(row({ phase: phaseNames[p]!, container: g.name, weight: g.weight, of: "share", mbit: mbit(bytes[i]!), expected: exp[i]!, measured: total > 0 ? bytes[i]! / total : 0 }));
      }
    });
    if (nBusy > 1) rows.push(row({ phase: phaseNames[p]!, container: "all (of link)", weight: null, of: "link", mbit: mbit(total), expected: 1, measured: mbit(total) / LINK_MBIT }));
  });

  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const table = [
    "| phase | container | weight | Mbit/s | expected | measured | deviation |",
    "|---|---|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.phase} | ${r.container} | ${r.weight ?? "—"} | ${r.mbit.toFixed(1)} | ${pct(r.expected)}${r.of === "link" ? " of link" : ""} | ${pct(r.measured)} | ${
      r.deviation >= 0 ? "+" : ""}${(r.deviation * 100).toFixed(1)}% ${r.ok ? "OK" : "FAIL"} |`),
  ].join("\n");
  const allOk = rows.every((r) => r.ok);
  process.stdout.write(`\n${table}\n\n${allOk ? "all shares within ±15 % of weighted fair queuing" : "SOME SHARES OUTSIDE ±15 %"}\n`);

  // Undo everything now (not only in runBenchmark's finally), to check that nothing is left.
  const ids = cs.map((c) => c.id.slice(0, 12));
  cleanUp();
  const left = await checkLeftovers(ids, bridge);
  process.stdout.write(left.length === 0 ? "clean-up: nothing left (link, netns, tc, iptables, listeners, network)\n"
    : `clean-up: LEFT BEHIND:\n${left.map((l) => `  ${l}`).join("\n")}\n`);

  const dir = join(REPO, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const stoppedAt = stops.map((s) => ({ group: GROUPS[s.idx]!.name, at: s.done ?? null }));
  writeFileSync(join(dir, "fairshare-net.svg"), chart(samples, stops.map((s) => s.done ?? tEnd), tEnd, interval));
  writeFileSync(join(dir, "fairshare-net.json"), JSON.stringify({
    date: new Date().toISOString(), seconds, intervalMs: interval, settleMs: SETTLE_MS, tolerance: TOLERANCE,
    link: { device: "veth (host side) to a sink namespace", rateMbit: LINK_MBIT }, network: { subnet },
    groups: GROUPS.map((g, i) => ({ ...g, classMinor: minors[i] })), stoppedAt, phaseSeconds: phaseSecs, exitedEarly, events, rows, leftovers: left,
    host: hostFacts([load0, loadavg()[0]!]), samples,
  }, null, 1) + "\n");
  process.stdout.write(`wrote bench/results/fairshare-net.svg and fairshare-net.json\n`);
  if (!allOk || left.length > 0) process.exitCode = 1;
}

/** What this run made that is still there after the clean-up (empty: nothing). */
async function checkLeftovers(ids: readonly string[], bridge: string | undefined): Promise<string[]> {
  // Killed listeners are reaped (by us, by init) once the event loop runs: give them a moment.
  for (let k = 0; k < 25; k++) {
    const left = leftovers(ids, bridge);
    if (left.length === 0) return left;
    await sleep(200);
  }
  return leftovers(ids, bridge);
}

function leftovers(ids: readonly string[], bridge: string | undefined): string[] {
  const left: string[] = [];
  const links = sh(["ip", "-o", "link"]).out.split("\n");
  for (const name of [VETH, ...(bridge ? [bridge] : [])]) {
    const l = links.find((x) => new RegExp(`^\\d+: ${name}[@:]`).test(x));
    if (l) left.push(`link ${name}`);
  }
  if (sh(["ip", "netns", "list"]).out.split("\n").some((l) => l.split(" ")[0] === NETNS)) left.push(`netns ${NETNS}`);
  if (sh(["tc", "qdisc", "show", "dev", VETH]).ok) left.push(`tc qdisc on ${VETH}`);
  for (const table of ["filter", "mangle", "nat"]) {
    for (const l of sh(["iptables", "-w", "-t", table, "-S"]).out.split("\n")) {
      if (l.includes(RULE_COMMENT) || l.includes(VETH) || ids.some((id) => l.includes(id))) left.push(`iptables -t ${table}: ${l}`);
    }
  }
  const groups = new Set(listeners.map((l) => l.pid).filter((p) => p !== undefined));
  for (const l of sh(["ps", "-eo", "pid=,pgid=,args="]).out.split("\n")) {
    const [pid, pgid, ...args] = l.trim().split(/\s+/);
    if (groups.has(Number(pgid))) left.push(`listener process ${pid}: ${args.join(" ")}`);
  }
  return left;
}

/**
 * Each container's share of the bytes the three sent, over time (means over
 * 1-s bins, in %), the expected w/Σw dashed; svg-chart's lineChart. Mbit/s are
 * in the table and the JSON (a share stays within 100 %, where a rate over a
 * jittery interval can overshoot the link's and double the axis).
 */
function chart(samples: readonly Sample[], stopsAt: readonly number[], tEnd: number, interval: number): string {
  const bin = Math.max(1, Math.ceil(tEnd / 40));
  const nBins = Math.ceil(tEnd / bin);
  const series: Series[] = [];
  const busyAt = (t: number): boolean[] => GROUPS.map((g) => !STOPS.some((s, k) => s.group === g.name && t >= stopsAt[k]!));
  GROUPS.forEach((g, i) => {
    const points: [number, number][] = [];
    for (let b = 0; b < nBins; b++) {
      const inBin = samples.filter((s) => s.t > b * bin && s.t <= (b + 1) * bin);
      const all = inBin.reduce((a, s) => a + s.mbit.reduce((x, y) => x + y, 0) * s.dt, 0);
      // Rounded: a lone container's 100.00000000001 % would double the axis.
      if (all > 0) points.push([(b + 1) * bin, Math.round((1e4 * inBin.reduce((a, s) => a + s.mbit[i]! * s.dt, 0)) / all) / 100]);
    }
    series.push({ name: `${g.name} (--network-weight ${g.weight}), measured`, color: g.color, points });
  });
  GROUPS.forEach((g, i) => {
    const points: [number, number][] = [];
    for (let b = 0; b < nBins; b++) {
      const t = (b + 1) * bin;
      points.push([t, 100 * (expectedShares(busyAt(t - bin / 2))[i] ?? 0)]);
    }
    series.push({ name: `${g.name} expected w/Σw`, color: g.color, points, dashed: true });
  });
  return lineChart(
    `Share of a ${LINK_MBIT} Mbit/s link, --network-weight 1:2:4 (tsbox); w4 stopped at ${stopsAt[0]!.toFixed(1)} s, w2 at ${stopsAt[1]!.toFixed(1)} s`,
    `time (s), ${bin}-s means of ${interval}-ms samples`, "% of the bytes the three sent", series, 900, 460);
}

await runBenchmark(main);
