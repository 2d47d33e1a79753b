// Where the built native code is (build/, made by scripts/build-shim.mjs): the
// shim library, opened once for every binding of it (launch and host calls in
// shim.ts, the page scanner in scan.ts), and the monitor program.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { open } from "ffi-rs";
import { LaunchError } from "../errors.js";
import { packageRoot } from "../util/package.js";

const LIBRARY = "tsbox_shim";
let opened = false;

/** The name ffi-rs knows build/libtsbox_shim.so by, opening it on first use. */
export function lib(): string {
  if (!opened) {
    const path = join(packageRoot(), "build", "libtsbox_shim.so");
    if (!existsSync(path)) {
      throw new LaunchError(`native shim not built: ${path} is missing (run \`node scripts/build-shim.mjs\`)`);
    }
    open({ library: LIBRARY, path });
    opened = true;
  }
  return LIBRARY;
}

export function monitorPath(): string {
  return process.env.TSBOX_MONITOR ?? join(packageRoot(), "build", "tsbox-monitor");
}
