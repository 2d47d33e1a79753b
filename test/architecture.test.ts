// The layout of src/ as docs/architecture.md describes it: every folder is a
// layer that may import only the layers listed for it, and no file imports
// itself back through others. Pure: reads the sources, runs nothing.

import { readFileSync, readdirSync } from "node:fs";
import { join, posix } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./helpers.js";

type Layer = "base" | "native" | "cgroupfs" | "image" | "network" | "oci" | "state" | "reclaim" | "runtime" | "build" | "cli" | "runc";

/** Who may import whom (besides itself): the table of docs/architecture.md, bottom to top. */
const ALLOWED: Record<Layer, readonly Layer[]> = {
  base: [],
  native: ["base"],
  cgroupfs: ["base", "native"],
  image: ["base", "native"],
  // netavark, leases, networks, ports: the host's network, below the verbs.
  network: ["base", "native"],
  // cgroupfs: the spec's linux.resources is the cgroup managers' input; the default parent and device rules.
  oci: ["base", "native", "cgroupfs", "image"],
  state: ["base", "native", "oci", "cgroupfs"],
  reclaim: ["base", "native", "cgroupfs", "state"],
  runtime: ["base", "native", "cgroupfs", "image", "network", "oci", "state"],
  // Dockerfile builds: each RUN is a container of the runtime; COPY and commits go to the image store.
  build: ["base", "native", "cgroupfs", "image", "network", "oci", "state", "runtime"],
  cli: ["base", "native", "cgroupfs", "image", "network", "oci", "state", "reclaim", "runtime", "build"],
  // tsbox-runc's command line: a top layer beside cli/, over the same executor.
  runc: ["base", "native", "cgroupfs", "oci", "state", "runtime"],
};

/** The one file of image/ that cli/ may import: the store's public API. */
const IMAGE_API = "src/image/index.ts";

export interface Import {
  spec: string;
  /** erased by the compiler: `import type`, `export type`, `{ type A }` only, `typeof import()` */
  typeOnly: boolean;
}

/** The source without comments; strings and template literals are kept as they are. */
function stripComments(src: string): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === "/" && next === "/") {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? src.length : end + 2;
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === "\\" ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Every module a source names: static `import … from`, `export … from`, `import "x"`, and `import("x")` with a literal. */
export function importsOf(source: string): Import[] {
  const src = stripComments(source);
  const found: Import[] = [];
  const statement = /\b(import|export)(\s+type\b)?\s*([\w\s{},*$]*?)\s*\bfrom\s*["']([^"']+)["']/g;
  for (const m of src.matchAll(statement)) {
    const names = m[3] ?? "";
    const braces = /^\{([\s\S]*)\}$/.exec(names.trim());
    const allTypes = braces !== null && braces[1]!.split(",").map((s) => s.trim()).filter((s) => s !== "")
      .every((s) => s.startsWith("type "));
    found.push({ spec: m[4]!, typeOnly: m[2] !== undefined || allTypes });
  }
  for (const m of src.matchAll(/\bimport\s*["']([^"']+)["']/g)) found.push({ spec: m[1]!, typeOnly: false });
  for (const m of src.matchAll(/(\btypeof\s+)?\bimport\s*\(\s*["']([^"']+)["']\s*\)/g)) {
    found.push({ spec: m[2]!, typeOnly: m[1] !== undefined });
  }
  return found;
}

/** A file's layer: its first folder under src/, or base for src/*.ts and util/. */
export function layerOf(file: string): Layer | undefined {
  const parts = file.split("/");
  if (parts[0] !== "src") return undefined;
  if (parts.length === 2 || parts[1] === "util") return "base";
  const folder = parts[1] as Layer;
  return folder in ALLOWED ? folder : undefined;
}

/** The .ts file an import names (relative imports only; the compiler's `.js` suffix stands for `.ts`). */
function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  return posix.normalize(posix.join(posix.dirname(from), spec)).replace(/\.js$/, ".ts");
}

/** Cycles of the import graph (strongly connected components of more than one file, or a self-import). */
export function findCycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) cycles.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

/** One way round a cycle: from its first file (by name) back to it, the shortest path within the cycle. */
function cyclePath(graph: ReadonlyMap<string, ReadonlySet<string>>, component: readonly string[]): string[] {
  const start = component[0]!;
  const inside = new Set(component);
  const via = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const w of graph.get(v) ?? []) {
      if (w === start) {
        const path = [start];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = via.get(u)) path.splice(1, 0, u);
        return [...path, start];
      }
      if (inside.has(w) && !via.has(w)) {
        via.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...component, start];
}

/** Every breach of the layout in `files` (path under the repository → source), one line each. */
export function checkArchitecture(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const graph = new Map<string, Set<string>>();
  for (const [file, source] of files) {
    const layer = layerOf(file);
    if (layer === undefined) {
      problems.push(`${file}: not in a folder of the layout`);
      continue;
    }
    const edges = new Set<string>();
    graph.set(file, edges);
    // native/ffi.ts loads it with require() (see there): that counts as an import too
    if (layer !== "native" && /\brequire\w*\(\s*["']ffi-rs["']\s*\)/.test(source)) {
      problems.push(`${file} → ffi-rs: only native/ binds the C code`);
    }
    for (const { spec, typeOnly } of importsOf(source)) {
      if (spec === "ffi-rs" && layer !== "native") problems.push(`${file} → ${spec}: only native/ binds the C code`);
      const target = resolve(file, spec);
      if (target === undefined) continue;
      if (target.endsWith(".ts") && !files.has(target)) {
        problems.push(`${file} → ${spec}: no such file`);
        continue;
      }
      if (target.endsWith(".ts")) edges.add(target);
      const to = layerOf(target);
      if (to === undefined) {
        problems.push(`${file} → ${spec}: outside the layout`);
      } else if (to !== layer && !ALLOWED[layer].includes(to)) {
        problems.push(`${file} → ${spec}: ${layer}/ may not import ${to}/`);
      } else if (layer === "cli" && to === "image" && target !== IMAGE_API) {
        problems.push(`${file} → ${spec}: cli/ reaches image/ only through image/index.ts`);
      } else if (layer === "oci" && to === "image" && !typeOnly) {
        problems.push(`${file} → ${spec}: oci/ takes only the image config's types from image/`);
      }
    }
  }
  for (const cycle of findCycles(graph)) problems.push(`import cycle: ${cyclePath(graph, cycle).join(" → ")}`);
  return problems;
}

function sources(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(REPO, rel), { withFileTypes: true })) {
      const path = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith(".ts")) out.set(path, readFileSync(join(REPO, path), "utf8"));
    }
  };
  walk(dir);
  return out;
}

