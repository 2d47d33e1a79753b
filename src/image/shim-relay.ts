// The unpack worker's mknod and setxattr (beneath the layer root), run by the main thread. ffi-rs
// crashes the process when a worker that used it exits (measured: SIGSEGV at
// worker teardown), so the worker never loads it: it unpacks with
// relayedHostCalls, this module's worker half, as its LayerHostCalls
// (host-calls.ts), and scripts/bundle.mjs fails the build if the worker bundle
// would contain ffi-rs or native/ all the same. A call is synchronous for the
// unpacker (whiteouts and xattrs stay in archive order): the worker posts the
// call and blocks in Atomics.wait until the main thread has run it and stored
// the result (0 or -errno) in a shared Int32Array. Calls are rare (whiteouts,
// devices, xattrs), so the round trip does not matter.
import { getSystemErrorMessage, getSystemErrorName } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";
import type { LayerHostCalls } from "./host-calls.js";

export interface ShimCall {
  type: "shim";
  fn: "mknodBeneath" | "setxattrBeneath";
  args: (string | number | Uint8Array)[];
}

/** [0] = 0 while a call is pending, 1 when done; [1] = its result (0 or -errno). */
export function newRelayState(): SharedArrayBuffer {
  return new SharedArrayBuffer(8);
}

/** Main thread: runs the worker's calls through `shim` (the native binding). */
export function serveShimCalls(state: SharedArrayBuffer, shim: LayerHostCalls): (m: ShimCall) => void {
  const cell = new Int32Array(state);
  return (m) => {
    let rc = 0;
    try {
      const a = m.args;
      if (m.fn === "mknodBeneath") {
        shim.mknodBeneath(String(a[0]), String(a[1]), String(a[2]), Number(a[3]), Number(a[4]), Number(a[5]));
      } else {
        shim.setxattrBeneath(String(a[0]), String(a[1]), String(a[2]), String(a[3]), Buffer.from(a[4] as Uint8Array));
      }
    } catch (e) {
      const errno = typeof e === "object" && e !== null && "errno" in e ? Number((e as { errno: unknown }).errno) : NaN;
      rc = Number.isInteger(errno) && errno < 0 ? errno : -5; // EIO for anything unexpected
    }
    Atomics.store(cell, 1, rc);
    Atomics.store(cell, 0, 1);
    Atomics.notify(cell, 0);
  };
}

// ---- worker half: the unpack worker's LayerHostCalls ----

function relay(fn: ShimCall["fn"], args: ShimCall["args"], path: string): void {
  const state = (workerData as { relay?: SharedArrayBuffer } | null)?.relay;
  const port = parentPort as MessagePort | null;
  if (state === undefined || port === null) throw new Error(`${fn}: no main thread to run it`);
  const cell = new Int32Array(state);
  Atomics.store(cell, 0, 0);
  port.postMessage({ type: "shim", fn, args } satisfies ShimCall);
  while (Atomics.load(cell, 0) === 0) Atomics.wait(cell, 0, 0);
  const rc = Atomics.load(cell, 1);
  if (rc < 0) {
    // Shaped like the shim's errors (and Node's): code, errno, syscall, path.
    const code = getSystemErrorName(rc);
    const syscall = fn === "mknodBeneath" ? "mknod" : "setxattr";
    const err = new Error(`${code}: ${getSystemErrorMessage(rc).toLowerCase()}, ${syscall} '${path}'`) as Error & {
      code: string; errno: number; syscall: string; path: string;
    };
    Object.assign(err, { code, errno: rc, syscall, path });
    throw err;
  }
}

const shown = (root: string, dir: string, name: string): string => [root, dir, name].filter((c) => c !== "").join("/");

/** The host calls of the unpack worker: each is run by the main thread (serveShimCalls). */
export const relayedHostCalls: LayerHostCalls = {
  mknodBeneath(root, dir, name, mode, major, minor) {
    relay("mknodBeneath", [root, dir, name, mode, major, minor], shown(root, dir, name));
  },
  setxattrBeneath(root, dir, name, xattr, value) {
    const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    relay("setxattrBeneath", [root, dir, name, xattr, new Uint8Array(bytes)], shown(root, dir, name));
  },
};
