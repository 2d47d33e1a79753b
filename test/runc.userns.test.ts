// tsbox-runc with user namespaces, against the real kernel: a bundle with
// linux.uidMappings/gidMappings runs as root of its own user namespace, which
// the host sees as the mapped ids (/proc/<pid>/uid_map, /proc/<pid>/status),
// files it creates belong to the mapped owner on the host, its devices are the
// host's nodes bound in, `exec` enters the namespace, another container can
// join it by path, bad mappings are refused by name, and delete leaves no
// process, mount, cgroup or state behind.
import { spawnSync } from "node:child_process";
import {
  chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive, busyboxTarball, mountsUnder, until } from "./helpers.js";
import { cgroupDirs, runcHarness, type ConfigEdit } from "./runc.helpers.js";

/** The host ids the container's 0 maps to: uids and gids apart, so a mix-up shows. */
const UID0 = 100000;
const GID0 = 200000;
const SIZE = 65536;

let work: string;
let root: string;
let rootfs: string;
/** a host directory owned by the container's root, bound at /shared */
let shared: string;
const base = runcHarness(() => ({ work, root, rootfs }), "u");
const { runc, state, newId } = base;

const maps = { uidMappings: [{ containerID: 0, hostID: UID0, size: SIZE }], gidMappings: [{ containerID: 0, hostID: GID0, size: SIZE }] };

/** `tsbox-runc spec`'s bundle with a user namespace of its own (maps above) and /shared bound. */
function bundle(args: string[], edit: ConfigEdit = () => {}): string {
  return base.bundle(args, (c) => {
    c.linux.namespaces.push({ type: "user" });
    Object.assign(c.linux, maps);
    c.mounts.push({ destination: "/shared", type: "bind", source: shared, options: ["rbind", "rw"] });
    edit(c);
  });
}

