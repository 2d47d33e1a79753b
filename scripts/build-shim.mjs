// Builds build/libtsbox_shim.so from native-shims/*.c with the system C compiler,
// and build/tsbox-monitor (a static executable) from native-shims/monitor/*.c
// linked with the same shim sources, whose spawn path it uses.
// Run by `npm install`/`npm ci` (package.json "install") and safe to re-run:
// nothing is rebuilt while the library is newer than every source.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = join(root, "native-shims");
const outDir = join(root, "build");
const out = join(outDir, "libtsbox_shim.so");
const monitorDir = join(srcDir, "monitor");
const monitorOut = join(outDir, "tsbox-monitor");

const files = readdirSync(srcDir).sort();
const sources = files.filter((f) => f.endsWith(".c")).map((f) => join(srcDir, f));
const inputs = [...sources, ...files.filter((f) => f.endsWith(".h")).map((f) => join(srcDir, f))];
if (sources.length === 0) {
  console.error(`tsbox: no C sources in ${srcDir}`);
  process.exit(1);
}
const monitorSources = readdirSync(monitorDir).sort().filter((f) => f.endsWith(".c")).map((f) => join(monitorDir, f));
const monitorInputs = [...inputs, ...readdirSync(monitorDir).filter((f) => f.endsWith(".h")).map((f) => join(monitorDir, f)), ...monitorSources];
const upToDate = (target, deps) => existsSync(target) && deps.every((f) => statSync(f).mtimeMs < statSync(target).mtimeMs);
const needLib = !upToDate(out, inputs);
const needMonitor = !upToDate(monitorOut, monitorInputs);
if (!needLib && !needMonitor) process.exit(0);

const cc = process.env.CC?.trim() || "cc";
const [ccCmd, ...ccArgs] = cc.split(/\s+/);
const probe = spawnSync(ccCmd, [...ccArgs, "--version"], { stdio: "ignore" });
if (probe.error || probe.status !== 0) {
  console.error(
    "tsbox: cannot build the native shim: no C compiler found; install one, e.g. `apt-get install gcc` (Debian/Ubuntu)",
  );
  process.exit(1);
}

mkdirSync(outDir, { recursive: true });
const common = [...ccArgs, "-std=gnu11", "-Wall", "-Wextra", "-O2"];
if (needLib) build(out, [...common, "-fPIC", "-shared", "-fvisibility=hidden"], sources, "the native shim");
// Static: no dynamic loader or shared libc pages, so the resident set of one
// monitor per container stays small and owns what it maps.
// It needs the shim's launch code (shim.c) only, not the rest of the library.
if (needMonitor) build(monitorOut, [...common, "-static", "-Os"], [...monitorSources, join(srcDir, "shim.c")], "the monitor");

function build(target, flags, srcs, what) {
  const tmp = `${target}.${process.pid}.tmp`;
  const args = [...flags, "-o", tmp, ...srcs];
  const r = spawnSync(ccCmd, args, { stdio: "inherit" });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    console.error(`tsbox: building ${what} failed: ${cc} ${args.join(" ")}`);
    process.exit(1);
  }
  renameSync(tmp, target); // atomic: a concurrently loading process never sees half a file
}