describe("the layout of src/", () => {
  it("every import points down the table and no file imports itself back", () => {
    const files = sources("src");
    expect(files.size).toBeGreaterThan(100);
    expect(checkArchitecture(files)).toEqual([]);
  });
});

describe("the check itself", () => {
  const check = (files: Record<string, string>): string[] => checkArchitecture(new Map(Object.entries(files)));

  it("reads static, re-exported, side-effect and dynamic imports, and not those in comments", () => {
    const src = [
      'import { a } from "./a.js";',
      'import type { B } from "./b.js";',
      'import {\n  type C,\n  type D,\n} from "./c.js";',
      'import { type E, f } from "./e.js";',
      'export { g } from "./g.js";',
      'export type { H } from "./h.js";',
      'import "./side.js";',
      'const m = await import("./lazy.js");',
      'type T = typeof import("./t.js");',
      '// import { x } from "./commented.js";',
      '/* const y = import("./also-commented.js"); */',
      'const url = "http://example//x"; import * as ns from "./ns.js";',
    ].join("\n");
    expect(importsOf(src)).toEqual([
      { spec: "./a.js", typeOnly: false },
      { spec: "./b.js", typeOnly: true },
      { spec: "./c.js", typeOnly: true },
      { spec: "./e.js", typeOnly: false },
      { spec: "./g.js", typeOnly: false },
      { spec: "./h.js", typeOnly: true },
      { spec: "./ns.js", typeOnly: false },
      { spec: "./side.js", typeOnly: false },
      { spec: "./lazy.js", typeOnly: false },
      { spec: "./t.js", typeOnly: true },
    ]);
  });

  it("maps files to their layers", () => {
    expect(layerOf("src/errors.ts")).toBe("base");
    expect(layerOf("src/util/lock.ts")).toBe("base");
    expect(layerOf("src/cgroupfs/v2/memory.ts")).toBe("cgroupfs");
    expect(layerOf("src/ns/shim.ts")).toBeUndefined();
  });

  it("accepts imports that point down", () => {
    expect(check({
      "src/errors.ts": "export class E {}",
      "src/native/shim.ts": 'import { E } from "../errors.js"; import { load } from "ffi-rs";',
      "src/oci/spec.ts": 'import type { Config } from "../image/index.js"; import { x } from "../native/shim.js";',
      "src/image/index.ts": "export interface Config {}",
      "src/runtime/run.ts": 'import { s } from "../oci/spec.js"; import { i } from "../image/layers.js";',
      "src/image/layers.ts": "export const i = 1;",
      "src/cli/run.ts": 'const api = () => import("../image/index.js"); import { r } from "../runtime/run.js";',
    })).toEqual([]);
  });

  it("names the file and the import that point up or sideways", () => {
    expect(check({
      "src/native/shim.ts": 'import { spec } from "../oci/spec.js";',
      "src/oci/spec.ts": "export const spec = 1;",
      "src/reclaim/zram.ts": 'const run = await import("../runtime/run.js");',
      "src/runtime/run.ts": "export {};",
      "src/state/store.ts": 'import { load } from "ffi-rs";',
      "src/state/names.ts": 'const ffi = createRequire(import.meta.url)("ffi-rs"); const f = require("ffi-rs");',
    })).toEqual([
      "src/native/shim.ts → ../oci/spec.js: native/ may not import oci/",
      "src/reclaim/zram.ts → ../runtime/run.js: reclaim/ may not import runtime/",
      "src/state/store.ts → ffi-rs: only native/ binds the C code",
      "src/state/names.ts → ffi-rs: only native/ binds the C code",
    ]);
  });

  it("lets cli/ into image/ only through image/index.ts, and oci/ only for types", () => {
    expect(check({
      "src/cli/images.ts": 'import { tagImage } from "../image/tag.js";',
      "src/image/tag.ts": "export function tagImage() {}",
      "src/oci/specconv.ts": 'import { tagImage } from "../image/tag.js";',
    })).toEqual([
      "src/cli/images.ts → ../image/tag.js: cli/ reaches image/ only through image/index.ts",
      "src/oci/specconv.ts → ../image/tag.js: oci/ takes only the image config's types from image/",
    ]);
  });

  it("finds file cycles, type-only ones too, and imports of files that are not there", () => {
    expect(check({
      "src/image/ingest.ts": 'import type { Job } from "./ingest-worker.js";',
      "src/image/ingest-worker.ts": 'import { ingestInto } from "./ingest.js";',
      "src/image/unpack.ts": 'import { gone } from "./moved.js";',
      "src/ns/shim.ts": "export {};",
    })).toEqual([
      "src/image/unpack.ts → ./moved.js: no such file",
      "src/ns/shim.ts: not in a folder of the layout",
      "import cycle: src/image/ingest-worker.ts → src/image/ingest.ts → src/image/ingest-worker.ts",
    ]);
  });
});
