// The spec's hooks that run in the runtime's namespaces, as runc runs them:
// each hook's path executed with its args (argv[0] included) and only its
// env, the container's OCI state as JSON on its stdin, its output kept for
// the error. prestart and createRuntime fail the create; poststart and
// poststop failures are warnings (runtime-spec: the lifecycle goes on).

import { spawnSync } from "node:child_process";
import { TsboxError } from "../../errors.js";
import { log } from "../../log.js";
import type { SpecHook, SpecHooks } from "../../oci/spec.js";
import type { OciState } from "./status.js";

export type HookKind = keyof SpecHooks;

/** The state a hook reads (runtime.md "State"), without tsbox-runc's own fields. */
function hookState(s: OciState): string {
  const { owner: _owner, rootfs: _rootfs, created: _created, ...state } = s;
  return JSON.stringify(state);
}

function runHook(kind: HookKind, i: number, h: SpecHook, state: OciState): void {
  const args = h.args ?? [h.path];
  const r = spawnSync(h.path, args.slice(1), {
    argv0: args[0] ?? h.path,
    env: Object.fromEntries((h.env ?? []).map((e) => {
      const at = e.indexOf("=");
      return at < 0 ? [e, ""] : [e.slice(0, at), e.slice(at + 1)];
    })),
    input: hookState(state),
    encoding: "utf8",
    maxBuffer: 1 << 20,
    ...(h.timeout !== undefined ? { timeout: h.timeout * 1000, killSignal: "SIGKILL" as const } : {}),
  });
  const what = `error running ${kind} hook #${i}`;
  const output = `stdout: ${(r.stdout ?? "").trim()}, stderr: ${(r.stderr ?? "").trim()}`;
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT") {
    throw new TsboxError(`${what}: timeout after ${h.timeout} seconds, ${output}`, 1);
  }
  // A hook that does not read its stdin makes writing the state fail with
  // EPIPE: its exit status decides, as in runc (Go's exec ignores that EPIPE).
  if (r.error && (r.error as NodeJS.ErrnoException).code !== "EPIPE") throw new TsboxError(`${what}: ${r.error.message}`, 1);
  if (r.signal) throw new TsboxError(`${what}: signal: ${r.signal}, ${output}`, 1);
  if (r.status !== 0) throw new TsboxError(`${what}: exit status ${r.status}, ${output}`, 1);
}

/** Runs the hooks of these kinds in order; the first failure is thrown. */
export function runHooks(hooks: SpecHooks | undefined, kinds: HookKind[], state: OciState): void {
  for (const kind of kinds) (hooks?.[kind] ?? []).forEach((h, i) => runHook(kind, i, h, state));
}

/** poststart, poststop: a failure is logged and the rest still run. */
export function runHooksWarning(hooks: SpecHooks | undefined, kind: HookKind, state: OciState): void {
  (hooks?.[kind] ?? []).forEach((h, i) => {
    try {
      runHook(kind, i, h, state);
    } catch (e) {
      log().warn({ id: state.id }, (e as Error).message);
    }
  });
}
