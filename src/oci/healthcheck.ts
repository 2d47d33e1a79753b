// The container's health check: the image's HEALTHCHECK with run's --health-*
// flags over it, as Docker's daemon merges them at create (a flag's zero value
// keeps the image's), and Docker's defaults where neither says.

import type { ImageConfigBody } from "../image/config.js";
import { UsageError } from "../errors.js";
import { goDurationNs } from "./units.js";

export type Healthcheck = NonNullable<ImageConfigBody["Healthcheck"]>;

/** run's --health-cmd, --health-interval, … as given (durations in ns; 0: not given). */
export interface HealthFlags {
  cmd?: string;
  interval: number;
  timeout: number;
  startPeriod: number;
  retries: number;
  none: boolean;
}

/** Docker's defaults (moby daemon/health.go). */
export const HEALTH_DEFAULTS = { interval: 30e9, timeout: 30e9, startPeriod: 0, retries: 3 } as const;

/** A --health-* duration flag: Go's syntax, not negative. */
export function parseHealthDuration(v: string, flag: string): number {
  const ns = goDurationNs(v);
  if (ns === undefined) throw new UsageError(`invalid argument "${v}" for "${flag}" flag: time: invalid duration "${v}"`);
  if (ns < 0) throw new UsageError(`${flag} cannot be negative`);
  return ns;
}

/** The merged check, or undefined when the container has none (none in the image, --no-healthcheck, or NONE). */
export function containerHealthcheck(image: Healthcheck | undefined, flags: HealthFlags): Healthcheck | undefined {
  if (flags.none) {
    if (flags.cmd !== undefined || flags.interval || flags.timeout || flags.startPeriod || flags.retries) {
      throw new UsageError("--no-healthcheck conflicts with --health-* options");
    }
    return undefined;
  }
  const test = flags.cmd !== undefined ? ["CMD-SHELL", flags.cmd] : image?.Test;
  if (!test || test.length === 0 || test[0] === "NONE") return undefined;
  const pick = (flag: number, img: number | undefined): number | undefined => (flag ? flag : img ? img : undefined);
  const interval = pick(flags.interval, image?.Interval);
  const timeout = pick(flags.timeout, image?.Timeout);
  const startPeriod = pick(flags.startPeriod, image?.StartPeriod);
  const retries = pick(flags.retries, image?.Retries);
  return {
    Test: test,
    ...(interval !== undefined ? { Interval: interval } : {}),
    ...(timeout !== undefined ? { Timeout: timeout } : {}),
    ...(startPeriod !== undefined ? { StartPeriod: startPeriod } : {}),
    ...(retries !== undefined ? { Retries: retries } : {}),
  };
}

/** The argv a probe runs in the container: CMD's as it is, CMD-SHELL's through /bin/sh -c. */
export function healthArgv(test: string[]): string[] {
  if (test[0] === "CMD-SHELL") return ["/bin/sh", "-c", test.slice(1).join(" ")];
  return test[0] === "CMD" ? test.slice(1) : test;
}

/** Go's time.Duration String() of ns (whole ms and up): "30s", "1m30s", "500ms", as Docker's timeout message shows it. */
export function goDurationString(ns: number): string {
  if (ns < 1e9) return `${Math.round(ns / 1e6)}ms`;
  let s = ns / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const sec = `${Number(s.toFixed(9))}s`;
  return h ? `${h}h${m}m${sec}` : m ? `${m}m${sec}` : sec;
}
