// `--security-opt` as Docker takes it: the client reads a seccomp profile file
// and sends its JSON inline (docker/cli parseSecurityOpts), the daemon parses
// the options (moby daemon/daemon_unix.go parseSecurityOpt) and builds the
// filter (daemon/seccomp_linux.go WithSeccomp). The inline form is what
// `inspect` shows as HostConfig.SecurityOpt.

import { UsageError } from "../../errors.js";
import type { LinuxSeccomp } from "../spec.js";
import { defaultProfile, parseProfile, setupSeccomp, type SeccompPlatform } from "./docker-profile.js";

/** moby's dconfig.SeccompProfileDefault / SeccompProfileUnconfined */
export const SECCOMP_BUILTIN = "builtin";
export const SECCOMP_UNCONFINED = "unconfined";

export interface SecurityOptions {
  /** "" (Docker's default profile), "builtin", "unconfined" or a profile's JSON text */
  seccompProfile: string;
  noNewPrivileges: boolean;
}

/**
 * The client's step: checks each option's shape and replaces `seccomp=FILE` by
 * `seccomp=<the file's JSON, compacted>`. `read` reads a file (throws as fs does).
 */
export function inlineSecurityOpts(opts: readonly string[], read: (path: string) => string): string[] {
  return opts.map((opt) => {
    let [k, v, ok] = cut(opt, "=");
    if (!ok && k !== "no-new-privileges") [k, v, ok] = cut(opt, ":");
    if ((!ok || v === "") && k !== "no-new-privileges") throw new UsageError(`invalid --security-opt: ${JSON.stringify(opt)}`);
    if (k !== "seccomp" || v === SECCOMP_BUILTIN || v === SECCOMP_UNCONFINED) return opt;
    let text: string;
    try {
      text = read(v);
    } catch (e) {
      // Go's wording: "open FILE: no such file or directory"
      const why = (e as Error).message.replace(/^E[A-Z]+: /, "").replace(/, \w+ '.*'$/, "");
      throw new UsageError(`opening seccomp profile (${v}) failed: open ${v}: ${why}`);
    }
    try {
      return `seccomp=${JSON.stringify(JSON.parse(text))}`;
    } catch (e) {
      throw new UsageError(`compacting json for seccomp profile (${v}) failed: ${(e as Error).message}`);
    }
  });
}

/** The daemon's step (parseSecurityOpt), with its error texts. */
export function parseSecurityOpts(opts: readonly string[]): SecurityOptions {
  const out: SecurityOptions = { seccompProfile: "", noNewPrivileges: false };
  for (const opt of opts) {
    if (opt === "no-new-privileges") {
      out.noNewPrivileges = true;
      continue;
    }
    let [k, v, ok] = cut(opt, "=");
    if (!ok) [k, v, ok] = cut(opt, ":");
    if (!ok) throw new UsageError(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    switch (k) {
      case "seccomp":
        out.seccompProfile = v;
        break;
      case "no-new-privileges": {
        const b = parseBool(v);
        if (b === undefined) throw new UsageError(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.noNewPrivileges = b;
        break;
      }
      default:
        // label=, apparmor= and writable-cgroups are Docker's too, but tsbox has
        // neither SELinux, AppArmor nor writable cgroups: refused, not ignored.
        throw new UsageError(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return out;
}

/**
 * The filter the container gets (moby WithSeccomp): none when unconfined, or
 * privileged without a profile of its own; else the given or default profile
 * for the spec's final bounding set.
 */
export function containerSeccomp(opts: SecurityOptions, privileged: boolean, bounding: readonly string[],
  platform: SeccompPlatform): LinuxSeccomp | undefined {
  const p = opts.seccompProfile;
  if (p === SECCOMP_UNCONFINED) return undefined;
  if (p === "" || p === SECCOMP_BUILTIN) return privileged ? undefined : setupSeccomp(defaultProfile(), bounding, platform);
  return setupSeccomp(parseProfile(p), bounding, platform);
}

function cut(s: string, sep: string): [string, string, boolean] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, "", false] : [s.slice(0, i), s.slice(i + 1), true];
}

/** Go's strconv.ParseBool */
function parseBool(v: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  return undefined;
}
