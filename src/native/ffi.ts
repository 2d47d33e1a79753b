// ffi-rs, loaded without its libc probe. Its index.js picks its prebuilt
// binary (glibc or musl) by calling process.report.getReport(), a whole
// diagnostic report, on every start of every command that reaches native code:
// run, start, exec. Answering the probe here instead takes loading ffi-rs from
// 4.4 ms to 2.1 ms (measured on Node 24, x64). The answer is tried, not
// guessed: glibc first, and musl when the glibc binary is not there or does
// not load.

import { createRequire } from "node:module";

type Ffi = typeof import("ffi-rs");

function loadFfi(): Ffi {
  const require = createRequire(import.meta.url);
  const report = process.report;
  const getReport = report.getReport.bind(report);
  try {
    for (const glibcVersionRuntime of ["glibc", undefined]) {
      // only ffi-rs's isMusl() reads it, synchronously, during this require
      report.getReport = (() => ({ header: { glibcVersionRuntime } })) as unknown as typeof report.getReport;
      try {
        return require("ffi-rs") as Ffi;
      } catch (e) {
        if (glibcVersionRuntime === undefined) throw e;
      }
    }
    throw new Error("unreachable");
  } finally {
    report.getReport = getReport;
  }
}

// Loaded on the first native call, not at import: the verbs that make none
// (tsbox-runc state, start, kill, most deletes; tsbox ps, inspect) do not pay
// for it (~2 ms of each start-up).
let ffi: Ffi | undefined;
const ffiRs = (): Ffi => (ffi ??= loadFfi());

export const load: Ffi["load"] = (options) => ffiRs().load(options);
export const open: Ffi["open"] = (options) => ffiRs().open(options);
export const createExternalBuffer: Ffi["createExternalBuffer"] = (ptr, size) => ffiRs().createExternalBuffer(ptr, size);
/** ffi-rs's enum of argument types, read from the module once it is loaded */
export const DataType = new Proxy({} as Ffi["DataType"], {
  get: (_target, key) => (ffiRs().DataType as unknown as Record<string | symbol, unknown>)[key],
});
export type { JsExternal } from "ffi-rs";
/** the enum's type, beside its value above */
export type DataType = import("ffi-rs").DataType;
