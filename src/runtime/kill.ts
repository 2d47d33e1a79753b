// `kill`: a signal to the container's PID 1; counts as stopped by hand.

import { constants as osConstants } from "node:os";
import { TsboxError, UsageError } from "../errors.js";
import { findContainer, ownerAlive } from "../state/container-store.js";
import { requestStop, signal, thawIfPaused } from "./container-control.js";
import { containerAttributes, recordEvent } from "../state/events.js";

/** Docker's -s: a name with or without SIG, or a number. */
export function parseSignal(sig: string): NodeJS.Signals | number {
  if (/^\d+$/.test(sig)) {
    const n = Number(sig);
    if (n < 1 || n > 64) throw new UsageError(`Invalid signal: ${sig}`);
    return n;
  }
  const name = (sig.toUpperCase().startsWith("SIG") ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in osConstants.signals)) throw new UsageError(`Invalid signal: ${sig}`);
  return name;
}

/** The signal's number, as Docker's kill event gives it. */
export function signalNumber(sig: NodeJS.Signals | number): number {
  return typeof sig === "number" ? sig : osConstants.signals[sig];
}

export async function killContainer(root: string, ref: string, sig: string): Promise<void> {
  const signo = parseSignal(sig);
  const s = findContainer(root, ref);
  if (s.status !== "running" || !ownerAlive(s.owner)) {
    throw new TsboxError(`cannot kill container: ${ref}: container ${s.id} is not running`);
  }
  // As Docker: a container killed by the user counts as stopped by hand.
  requestStop(root, s.id);
  recordEvent(root, "container", "kill", s.id, containerAttributes(s, { signal: String(signalNumber(signo)) }));
  signal(s, signo);
  if (signo === "SIGKILL" || signo === 9) await thawIfPaused(s);
}
