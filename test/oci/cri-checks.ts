// What a Kubernetes node does through containerd's CRI with a RuntimeClass handler, as TAP checks
// (run by test/oci/cri-runtime.sh against its own containerd):
//
//   tsx test/oci/cri-checks.ts --socket SOCK --handler NAME --image REF --logdir DIR --cgroup-parent P
//
// Pod sandbox (host network, so no CNI is needed; the pod's IPC namespace is held by its pause
// container), two containers joining that namespace by path, exec, logs, stop and remove of
// container and pod. Prints `cri: N passed, N failed`; exit status 1 when one failed.

import { readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { ContainerState, CriClient, GrpcError, map, NamespaceMode, SandboxState, type Decoded, type Msg } from "./cri-client.js";

interface Options {
  socket: string;
  handler: string;
  image: string;
  logdir: string;
  cgroupParent: string;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { socket: "", handler: "", image: "", logdir: "", cgroupParent: "" };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1] ?? "";
    switch (argv[i]) {
      case "--socket": o.socket = v; break;
      case "--handler": o.handler = v; break;
      case "--image": o.image = v; break;
      case "--logdir": o.logdir = v; break;
      case "--cgroup-parent": o.cgroupParent = v; break;
      default: throw new Error(`unknown argument ${String(argv[i])}`);
    }
  }
  if (!o.socket || !o.handler || !o.image || !o.logdir) throw new Error("--socket, --handler, --image and --logdir are required");
  return o;
}

let n = 0;
let passed = 0;
let failed = 0;

function check(what: string, ok: boolean, detail?: unknown): boolean {
  n++;
  if (ok) {
    passed++;
    console.log(`ok ${n} - ${what}`);
  } else {
    failed++;
    console.log(`not ok ${n} - ${what}`);
    if (detail !== undefined) console.log(`  ---\n  ${JSON.stringify(detail)}\n  ...`);
  }
  return ok;
}

/** The gRPC status code of a failed call, or 0 when it succeeded. */
async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    return e instanceof GrpcError ? e.code : -1;
  }
}

const NOT_FOUND = 5;

