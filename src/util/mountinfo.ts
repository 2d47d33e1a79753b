// /proc/self/mountinfo: which mount holds a path. Pure over the text (the
// caller reads the file), so the same answer can be checked on fixtures.

/** One mount: where it is, whether it propagates ("shared:N"), and its filesystem type. */
export interface MountEntry { mountPoint: string; shared: boolean; fsType: string }

/** A mountinfo field as written: the kernel escapes space, tab, newline and backslash as \ooo. */
export function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The mount holding `path` (an absolute, resolved path): the longest mount point over it. */
export function mountHolding(path: string, mountinfo: string): MountEntry {
  let best: MountEntry = { mountPoint: "/", shared: false, fsType: "" };
  for (const line of mountinfo.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0) continue;
    const mp = unescapeMountField(f[4] ?? "");
    const inside = mp === "/" || path === mp || path.startsWith(`${mp}/`);
    // Later lines are mounted over earlier ones at the same point: the last wins.
    if (inside && mp.length >= best.mountPoint.length) {
      best = { mountPoint: mp, shared: f.slice(6, sep).some((o) => o.startsWith("shared:")), fsType: f[sep + 1] ?? "" };
    }
  }
  return best;
}
