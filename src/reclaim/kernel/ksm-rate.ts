// What the KSM-over-time model (model/ksm-time.ts) needs from this host:
// ksmd's configured rate, the kernel's tick, ksmd's CPU per page (from the
// host profile `mem calibrate` stored), and the copy-on-write breaks of KSM
// pages (/proc/vmstat cow_ksm) and pages scanned, sampled over a window.

import { readdirSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { gunzipSync } from "node:zlib";
import { setTimeout as sleep } from "node:timers/promises";
import type { HostProfile } from "../host-profile.js";
import { DEFAULT_KSM_RATE, wakeSeconds, type KsmRate } from "../model/ksm-time.js";
import { processKsm, readKsm } from "./ksm.js";

/** 1000 / CONFIG_HZ from the kernel's config (/proc/config.gz or /boot/config-RELEASE); 4 ms (HZ 250) when neither says. */
export function kernelJiffyMs(): number {
  const texts: (() => string)[] = [
    () => gunzipSync(readFileSync("/proc/config.gz")).toString("utf8"),
    () => readFileSync(`/boot/config-${release()}`, "utf8"),
  ];
  for (const read of texts) {
    let text: string;
    try {
      text = read();
    } catch {
      continue;
    }
    const m = /^CONFIG_HZ=(\d+)$/m.exec(text);
    if (m && Number(m[1]) > 0) return 1000 / Number(m[1]);
  }
  return DEFAULT_KSM_RATE.jiffyMs;
}

/** ksmd's rate now, with the calibrated CPU costs where the host profile has them. */
export function hostKsmRate(profile?: HostProfile): KsmRate {
  const c = readKsm();
  const k = profile?.ksm;
  return {
    pagesToScan: c.pages_to_scan ?? DEFAULT_KSM_RATE.pagesToScan,
    sleepMillisecs: c.sleep_millisecs ?? DEFAULT_KSM_RATE.sleepMillisecs,
    scanNs: k?.perPageScanned?.median ?? DEFAULT_KSM_RATE.scanNs,
    mergeNs: k?.perPageMerged?.median ?? DEFAULT_KSM_RATE.mergeNs,
    jiffyMs: kernelJiffyMs(),
  };
}

/** /proc/vmstat's cow_ksm: copy-on-write faults on KSM pages since boot (undefined on kernels without it). */
export function cowKsm(): number | undefined {
  const m = /^cow_ksm (\d+)$/m.exec(readFileSync("/proc/vmstat", "utf8"));
  return m ? Number(m[1]) : undefined;
}

export interface KsmRates {
  seconds: number;
  /** pages ksmd looked at per second (pages_scanned), undefined on kernels without the counter */
  scannedPerSecond?: number;
  /** copy-on-write breaks of KSM pages per second, host-wide */
  cowBreaksPerSecond?: number;
  fullScans: number;
}

/** Samples pages_scanned, full_scans and cow_ksm over `seconds`. */
export async function sampleKsmRates(seconds: number): Promise<KsmRates> {
  const a = readKsm(), ca = cowKsm(), t = performance.now();
  await sleep(seconds * 1000);
  const b = readKsm(), cb = cowKsm(), dt = (performance.now() - t) / 1000;
  return {
    seconds: Math.round(dt * 1000) / 1000,
    ...(a.pages_scanned !== undefined && b.pages_scanned !== undefined ? { scannedPerSecond: (b.pages_scanned - a.pages_scanned) / dt } : {}),
    ...(ca !== undefined && cb !== undefined ? { cowBreaksPerSecond: (cb - ca) / dt } : {}),
    fullScans: (b.full_scans ?? 0) - (a.full_scans ?? 0),
  };
}

/** Pages ksmd tracks now (Σ ksm_rmap_items of every process): what one full pass walks. */
export function trackedPages(): number {
  let n = 0;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    n += processKsm(Number(d))?.ksm_rmap_items ?? 0;
  }
  return n;
}

/** The model's view of ksmd on this host now, for `mem ksm status`. */
export interface KsmTiming {
  rate: KsmRate;
  /** pages one full pass walks (trackedPages) */
  trackedPages: number;
  /** one full pass, seconds */
  passSeconds: number;
  /**
   * a new container's pages merged after, seconds: up to the rest of the pass
   * under way before ksmd reaches it, then two looks (one if its contents are
   * already shared), its own pages lengthening the pass
   */
  newContainerSeconds: (pages: number, alreadyShared: boolean) => number;
  /** ksmd's share of one CPU while it scans */
  ksmdCpu: number;
}

export function ksmTiming(profile?: HostProfile): KsmTiming {
  const rate = hostKsmRate(profile);
  const tracked = trackedPages();
  const pass = (pages: number): number => Math.ceil(pages / Math.max(1, rate.pagesToScan)) * wakeSeconds(rate);
  const wake = wakeSeconds(rate);
  return {
    rate, trackedPages: tracked, passSeconds: pass(tracked),
    newContainerSeconds: (pages, shared) => pass(tracked) + (shared ? 1 : 2) * pass(tracked + pages),
    ksmdCpu: wake > 0 ? (Math.max(1, rate.pagesToScan) * rate.scanNs) / 1e9 / wake : 1,
  };
}
