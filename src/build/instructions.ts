// The instructions that change only the image's config, as pure functions:
// the config before, the instruction and the variables in scope → the config
// after and the history line the classic builder records for it
// ("/bin/sh -c #(nop)  ENV A=b"). RUN, COPY, ADD, WORKDIR and FROM touch the
// filesystem and live in builder.ts.
import { goDurationNs } from "../oci/units.js";
import { UsageError } from "../errors.js";
import type { ImageConfigBody } from "../image/config.js";
import { expandWord, exposedPorts, jsonForm, parseNameVal, parseWords, validSignal } from "../image/import-changes.js";
import type { Instruction } from "./dockerfile.js";

export const DEFAULT_SHELL = ["/bin/sh", "-c"];

/** What a stage's config gets when its base sets no PATH (the classic builder and BuildKit alike). */
export const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Go's %q of a []string, as the classic builder prints CMD, ENTRYPOINT and SHELL in history. */
export function goQuoted(list: readonly string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(" ")}]`;
}

/** The history line of a config-only step: the shell and `#(nop) ` with the instruction after it. */
export function nop(shell: readonly string[], comment: string): string {
  return [...shell, "#(nop) ", comment].join(" ");
}

export interface ConfigStep {
  config: ImageConfigBody;
  /** the instruction as recorded, after "#(nop) " */
  comment: string;
  /** ENTRYPOINT without CMD in this stage drops the base's CMD; the builder tracks whether CMD was set */
  cmdSet?: boolean;
}

const envKey = (e: string): string => e.slice(0, e.includes("=") ? e.indexOf("=") : e.length);

/** A command in JSON or shell form: the JSON array as is, else the shell with the line. */
export function commandOf(keyword: string, args: string, shell: readonly string[]): string[] {
  const json = jsonForm(args);
  if (json !== undefined) return json;
  if (args.trim() === "") throw new UsageError(`${keyword} requires at least one argument`);
  return [...shell, args];
}

/** Go's time.Duration.String() of `ns`: "0s", "500ms", "30s", "1m30s", "1h0m0s". */
export function goDuration(ns: number): string {
  const num = (x: number): string => String(Number(x.toFixed(9)));
  if (ns === 0) return "0s";
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${num(ns / 1e3)}µs`;
  if (ns < 1e9) return `${num(ns / 1e6)}ms`;
  let s = ns / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h > 0 ? `${h}h` : ""}${h > 0 || m > 0 ? `${m}m` : ""}${num(s)}s`;
}

/** Go's %q of an integer: the rune literal ('A', '\n', '\x02'). */
export function goRune(n: number): string {
  const named: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 39: "\\'", 92: "\\\\" };
  if (named[n] !== undefined) return `'${named[n]}'`;
  if (n >= 0x20 && n < 0x7f) return `'${String.fromCharCode(n)}'`;
  if (n < 0x100) return `'\\x${n.toString(16).padStart(2, "0")}'`;
  return `'${String.fromCodePoint(n)}'`;
}

/** HEALTHCHECK's duration options, in nanoseconds. */
function duration(flag: string, v: string): number {
  const ns = goDurationNs(v);
  if (ns === undefined) throw new UsageError(`Error parsing ${flag}: time: invalid duration "${v}"`);
  return ns;
}

function healthcheck(ins: Instruction): NonNullable<ImageConfigBody["Healthcheck"]> {
  const rest = ins.args.trim();
  if (/^none$/i.test(rest)) return { Test: ["NONE"] };
  const m = /^CMD\s+([\s\S]+)$/i.exec(rest);
  if (!m) throw new UsageError("Unknown type for HEALTHCHECK: expected CMD or NONE");
  const json = jsonForm(m[1] ?? "");
  const hc: NonNullable<ImageConfigBody["Healthcheck"]> = { Test: json !== undefined ? ["CMD", ...json] : ["CMD-SHELL", m[1] ?? ""] };
  const one = (name: string): string | undefined => ins.flags[name]?.[ins.flags[name].length - 1];
  const interval = one("interval");
  const timeout = one("timeout");
  const start = one("start-period");
  const retries = one("retries");
  if (interval !== undefined) hc.Interval = duration("--interval", interval);
  if (timeout !== undefined) hc.Timeout = duration("--timeout", timeout);
  if (start !== undefined) hc.StartPeriod = duration("--start-period", start);
  if (retries !== undefined) {
    if (!/^[0-9]+$/.test(retries)) throw new UsageError(`invalid --retries value: ${retries}`);
    hc.Retries = Number(retries);
  }
  return hc;
}

/**
 * Applies ENV, LABEL, EXPOSE, VOLUME, USER, STOPSIGNAL, CMD, ENTRYPOINT,
 * SHELL, HEALTHCHECK, ONBUILD or MAINTAINER to `config`. `env` holds the
 * variables for $-expansion (ARGs under the config's ENV).
 */
