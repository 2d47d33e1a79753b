// A container's share of a link, like its share of the CPU. A network may name
// the link its containers' traffic leaves by (`network create -o
// tsbox.link=DEV -o tsbox.link-rate=100mbit`): tsbox puts an HTB on that
// device's egress at the link's rate, and each container on the network gets a
// class whose guaranteed rate is tiny and whose quantum is proportional to its
// --network-weight (default 1), with the link as ceiling: when the link is
// busy the backlogged classes share it in proportion to their weights (HTB
// lends the spare rate by quantum, as deficit round robin does), and a
// container alone may use all of it. Packets are classified before NAT hides
// their source, by an iptables CLASSIFY rule (skb->priority, which HTB reads
// first) on the container's address and the device. --network-rate caps a
// container's egress (a tbf on its eth0, inside its namespace, as the CNI
// bandwidth plugin shapes; and the class's ceiling on a shaped link).
// Measured here (shared note tc-weighted-share): HTB with these quanta keeps
// 1:2:4 within ±15 % with GSO on; DRR, QFQ, SFQ and fq_codel are not in every
// kernel (not in this VM's).

import { spawnSync } from "node:child_process";
import { TsboxError, UsageError } from "../errors.js";
import { log } from "../log.js";

/** Bytes per weight unit of an HTB class's quantum (a GSO packet is up to 64 KiB: smaller quanta lose the ratio). */
export const QUANTUM_PER_WEIGHT = 65536;
/** The guaranteed rate per weight unit: next to nothing, so that the link is shared by quantum. */
const RATE_PER_WEIGHT_KBIT = 100;
const DEFAULT_MINOR = 0xffff;

export interface Link {
  device: string;
  /** bits per second */
  rate: number;
}

/** One container's class on a shaped link (recorded for release). */
export interface LinkClass {
  device: string;
  minor: number;
  ip: string;
}

/** "100mbit", "10m", "1g", "500kbit", "2000000" → bits per second (decimal units, as tc's). */
export function parseRate(v: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(k|m|g)?(?:bit|bps|b)?$/i.exec(v.trim());
  if (!m) throw new UsageError(`invalid ${flag} ${v}: expected a rate such as 100mbit, 10m or 500kbit`);
  const n = Number(m[1]) * ({ k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? "").toLowerCase() as "k" | "m" | "g"] ?? 1);
  if (!Number.isFinite(n) || n < 8000) throw new UsageError(`invalid ${flag} ${v}: at least 8kbit`);
  return Math.round(n);
}

export function checkWeight(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError(`invalid --network-weight ${v}: an integer from 1 to 1000`);
  return n;
}

function run(cmd: string, args: string[]): { code: number; err: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
  return { code: r.status ?? 1, err: (r.stderr ?? "").trim().split("\n")[0] ?? "" };
}

function must(cmd: string, args: string[], what: string): void {
  const r = run(cmd, args);
  if (r.code !== 0) throw new TsboxError(`${what}: ${r.err || `${cmd} exited ${r.code}`}`);
}

const kbit = (bits: number): string => `${Math.max(1, Math.round(bits / 1000))}kbit`;

/** The link's HTB root and its default class, unless they are there (the caller holds the network lock). */
export function ensureLinkShaper(link: Link): void {
  const shown = spawnSync("tc", ["qdisc", "show", "dev", link.device], { encoding: "utf8" });
  if (shown.status !== 0) throw new TsboxError(`network link ${link.device}: ${String(shown.stderr).trim() || "no such device"}`);
  if (/qdisc htb 1: root/.test(shown.stdout)) return;
  must("tc", ["qdisc", "replace", "dev", link.device, "root", "handle", "1:", "htb", "default", DEFAULT_MINOR.toString(16)], `shaping ${link.device}`);
  must("tc", ["class", "replace", "dev", link.device, "parent", "1:", "classid", "1:1", "htb", "rate", kbit(link.rate), "ceil", kbit(link.rate)],
    `shaping ${link.device}`);
  // Traffic of no container (the host's own) shares the link with the weight of one.
  must("tc", ["class", "replace", "dev", link.device, "parent", "1:1", "classid", `1:${DEFAULT_MINOR.toString(16)}`, "htb",
    "rate", `${RATE_PER_WEIGHT_KBIT}kbit`, "ceil", kbit(link.rate), "quantum", String(QUANTUM_PER_WEIGHT)], `shaping ${link.device}`);
}