/** "Uid:" / "Gid:" of /proc/<pid>/status: real, effective, saved, filesystem. */
function ids(pid: number, which: "Uid" | "Gid"): number[] {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${which}:`)) ?? "";
  return line.split(/\s+/).slice(1).filter(Boolean).map(Number);
}

function expectGone(id: string, pid: number): void {
  expect(existsSync(join(root, id))).toBe(false);
  expect(cgroupDirs("tsbox/runc", id)).toEqual([]);
  expect(mountsUnder(rootfs)).toEqual([]);
  expect(mountsUnder(shared)).toEqual([]);
  expect(alive(pid)).toBe(false);
}

async function startedAndWaiting(id: string, marker: string): Promise<number> {
  const pid = state(id).pid as number;
  const started = runc(["start", id]);
  expect(started.code, started.stderr).toBe(0);
  await until(() => existsSync(marker) || undefined, "the command to run");
  return pid;
}

beforeAll(() => {
  work = mkdtempSync("/var/tmp/tsbox-runc-userns-");
  // The container reaches its rootfs and bind sources as its mapped root, an
  // unprivileged uid on the host (as runc's does): the way there must be open.
  chmodSync(work, 0o755);
  root = join(work, "root");
  rootfs = join(work, "rootfs");
  shared = join(work, "shared");
  mkdirSync(rootfs);
  mkdirSync(shared);
  chownSync(shared, UID0, GID0);
  const r = spawnSync("tar", ["-xf", busyboxTarball(), "-C", rootfs]);
  expect(r.status).toBe(0);
  // The rootfs is the host root's: the mount point must be there already (the bundle's business, as with runc).
  mkdirSync(join(rootfs, "shared"));
});

afterAll(() => {
  for (const id of existsSync(root) ? readdirSync(root).filter((n) => !n.startsWith(".")) : []) runc(["delete", "--force", id]);
  spawnSync("umount", ["-R", work], { stdio: "ignore" });
  rmSync(work, { recursive: true, force: true });
});

describe("tsbox-runc with a user namespace", () => {
  it("runs as root of the namespace, mapped to the chosen host ids, and leaves nothing after delete", async () => {
    const id = newId();
    const marker = join(shared, `${id}.done`);
    const dir = bundle(["sh", "-c", [
      `id -u > /shared/${id}.uid`, `id -g > /shared/${id}.gid`,
      `cat /proc/self/uid_map > /shared/${id}.uid_map`,
      `stat -c '%F %t:%T' /dev/null > /shared/${id}.null`, "echo discarded > /dev/null",
      `echo file > /shared/${id}.file`, `mkdir /shared/${id}.dir`,
      `touch /shared/${id}.done`, "exec sleep 1000"].join(" && ")]);
    const created = runc(["create", "--bundle", dir, id]);
    expect(created.code, created.stderr).toBe(0);
    const pid = await startedAndWaiting(id, marker);

    // Inside: root, and the map it sees is the one the bundle gave.
    expect(readFileSync(join(shared, `${id}.uid`), "utf8").trim()).toBe("0");
    expect(readFileSync(join(shared, `${id}.gid`), "utf8").trim()).toBe("0");
    expect(readFileSync(join(shared, `${id}.uid_map`), "utf8").trim().split(/\s+/)).toEqual(["0", String(UID0), String(SIZE)]);
    // Outside: the process is the host's UID0/GID0, in a user namespace not the host's.
    expect(readFileSync(`/proc/${pid}/uid_map`, "utf8").trim().split(/\s+/)).toEqual(["0", String(UID0), String(SIZE)]);
    expect(readFileSync(`/proc/${pid}/gid_map`, "utf8").trim().split(/\s+/)).toEqual(["0", String(GID0), String(SIZE)]);
    expect(ids(pid, "Uid")).toEqual([UID0, UID0, UID0, UID0]);
    expect(ids(pid, "Gid")).toEqual([GID0, GID0, GID0, GID0]);
    expect(readlinkSync(`/proc/${pid}/ns/user`)).not.toBe(readlinkSync("/proc/self/ns/user"));
    // What it creates is the mapped owner's on the host.
    for (const f of [`${id}.file`, `${id}.dir`]) {
      const st = statSync(join(shared, f));
      expect([st.uid, st.gid]).toEqual([UID0, GID0]);
    }
    // mknod is not allowed there: /dev/null is the host's node, bound in.
    expect(readFileSync(join(shared, `${id}.null`), "utf8").trim()).toBe("character special file 1:3");

    // exec enters the same user namespace.
    const ex = runc(["exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.stdout.split(/\s+/).filter(Boolean)).toEqual(["0", "0", String(UID0), String(SIZE)]);

    expect(runc(["kill", id, "KILL"]).code).toBe(0);
    await until(() => (state(id).status === "stopped" ? true : undefined), "the container to stop");
    const deleted = runc(["delete", id]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expectGone(id, pid);
  });

  it("runs the process as a mapped non-root user: its files are that user's mapped ids", () => {
    const id = newId();
    const dir = bundle(["sh", "-c", `id -u; id -g; echo x > /shared/${id}.user`], (c) => {
      c.process.user = { uid: 1000, gid: 1000 };
    });
    chmodSync(shared, 0o777);
    try {
      const r = runc(["run", "--bundle", dir, id]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split("\n").filter(Boolean)).toEqual(["1000", "1000"]);
    } finally {
      chmodSync(shared, 0o755);
    }
    const st = statSync(join(shared, `${id}.user`));
    expect([st.uid, st.gid]).toEqual([UID0 + 1000, GID0 + 1000]);
    expect(existsSync(join(root, id))).toBe(false);
    expect(cgroupDirs("tsbox/runc", id)).toEqual([]);
    expect(mountsUnder(rootfs)).toEqual([]);
  });

  it("without a network namespace of its own, /sys is the host's bound in, and the container still runs", () => {
    const id = newId();
    const dir = bundle(["sh", "-c", "ls /sys/class/net | grep -c . ; cat /proc/self/uid_map"], (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== "network");
    });
    const r = runc(["run", "--bundle", dir, id]);
    expect(r.code, r.stderr).toBe(0);
    const hostLinks = readdirSync("/sys/class/net").length;
    expect(r.stdout.split(/\s+/).filter(Boolean)).toEqual([String(hostLinks), "0", String(UID0), String(SIZE)]);
    expect(existsSync(join(root, id))).toBe(false);
    expect(cgroupDirs("tsbox/runc", id)).toEqual([]);
    expect(mountsUnder(rootfs)).toEqual([]);
  });

  it("joins another container's user namespace by path, making its other namespaces inside it", async () => {
    const first = newId();
    const marker = join(shared, `${first}.up`);
    expect(runc(["create", "--bundle", bundle(["sh", "-c", `touch /shared/${first}.up; exec sleep 1000`]), first]).code).toBe(0);
    const pid1 = await startedAndWaiting(first, marker);

    const id = newId();
    const dir = bundle(["sh", "-c", "id -u; echo $$; cat /proc/self/uid_map"], (c) => {
      c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === "user" ? { type: "user", path: `/proc/${pid1}/ns/user` } : n));
      delete c.linux.uidMappings;
      delete c.linux.gidMappings;
    });
    const r = runc(["run", "--bundle", dir, id]);
    expect(r.code, r.stderr).toBe(0);
    // Root of the joined namespace (same map), PID 1 of a PID namespace of its own.
    expect(r.stdout.split(/\s+/).filter(Boolean)).toEqual(["0", "1", "0", String(UID0), String(SIZE)]);
    expect(existsSync(join(root, id))).toBe(false);
    expect(cgroupDirs("tsbox/runc", id)).toEqual([]);

    expect(runc(["delete", "--force", first]).code).toBe(0);
    expectGone(first, pid1);
  });

  it("binds a source only the host's root may reach (mode 700), opened before the process becomes the namespace's root, as runc's mount fds", () => {
    const closed = join(work, `closed-${newId()}`);
    mkdirSync(join(closed, "dir"), { recursive: true });
    writeFileSync(join(closed, "dir", "foo.txt"), "inside\n");
    chmodSync(closed, 0o700);
    const id = newId();
    const dir = bundle(["cat", "/home/foo.txt"], (c) => {
      c.mounts.push({ destination: "/home", type: "bind", source: join(closed, "dir"), options: ["bind"] });
    });
    const r = runc(["run", "--bundle", dir, id]);
    expect(r).toMatchObject({ code: 0, stdout: "inside\n", stderr: "" });
    expect(mountsUnder(closed)).toEqual([]);
  });

  it("refuses mappings it cannot honour, by name, creating nothing", () => {
    const cases: [(c: Record<string, any>) => void, RegExp][] = [
      [(c) => { c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== "user"); }, /uidMappings\/gidMappings are set but there is no user namespace/],
      [(c) => { delete c.linux.gidMappings; }, /no gid mappings found/],
      [(c) => { c.linux.uidMappings = [{ containerID: 1, hostID: UID0, size: 10 }]; }, /no root user mapping found/],
      [(c) => { c.process.user = { uid: SIZE + 5, gid: 0 }; }, new RegExp(`process.user.uid ${SIZE + 5} is not mapped`)],
      [(c) => {
        c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === "ipc" ? { type: "ipc", path: "/proc/1/ns/ipc" } : n));
      }, /joining an existing ipc namespace .* with a new user namespace is not supported/],
      [(c) => { c.linux.uidMappings = [{ containerID: 0, hostID: 4294967290, size: 100 }]; }, /uidMappings\[0\] is out of the 32-bit id range/],
    ];
    for (const [edit, message] of cases) {
      const id = newId();
      const r = runc(["create", "--bundle", bundle(["true"], edit), id]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(join(root, id))).toBe(false);
      expect(cgroupDirs("tsbox/runc", id)).toEqual([]);
    }
  });

  it("a map the kernel refuses fails the create with its message, leaving nothing", () => {
    const id = newId();
    // Overlapping ranges: valid JSON, refused by the kernel when the launcher writes uid_map.
    const dir = bundle(["true"], (c) => {
      c.linux.uidMappings = [{ containerID: 0, hostID: UID0, size: 10 }, { containerID: 5, hostID: UID0 + 100, size: 10 }];
    });
    const r = runc(["create", "--bundle", dir, id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/uid_map .*Invalid argument/);
    expect(existsSync(join(root, id))).toBe(false);
    expect(cgroupDirs("tsbox/runc", id)).toEqual([]);
    expect(mountsUnder(rootfs)).toEqual([]);
  });
});
