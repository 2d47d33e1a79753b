// Checks the shape of JSON read back from disk, so a truncated or hand-edited
// record fails at the boundary with the path of the bad field instead of as a
// TypeError deep inside a command. Small on purpose: the records are ours and
// their types are written in TypeScript next to them.

import { readFileSync } from "node:fs";

/** A checker: returns the value typed, or throws ShapeError naming where it is wrong. */
export type Check<T> = (v: unknown, at: string) => T;

export class ShapeError extends Error {
  constructor(readonly at: string, readonly expected: string) {
    super(`${at}: expected ${expected}`);
  }
}

function fail(at: string, expected: string): never {
  throw new ShapeError(at, expected);
}

export const string: Check<string> = (v, at) => (typeof v === "string" ? v : fail(at, "a string"));
export const boolean: Check<boolean> = (v, at) => (typeof v === "boolean" ? v : fail(at, "a boolean"));
export const number: Check<number> = (v, at) => (typeof v === "number" && Number.isFinite(v) ? v : fail(at, "a number"));
export const integer: Check<number> = (v, at) => (Number.isSafeInteger(v) ? v as number : fail(at, "an integer"));

export function matching(re: RegExp, what: string): Check<string> {
  return (v, at) => (typeof v === "string" && re.test(v) ? v : fail(at, what));
}

export function oneOf<const T extends string>(...values: T[]): Check<T> {
  return (v, at) => (values.includes(v as T) ? v as T : fail(at, `one of ${values.join(", ")}`));
}

/** Absent (or null, as JSON writes an undefined array slot) → undefined. */
export function optional<T>(c: Check<T>): Check<T | undefined> {
  return (v, at) => (v === undefined || v === null ? undefined : c(v, at));
}

export function arrayOf<T>(c: Check<T>): Check<T[]> {
  return (v, at) => (Array.isArray(v) ? v.map((x: unknown, i) => c(x, `${at}[${i}]`)) : fail(at, "an array"));
}

export function recordOf<T>(c: Check<T>): Check<Record<string, T>> {
  return (v, at) => Object.fromEntries(Object.entries(plainObject(v, at)).map(([k, x]) => [k, c(x, `${at}.${k}`)]));
}

function plainObject(v: unknown, at: string): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : fail(at, "an object");
}

type Checked<S extends Record<string, Check<unknown>>> = { [K in keyof S]: ReturnType<S[K]> };

/**
 * An object with these fields checked. Fields not named are kept as they are:
 * a newer tsbox may have added them, and rewriting the record must not lose them.
 */
export function object<S extends Record<string, Check<unknown>>>(shape: S): Check<Checked<S>> {
  return (v, at) => {
    const o = plainObject(v, at);
    const out: Record<string, unknown> = { ...o };
    for (const [k, c] of Object.entries(shape)) {
      const x = c(o[k], `${at}.${k}`);
      if (x === undefined) delete out[k];
      else out[k] = x;
    }
    return out as Checked<S>;
  };
}

/** The checked content of a JSON file; undefined if it does not exist, ShapeError if it is not what `c` wants. */
export function readChecked<T>(file: string, c: Check<T>): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (typeof e === "object" && e !== null && "code" in e && e.code === "ENOENT") return undefined;
    throw e;
  }
  return parseChecked(text, c);
}

/** Parses JSON text and checks it; the error says which field is wrong (or that the JSON is). */
export function parseChecked<T>(text: string, c: Check<T>): T {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ShapeError("$", `JSON (${text.trim() === "" ? "the file is empty" : (e as Error).message})`);
  }
  return c(v, "$");
}