export function applyConfigInstruction(config: ImageConfigBody, ins: Instruction, env: ReadonlyMap<string, string>,
  shell: readonly string[]): ConfigStep {
  const expand = (w: string): string => expandWord(w, env);
  const out: ImageConfigBody = { ...config };
  switch (ins.keyword) {
    case "ENV": {
      const pairs = parseNameVal("ENV", ins.args).map(([k, v]) => [expand(k), expand(v)] as const);
      const list = [...(config.Env ?? [])];
      for (const [k, v] of pairs) {
        if (k === "") throw new UsageError("ENV names can not be blank");
        const i = list.findIndex((e) => envKey(e) === k);
        if (i === -1) list.push(`${k}=${v}`);
        else list[i] = `${k}=${v}`;
      }
      out.Env = list;
      return { config: out, comment: `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(" ")}` };
    }
    case "LABEL": {
      const pairs = parseNameVal("LABEL", ins.args).map(([k, v]) => [expand(k), expand(v)] as const);
      out.Labels = { ...config.Labels };
      for (const [k, v] of pairs) {
        if (k === "") throw new UsageError("LABEL names can not be blank");
        out.Labels[k] = v;
      }
      return { config: out, comment: `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(" ")}` };
    }
    case "EXPOSE": {
      const specs = parseWords(ins.args).map(expand);
      if (specs.length === 0) throw new UsageError("EXPOSE requires at least one argument");
      const ports = specs.flatMap(exposedPorts);
      out.ExposedPorts = { ...config.ExposedPorts };
      for (const p of ports) out.ExposedPorts[p] = {};
      // The classic builder lists them sorted (Go's nat.Sort of the port map's keys).
      return { config: out, comment: `EXPOSE ${[...new Set(ports)].sort().join(" ")}` };
    }
    case "VOLUME": {
      const vols = (jsonForm(ins.args) ?? parseWords(ins.args)).map(expand);
      if (vols.length === 0) throw new UsageError("VOLUME requires at least one argument");
      out.Volumes = { ...config.Volumes };
      for (const v of vols) {
        if (v.trim() === "") throw new UsageError("VOLUME specified can not be an empty string");
        out.Volumes[v] = {};
      }
      // %v, not %q, in the classic builder: `VOLUME [/data /logs]`
      return { config: out, comment: `VOLUME [${vols.join(" ")}]` };
    }
    case "USER": {
      const user = expand(ins.args.trim());
      if (user === "") throw new UsageError("USER requires exactly one argument");
      out.User = user;
      return { config: out, comment: `USER ${user}` };
    }
    case "STOPSIGNAL": {
      const sig = expand(ins.args.trim());
      if (!validSignal(sig)) throw new UsageError(`Invalid signal: ${sig}`);
      out.StopSignal = sig;
      return { config: out, comment: `STOPSIGNAL ${sig}` };
    }
    case "CMD": {
      out.Cmd = commandOf("CMD", ins.args, shell);
      return { config: out, comment: `CMD ${goQuoted(out.Cmd)}`, cmdSet: true };
    }
    case "ENTRYPOINT": {
      const json = jsonForm(ins.args);
      out.Entrypoint = json ?? (ins.args.trim() === "" ? null : [...shell, ins.args]);
      return { config: out, comment: `ENTRYPOINT ${goQuoted(out.Entrypoint ?? [])}` };
    }
    case "SHELL": {
      const json = jsonForm(ins.args);
      if (json === undefined || json.length === 0) throw new UsageError("SHELL requires the arguments to be in JSON form");
      out.Shell = json;
      return { config: out, comment: `SHELL [${json.join(" ")}]` };
    }
    case "HEALTHCHECK": {
      const hc = healthcheck(ins);
      out.Healthcheck = hc;
      // The classic builder prints the struct with %q: `&{["CMD-SHELL" "x"] "30s" "5s" "0s" '\x02'}`.
      const comment = hc.Test[0] === "NONE" && hc.Interval === undefined ? `&{${goQuoted(hc.Test)} "0s" "0s" "0s" '\\x00'}`
        : `&{${goQuoted(hc.Test)} "${goDuration(hc.Interval ?? 0)}" "${goDuration(hc.Timeout ?? 0)}" "${goDuration(hc.StartPeriod ?? 0)}" ${goRune(hc.Retries ?? 0)}}`;
      return { config: out, comment: `HEALTHCHECK ${comment}` };
    }
    case "ONBUILD": {
      const trigger = ins.args.trim();
      const word = (/^\S+/.exec(trigger)?.[0] ?? "").toUpperCase();
      if (word === "ONBUILD") throw new UsageError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (word === "FROM" || word === "MAINTAINER") throw new UsageError(`${word} isn't allowed as an ONBUILD trigger`);
      out.OnBuild = [...(config.OnBuild ?? []), trigger.replace(/^\S+/, word)];
      return { config: out, comment: `ONBUILD ${trigger}` };
    }
    case "MAINTAINER":
      return { config: out, comment: `MAINTAINER ${ins.args.trim()}` };
    default:
      throw new UsageError(`${ins.keyword} does not change only the config`);
  }
}

/** Variables for $-expansion: the stage's ARGs with values, under its ENV. */
export function expansionEnv(config: ImageConfigBody, args: ReadonlyMap<string, string | undefined>): Map<string, string> {
  const env = new Map<string, string>();
  for (const [k, v] of args) if (v !== undefined) env.set(k, v);
  for (const e of config.Env ?? []) {
    const i = e.indexOf("=");
    if (i > 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  return env;
}
