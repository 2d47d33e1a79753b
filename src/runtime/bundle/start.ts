// `tsbox-runc start`: lets a created container's process go on to exec, by
// opening its exec fifo for reading and reading the byte the process writes
// once the open unblocks it (runc's exec()), then removing the fifo: from then
// on the container counts as running.

import { closeSync, constants, existsSync, openSync, readSync, rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { TsboxError, errnoCode } from "../../errors.js";
import { bundleContainerPaths, readBundleSpec } from "../../state/bundle-containers.js";
import { runHooksWarning } from "./hooks.js";
import { hostCgroups, type CgroupHost } from "../running.js";
import { bundleCgroup, bundleContainer, bundleStatus, initAlive, ociState } from "./status.js";

export async function startBundleContainer(root: string, id: string, cgroups: CgroupHost = hostCgroups): Promise<void> {
  const s = bundleContainer(root, id);
  const status = bundleStatus(root, s, () => bundleCgroup(cgroups.hierarchy(), s, cgroups));
  if (status === "stopped") throw new TsboxError("cannot start a container that has stopped", 1);
  if (status === "running" || status === "paused") throw new TsboxError("cannot start an already running container", 1);
  if (status !== "created") throw new TsboxError(`cannot start a container in the ${status} state`, 1);
  const fifo = bundleContainerPaths(root, id).fifo;
  await releaseFifo(fifo, () => initAlive(s));
  rmSync(fifo, { force: true });
  const hooks = readBundleSpec(root, id)?.hooks;
  if (hooks?.poststart?.length) runHooksWarning(hooks, "poststart", ociState(s, "running"));
}

/**
 * Opens the fifo without blocking (a blocking open would wait forever for a
 * process that died) and reads the one byte the container's process writes
 * once its own open returns. Until it has opened its end there is no writer
 * (reads return 0): retried while the process lives. With startContainer
 * hooks the byte comes once they passed; a failing one writes "1" and its
 * error instead, and the process exits (the container stops): that error is
 * start's.
 */
async function releaseFifo(fifo: string, alive: () => boolean): Promise<void> {
  let fd: number;
  try {
    fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new TsboxError("cannot start an already running container", 1);
    throw e;
  }
  try {
    const buf = Buffer.alloc(1);
    /** The byte, if one is there: "0" started, anything else a startContainer hook's failure (its error follows). */
    const takeByte = async (): Promise<boolean> => {
      let n = 0;
      try {
        n = readSync(fd, buf, 0, 1, null);
      } catch (e) {
        if (errnoCode(e) !== "EAGAIN") throw e;
      }
      if (n === 1 && buf[0] === 0x30) return true;
      if (n === 1) throw new TsboxError(await readToEnd(fd, alive) || "the container's startContainer hook failed", 1);
      return false;
    };
    for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
      if (await takeByte()) return;
      // It may have written its byte, exec'd and run to its end between the read above and
      // this check (a short command does): the byte stays in the pipe after it exits, so one
      // more read tells a process that started from one that died before it could.
      if (!alive()) {
        if (await takeByte()) return;
        throw new TsboxError("container process is already dead", 1);
      }
      // Another start took the byte and removed the fifo: the container runs.
      if (!existsSync(fifo)) throw new TsboxError("cannot start an already running container", 1);
      await sleep(delay);
    }
  } finally {
    closeSync(fd);
  }
}

/** The rest of what the process writes, until it closes its end (it exits). */
async function readToEnd(fd: number, alive: () => boolean): Promise<string> {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
    let n = -1;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if (errnoCode(e) !== "EAGAIN") throw e;
    }
    if (n > 0) { chunks.push(Buffer.from(buf.subarray(0, n))); continue; }
    if (n === 0 || !alive()) return Buffer.concat(chunks).toString("utf8");
    await sleep(delay);
  }
}
