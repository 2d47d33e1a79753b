// Builds build/libtsbox_shim.so from native-shims/*.c with the system C compiler.
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

const files = readdirSync(srcDir).sort();
const sources = files.filter((f) => f.endsWith(".c")).map((f) => join(srcDir, f));
const inputs = [...sources, ...files.filter((f) => f.endsWith(".h")).map((f) => join(srcDir, f))];
if (sources.length === 0) {
  console.error(`tsbox: no C sources in ${srcDir}`);
  process.exit(1);
}
if (existsSync(out)) {
  const built = statSync(out).mtimeMs;
  if (inputs.every((f) => statSync(f).mtimeMs < built)) process.exit(0);
}

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
const tmp = `${out}.${process.pid}.tmp`;
const args = [...ccArgs, "-std=gnu11", "-Wall", "-Wextra", "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
  "-o", tmp, ...sources];
const r = spawnSync(ccCmd, args, { stdio: "inherit" });
if (r.error || r.status !== 0) {
  rmSync(tmp, { force: true });
  console.error(`tsbox: building the native shim failed: ${cc} ${args.join(" ")}`);
  process.exit(1);
}
renameSync(tmp, out); // atomic: a concurrently loading process never sees half a library