/** iptables arguments that add (-I) or delete (-D) the container's CLASSIFY rule. */
function classifyRule(op: "-I" | "-D", c: LinkClass, comment: string): string[] {
  return ["-w", "-t", "mangle", op, "POSTROUTING", "-s", c.ip, "-o", c.device, "-m", "comment", "--comment", comment,
    "-j", "CLASSIFY", "--set-class", `1:${c.minor.toString(16)}`];
}

/** The container's class on the link and the rule that puts its packets in it. */
export function addLinkClass(link: Link, c: LinkClass, weight: number, cap: number | undefined, comment: string): void {
  const ceil = cap === undefined ? link.rate : Math.min(cap, link.rate);
  must("tc", ["class", "replace", "dev", link.device, "parent", "1:1", "classid", `1:${c.minor.toString(16)}`, "htb",
    "rate", `${RATE_PER_WEIGHT_KBIT * weight}kbit`, "ceil", kbit(ceil), "quantum", String(QUANTUM_PER_WEIGHT * weight)],
  `--network-weight on ${link.device}`);
  // HTB's default leaf holds 1000 packets whatever their size: seconds of queue for a cubic sender
  // at these rates; 256 KB keeps the delay to tens of ms and the shares as they are (the lab's).
  must("tc", ["qdisc", "replace", "dev", link.device, "parent", `1:${c.minor.toString(16)}`, "handle", `${c.minor.toString(16)}:`,
    "bfifo", "limit", "256kb"], `--network-weight on ${link.device}`);
  must("iptables", classifyRule("-I", c, comment), `--network-weight on ${link.device}`);
}

/** Removes what addLinkClass made; failures are logged (the device may be gone). */
export function removeLinkClass(c: LinkClass, comment: string): void {
  const d = run("iptables", classifyRule("-D", c, comment));
  if (d.code !== 0) log().warn({ device: c.device, err: d.err }, "removing the classify rule");
  const t = run("tc", ["class", "del", "dev", c.device, "classid", `1:${c.minor.toString(16)}`]);
  if (t.code !== 0) log().warn({ device: c.device, err: t.err }, "removing the link class");
}

/** --network-rate: a tbf on the container's eth0, in its namespace (the container cannot change it without CAP_NET_ADMIN). */
export function capEgress(netns: string, iface: string, rate: number): void {
  // A burst of at least one ms at the rate and at least one jumbo-free MTU; 50 ms of queue.
  const burst = Math.max(1600, Math.ceil(rate / 8 / 1000) * 4);
  must("nsenter", [`--net=${netns}`, "tc", "qdisc", "replace", "dev", iface, "root", "tbf", "rate", kbit(rate), "burst", String(burst),
    "latency", "50ms"], "--network-rate");
}

/** Removes tsbox's HTB from the link (network rm of the last network on it); not someone else's qdisc. */
export function removeLinkShaper(link: Link): void {
  const shown = spawnSync("tc", ["qdisc", "show", "dev", link.device], { encoding: "utf8" });
  if (!new RegExp(`qdisc htb 1: root .*default 0x${DEFAULT_MINOR.toString(16)}`).test(shown.stdout ?? "")) return;
  const r = run("tc", ["qdisc", "del", "dev", link.device, "root"]);
  if (r.code !== 0) log().warn({ device: link.device, err: r.err }, "removing the link's shaper");
}
