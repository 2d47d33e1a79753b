// What tsbox holds on the host's network, recorded host-wide (not per --root:
// addresses, ports and subnets are the host's): one file per lease, created
// with O_EXCL, as the CNI host-local plugin keeps its addresses. Creating the
// file is the allocation, so two tsbox processes never get the same address
// or port. Each file names its holder (the --root and the container, or the
// network), so what a crash left is found and freed. A scope's directory (a
// network's addresses, a link's classes) is removed once empty, and that races
// with an allocation between its mkdir and its create: both are done holding
// NETWORK_LOCK (ports and subnets, in directories that stay, need no lock).
// Under /run: leases go with the veths and rules at a reboot.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { errnoCode } from "../errors.js";

export const LEASE_ROOT = process.env.TSBOX_NET_RUN_DIR ?? "/run/tsbox/net";

/**
 * Host-wide, held by every allocation of an address or a class (and by
 * netavark's setups and teardowns, which share the bridges and chains): the
 * removal of a scope's directory holds it too.
 */
export const NETWORK_LOCK = join(LEASE_ROOT, "netavark.lock");

export type LeaseKind = "ip" | "port" | "subnet" | "class";

/** Who holds a lease: a container of a root, or (subnets) a network of a root. */
export interface Holder {
  root: string;
  /** the container's or the network's id */
  id: string;
}

export interface Lease {
  kind: LeaseKind;
  /** for "ip": the network's id; for "class": the link device; "" for the others */
  scope: string;
  /** the address, "tcp-8080", or "10.90.1.0-24" */
  key: string;
  holder: Holder;
}

function dirOf(kind: LeaseKind, scope: string): string {
  return kind === "ip" || kind === "class" ? join(LEASE_ROOT, kind, scope) : join(LEASE_ROOT, kind);
}

/** Takes the lease; false if someone holds it. */
export function tryLease(kind: LeaseKind, scope: string, key: string, holder: Holder): boolean {
  const dir = dirOf(kind, scope);
  mkdirSync(dir, { recursive: true });
  let fd: number;
  try {
    fd = openSync(join(dir, key), "wx", 0o644);
  } catch (e) {
    if (errnoCode(e) === "EEXIST") return false;
    throw e;
  }
  try {
    writeSync(fd, `${holder.root}\n${holder.id}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Frees the lease if this holder has it (never another's). */
export function releaseLease(kind: LeaseKind, scope: string, key: string, holder: Holder): void {
  const file = join(dirOf(kind, scope), key);
  const h = readHolder(file);
  if (h && h.root === holder.root && h.id === holder.id) rmSync(file, { force: true });
}

/** Who holds the lease now, if anyone. */
export function leaseHolder(kind: LeaseKind, scope: string, key: string): Holder | undefined {
  return readHolder(join(dirOf(kind, scope), key));
}

function readHolder(file: string): Holder | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const [root, id] = text.split("\n");
  return root && id ? { root, id } : undefined;
}

/**
 * Gives the lease to another holder if `l.holder` has it (a warm namespace's
 * address, handed between a container and its slot): the file is replaced
 * whole, so a crash leaves one holder or the other.
 */
export function transferLease(l: Lease, to: Holder): void {
  const file = join(dirOf(l.kind, l.scope), l.key);
  const h = readHolder(file);
  if (!h || h.root !== l.holder.root || h.id !== l.holder.id) throw new Error(`lease ${l.kind} ${l.key} is not held by ${l.holder.id}`);
  const tmp = join(dirOf(l.kind, l.scope), `.${l.key}.${process.pid}.tmp`); // dot files are not leases
  writeFileSync(tmp, `${to.root}\n${to.id}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

/** Every lease on the host (for the crash sweep and `network inspect`). */
export function allLeases(): Lease[] {
  const out: Lease[] = [];
  const list = (dir: string): string[] => {
    try { return readdirSync(dir).filter((n) => !n.startsWith(".")); } catch { return []; }
  };
  for (const kind of ["port", "subnet"] as const) {
    for (const key of list(dirOf(kind, ""))) {
      const holder = readHolder(join(dirOf(kind, ""), key));
      if (holder) out.push({ kind, scope: "", key, holder });
    }
  }
  for (const kind of ["ip", "class"] as const) {
    for (const scope of list(join(LEASE_ROOT, kind))) {
      for (const key of list(dirOf(kind, scope))) {
        const holder = readHolder(join(dirOf(kind, scope), key));
        if (holder) out.push({ kind, scope, key, holder });
      }
    }
  }
  return out;
}

/** Removes a lease file whatever its holder (the sweep, for a holder that is gone). */
export function dropLease(l: Lease): void {
  rmSync(join(dirOf(l.kind, l.scope), l.key), { force: true });
}

/**
 * Removes the temporary files of transfers that a crash cut short from a
 * scope's directory (dot files, never leases); the leases left. The caller
 * holds NETWORK_LOCK, as every transfer does: none is under way.
 */
export function removeTransferLeftovers(kind: "ip" | "class", scope: string): string[] {
  const dir = dirOf(kind, scope);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
  for (const n of names.filter((x) => x.startsWith("."))) rmSync(join(dir, n), { force: true });
  return names.filter((n) => !n.startsWith("."));
}

/**
 * Removes the directory of a scope (a network's addresses, a link's classes)
 * if no lease is in it; whether it did. The caller holds NETWORK_LOCK, under
 * which every lease of a scope is taken (mkdir, then the file): an empty
 * directory then holds no lease and no allocation is half-way through it.
 */
export function removeEmptyScope(kind: "ip" | "class", scope: string): boolean {
  const dir = dirOf(kind, scope);
  if (removeTransferLeftovers(kind, scope).length > 0) return false;
  try {
    rmdirSync(dir);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTEMPTY") return false;
    throw e;
  }
  return true;
}

/** The scopes that have a directory (for the sweep of those whose network is gone). */
export function leaseScopes(kind: "ip" | "class"): string[] {
  try {
    return readdirSync(join(LEASE_ROOT, kind)).filter((n) => !n.startsWith("."));
  } catch {
    return [];
  }
}

/** The port lease's key: one host port per protocol, whatever the host address. */
export function portLeaseKey(protocol: string, port: number): string {
  return `${protocol}-${port}`;
}

/**
 * `system prune`: leases whose holder is gone — a container directory or a
 * network definition that no longer exists (removed by hand, or a root
 * deleted with containers on it). The anchors' are the network layer's own.
 */
export function sweepOrphanLeases(anchorDir: string, warm: { dir: string; exists: (id: string) => boolean }): Lease[] {
  const dropped: Lease[] = [];
  for (const l of allLeases()) {
    if (l.holder.root === anchorDir) continue;
    if (l.holder.root === warm.dir) {
      if (!warm.exists(l.holder.id)) {
        dropLease(l);
        dropped.push(l);
      }
      continue;
    }
    const owner = l.kind === "subnet"
      ? join(l.holder.root, "networks", `${l.holder.id}.json`)
      : join(l.holder.root, "containers", l.holder.id);
    if (!existsSync(owner)) {
      dropLease(l);
      dropped.push(l);
    }
  }
  return dropped;
}
