// Where the built native code is (build/, made by scripts/build-shim.mjs): the
// shim library, opened once for every binding of it (launch and host calls in
// shim.ts), the page scanner's library (scan.ts), and the monitor program.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { open } from "./ffi.js";
import { LaunchError } from "../errors.js";
import { packageRoot } from "../util/package.js";

const opened = new Set<string>();

/** Opens build/lib<name>.so once; returns the name ffi-rs knows it by. */
function openBuilt(name: string): string {
  if (!opened.has(name)) {
    const path = join(packageRoot(), "build", `lib${name}.so`);
    if (!existsSync(path)) {
      throw new LaunchError(`native shim not built: ${path} is missing (run \`node scripts/build-shim.mjs\`)`);
    }
    open({ library: name, path });
    opened.add(name);
  }
  return name;
}

/** The name ffi-rs knows build/libtsbox_shim.so by, opening it on first use. */
export function lib(): string {
  return openBuilt("tsbox_shim");
}

/** build/libtsbox_scan.so (native-shims/scan/), for `tsbox mem scan` only. */
export function scanLib(): string {
  return openBuilt("tsbox_scan");
}

export function monitorPath(): string {
  return process.env.TSBOX_MONITOR ?? join(packageRoot(), "build", "tsbox-monitor");
}
