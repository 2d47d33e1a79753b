// OCI mount options → mount(2) flags and data, as a table (runc's specconv).

export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, SYNCHRONOUS: 0x10, REMOUNT: 0x20,
  MANDLOCK: 0x40, DIRSYNC: 0x80, NOSYMFOLLOW: 0x100, NOATIME: 0x400, NODIRATIME: 0x800,
  BIND: 0x1000, MOVE: 0x2000, REC: 0x4000, SILENT: 0x8000, UNBINDABLE: 0x20000,
  PRIVATE: 0x40000, SLAVE: 0x80000, SHARED: 0x100000, RELATIME: 0x200000, STRICTATIME: 0x1000000,
} as const;

const SET: Record<string, number> = {
  ro: MS.RDONLY, nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC, sync: MS.SYNCHRONOUS,
  remount: MS.REMOUNT, mand: MS.MANDLOCK, dirsync: MS.DIRSYNC, noatime: MS.NOATIME,
  nodiratime: MS.NODIRATIME, bind: MS.BIND, rbind: MS.BIND | MS.REC, relatime: MS.RELATIME,
  strictatime: MS.STRICTATIME, nosymfollow: MS.NOSYMFOLLOW,
};

// Options that only clear a flag (the default) are accepted and ignored.
const CLEAR = new Set(["rw", "suid", "dev", "exec", "async", "atime", "diratime", "norelatime", "nostrictatime", "nomand"]);

// Propagation is applied to the whole tree by PRIVATE; per-mount settings are accepted.
const PROPAGATION = new Set(["private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"]);

export function mountFlags(options: readonly string[] = []): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = SET[o];
    if (f !== undefined) flags |= f;
    else if (!CLEAR.has(o) && !PROPAGATION.has(o)) data.push(o);
  }
  return { flags, data: data.join(",") };
}

/** Every option mountFlags knows (as a flag, a cleared flag or a propagation): `tsbox-runc features`. */
export function knownMountOptions(): string[] {
  return [...Object.keys(SET), ...CLEAR, ...PROPAGATION].sort();
}
