// V5 sweep: idle containers holding N MiB of clean page cache, ballooned with
// `mem balloon --auto` (target = working set); predicted reclaimable (idle
// clean cache, no anon without swap) vs bytes reclaimed. Then a container that
// keeps re-reading its cache, ballooned to 8 MiB: the balloon must stop on
// pressure (refaults) or on the kernel's EBUSY rather than thrash it.
// Markdown on stdout, bench/results/validate-balloon.{json,svg}.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { installSignalHandlers, mustSh, onCleanup, runBenchmark, sh } from "./lib.js";
import { REPO, startContainer, tsboxSync, validateBalloon, type BalloonRow } from "./reclaim-harness.js";
import { lineChart } from "./svg-chart.js";
import type { BalloonReport } from "../src/reclaim/kernel/balloon.js";

const MIB = 1024 * 1024;

await runBenchmark(async () => {
  const root = mkdtempSync("/var/tmp/tsbox-bench-balloon-");
  installSignalHandlers(5000);
  onCleanup("state root", () => { sh(["umount", "-R", root], 30_000); rmSync(root, { recursive: true, force: true }); });
  const tar = join(REPO, ".tmp", "test", "busybox.tar");
  mustSh(["bash", "-c", `test -f ${tar} || bash ${join(REPO, "scripts", "make-busybox-rootfs.sh")} ${tar}`]);
  mustSh([process.execPath, "--", join(REPO, "bin", "tsbox.js"), "--root", root, "import", tar, "busybox"]);
  const rows: BalloonRow[] = [];
  for (const mib of [16, 32, 64, 128, 256]) rows.push(await validateBalloon(root, mib, `balloon-${process.pid}-${mib}`));

  // The busy case.
  const dir = mkdtempSync(join(REPO, ".tmp", "reclaim", "busy-"));
  let busy: BalloonReport | undefined;
  try {
    execFileSync("dd", ["if=/dev/urandom", `of=${join(dir, "cache")}`, "bs=1M", "count=64", "conv=fsync", "status=none"]);
    execFileSync("dd", [`if=${join(dir, "cache")}`, "iflag=nocache", "count=0", "status=none"]); // charged to the reader, not to us
    const c = await startContainer(root, `busy-${process.pid}`, ["-v", `${dir}:/data`, "busybox", "sh", "-c",
      "echo ready; while true; do dd if=/data/cache of=/dev/null bs=8M 2>/dev/null; done"], "ready");
    try {
      await new Promise((r) => setTimeout(r, 2000));
      const r = tsboxSync(root, ["mem", "balloon", c.name, "--target", "8m", "--step", "8m", "--format", "json"]);
      if (r.code !== 0) throw new Error(r.stderr);
      busy = JSON.parse(r.stdout) as BalloonReport;
      tsboxSync(root, ["mem", "balloon", c.name, "--deflate"]);
    } finally {
      await c.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const mb = (b: number): string => (b / MIB).toFixed(1);
  const lines = [
    "## Balloon (cgroup v1 memory.limit_in_bytes steps, 16 MiB): predicted reclaimable vs reclaimed",
    "",
    "| cache MiB | usage before | inactive file | active file | anon | target | predicted MiB | reclaimed MiB | error | steps | refaults | stopped by | time s |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.cacheMiB} | ${mb(r.usageBefore)} | ${mb(r.inactiveFile)} | ${mb(r.activeFile)} | ${mb(r.anon)} | ${mb(r.target)} | ${mb(r.predicted)} | ${mb(r.reclaimed)} | ${(r.error * 100).toFixed(1)} % | ${r.steps} | ${r.refaults} | ${r.stoppedBy} | ${r.seconds.toFixed(1)} |`),
    "",
    busy ? `Busy reader (re-reads 64 MiB in a loop), --target 8m: usage ${mb(busy.before.usage)} → ${mb(busy.after.usage)} MiB, ` +
      `${busy.steps} steps, ${busy.refaults} refaults, ${busy.majorFaults} major faults, stopped by ${busy.stoppedBy}, limit left ${busy.limit === undefined ? "unlimited" : mb(busy.limit) + " MiB"}.` : "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
  const out = join(REPO, "bench", "results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "validate-balloon.json"), JSON.stringify({ at: new Date().toISOString(), rows, busy }, null, 2) + "\n");
  writeFileSync(join(out, "validate-balloon.svg"), lineChart("Balloon: reclaimable vs reclaimed", "page cache held (MiB)", "MiB",
    [{ name: "predicted reclaimable", color: "#1f77b4", points: rows.map((r) => [r.cacheMiB, r.predicted / MIB]), dashed: true },
     { name: "reclaimed by mem balloon --auto", color: "#d62728", points: rows.map((r) => [r.cacheMiB, r.reclaimed / MIB]) }]));
});