async function main(o: Options): Promise<number> {
  const cri = new CriClient(o.socket);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    const version = await cri.runtime("Version", { 1: "v1" });
    check("Version answers (containerd's CRI, API v1)", version.str(2) === "containerd" && version.str(4) === "v1", {
      name: version.str(2), version: version.str(3), api: version.str(4),
    });
    const image = await cri.image("ImageStatus", { 1: { 1: o.image } });
    check(`ImageStatus knows ${o.image}`, image.msg(1).str(1) !== "", { id: image.msg(1).str(1) });

    const uid = `tsbox-oci-${process.pid}-${Date.now()}`;
    const namespaces: Msg = { 1: NamespaceMode.NODE, 2: NamespaceMode.CONTAINER, 3: NamespaceMode.POD };
    const sandboxConfig: Msg = {
      1: { 1: "tsbox-oci-pod", 2: uid, 3: "tsbox-oci", 4: 0 },
      3: o.logdir,
      6: map({ "tsbox.test": "cri" }),
      8: { ...(o.cgroupParent ? { 1: o.cgroupParent } : {}), 2: { 1: namespaces } },
    };
    const run = await cri.runtime("RunPodSandbox", { 1: sandboxConfig, 2: o.handler }, 120_000);
    const pod = run.str(1);
    if (!check(`RunPodSandbox with runtime handler ${o.handler}`, pod !== "")) return 1;
    const podStatus = async (): Promise<Decoded> => (await cri.runtime("PodSandboxStatus", { 1: pod })).msg(1);
    check("the pod sandbox is ready", (await podStatus()).int(3) === SandboxState.READY);

    const containerConfig = (name: string, command: string[]): Msg => ({
      1: { 1: name, 2: 0 },
      2: { 1: o.image },
      3: command,
      5: "/tmp",
      6: [{ 1: "FOO", 2: "bar" }],
      11: `${name}.log`,
      15: { 2: { 3: namespaces } },
    });
    const create = async (name: string, command: string[]): Promise<string> =>
      (await cri.runtime("CreateContainer", { 1: pod, 2: containerConfig(name, command), 3: sandboxConfig }, 120_000)).str(1);
    const status = async (id: string): Promise<Decoded> => (await cri.runtime("ContainerStatus", { 1: id })).msg(1);
    const exec = async (id: string, cmd: string[]): Promise<{ out: string; err: string; code: number }> => {
      const r = await cri.runtime("ExecSync", { 1: id, 2: cmd, 3: 30 }, 60_000);
      return { out: r.bytes(1).toString(), err: r.bytes(2).toString(), code: r.int(3) };
    };

    const c1 = await create("c1", ["sh", "-c", "trap 'echo stopping; exit 0' TERM; echo hello-cri; echo err-cri >&2; while :; do sleep 1; done"]);
    check("CreateContainer", c1 !== "");
    check("the container is created, not running", (await status(c1)).int(3) === ContainerState.CREATED);
    await cri.runtime("StartContainer", { 1: c1 }, 120_000);
    check("StartContainer: it runs", (await status(c1)).int(3) === ContainerState.RUNNING);

    const e1 = await exec(c1, ["sh", "-c", 'echo "$FOO"; pwd; id -u']);
    check("ExecSync runs in the container with its env and working directory", e1.out === "bar\n/tmp\n0\n" && e1.code === 0, e1);
    const e2 = await exec(c1, ["sh", "-c", "echo to-stderr >&2; exit 3"]);
    check("ExecSync returns stderr and the exit code", e2.err === "to-stderr\n" && e2.code === 3, e2);

    const c2 = await create("c2", ["sh", "-c", "while :; do sleep 1; done"]);
    await cri.runtime("StartContainer", { 1: c2 }, 120_000);
    check("a second container in the pod runs", (await status(c2)).int(3) === ContainerState.RUNNING);
    const ns = async (id: string, kind: string): Promise<string> => (await exec(id, ["readlink", `/proc/self/ns/${kind}`])).out.trim();
    const ipc1 = await ns(c1, "ipc");
    const ipc2 = await ns(c2, "ipc");
    const hostIpc = readLink("/proc/self/ns/ipc");
    check("both containers joined the pod's IPC namespace (by path), not the host's", ipc1 !== "" && ipc1 === ipc2 && ipc1 !== hostIpc, { ipc1, ipc2, hostIpc });
    const pid1 = await ns(c1, "pid");
    const pid2 = await ns(c2, "pid");
    check("each has a PID namespace of its own (pid: CONTAINER)", pid1 !== "" && pid1 !== pid2, { pid1, pid2 });

    // Logs: containerd writes the CRI log format, `<time> <stream> <F|P> <line>`, to log_directory/log_path.
    const logOf = (name: string): string => {
      try {
        return readFileSync(join(o.logdir, `${name}.log`), "utf8");
      } catch {
        return "";
      }
    };
    for (let i = 0; i < 50 && !logOf("c1").includes("err-cri"); i++) await sleep(100);
    const log1 = logOf("c1");
    check("the container's stdout and stderr are in its CRI log", / stdout F hello-cri\n/.test(log1) && / stderr F err-cri\n/.test(log1), log1);

    await cri.runtime("StopContainer", { 1: c1, 2: 10 }, 60_000);
    const s1 = await status(c1);
    check("StopContainer: it exited through its TERM trap, exit code 0", s1.int(3) === ContainerState.EXITED && s1.int(7) === 0, {
      state: s1.int(3), exit: s1.int(7), reason: s1.str(10),
    });
    for (let i = 0; i < 50 && !logOf("c1").includes("stopping"); i++) await sleep(100);
    check("its TERM trap's output is in the log", logOf("c1").includes(" stdout F stopping\n"));
    await cri.runtime("RemoveContainer", { 1: c1 }, 60_000);
    check("RemoveContainer: the container is gone", (await statusOf(status(c1))) === NOT_FOUND);

    await cri.runtime("StopPodSandbox", { 1: pod }, 120_000);
    check("StopPodSandbox: the pod is not ready", (await podStatus()).int(3) === SandboxState.NOTREADY);
    check("and its other container has exited", (await status(c2)).int(3) === ContainerState.EXITED);
    await cri.runtime("RemovePodSandbox", { 1: pod }, 120_000);
    check("RemovePodSandbox: the pod is gone", (await statusOf(podStatus())) === NOT_FOUND);
    check("with its containers", (await statusOf(status(c2))) === NOT_FOUND);
    return failed > 0 ? 1 : 0;
  } catch (e) {
    check(`the CRI calls completed (${e instanceof Error ? e.message : String(e)})`, false);
    return 1;
  } finally {
    cri.close();
    console.log(`1..${n}`);
    console.log(`cri: ${passed} passed, ${failed} failed`);
  }
}

function readLink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

main(parseArgs(process.argv.slice(2))).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`cri checks: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  },
);
