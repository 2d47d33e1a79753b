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

// Recursive mount attributes (runc's recAttr, mount_setattr(2) with AT_RECURSIVE):
// option → [clear?, MOUNT_ATTR_* bit]. Applied to the mount and every mount below it.
export const MOUNT_ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, ATIME: 0x70, RELATIME: 0x0, NOATIME: 0x10, STRICTATIME: 0x20,
  NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000,
} as const;
const A = MOUNT_ATTR;
const REC_ATTR: Record<string, [clear: boolean, attr: number]> = {
  rro: [false, A.RDONLY], rrw: [true, A.RDONLY], rnosuid: [false, A.NOSUID], rsuid: [true, A.NOSUID],
  rnodev: [false, A.NODEV], rdev: [true, A.NODEV], rnoexec: [false, A.NOEXEC], rexec: [true, A.NOEXEC],
  rnodiratime: [false, A.NODIRATIME], rdiratime: [true, A.NODIRATIME],
  rrelatime: [false, A.RELATIME], rnorelatime: [true, A.RELATIME], rnoatime: [false, A.NOATIME], ratime: [true, A.NOATIME],
  rstrictatime: [false, A.STRICTATIME], rnostrictatime: [true, A.STRICTATIME],
  rnosymfollow: [false, A.NOSYMFOLLOW], rsymfollow: [true, A.NOSYMFOLLOW],
};

/** The recursive attributes the options ask for (undefined: none), as mount_setattr takes them. */
export function recursiveAttrs(options: readonly string[] = []): { set: number; clear: number } | undefined {
  let set = 0;
  let clear = 0;
  let any = false;
  for (const o of options) {
    const r = REC_ATTR[o];
    if (r === undefined) continue;
    any = true;
    const [isClear, attr] = r;
    if (attr === A.RELATIME || attr === A.NOATIME || attr === A.STRICTATIME) {
      // The atime mode is one field: setting one clears the field (the kernel's rule),
      // clearing one goes back to relatime, the default.
      clear |= A.ATIME;
      if (!isClear) set = (set & ~A.ATIME) | attr;
      else set &= ~A.ATIME;
    } else if (isClear) {
      clear |= attr;
      set &= ~attr;
    } else {
      set |= attr;
      clear &= ~attr;
    }
  }
  return any ? { set, clear } : undefined;
}

export function mountFlags(options: readonly string[] = []): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = SET[o];
    if (f !== undefined) flags |= f;
    else if (!CLEAR.has(o) && !PROPAGATION.has(o) && REC_ATTR[o] === undefined) data.push(o);
  }
  return { flags, data: data.join(",") };
}

/** Every option mountFlags knows (as a flag, a cleared flag or a propagation): `tsbox-runc features`. */
export function knownMountOptions(): string[] {
  return [...Object.keys(SET), ...CLEAR, ...PROPAGATION, ...Object.keys(REC_ATTR)].sort();
}
