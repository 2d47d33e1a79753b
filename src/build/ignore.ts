// `.dockerignore`, with Docker's pattern rules (moby/patternmatcher): one
// pattern a line, `#` comments, `!` re-includes, each pattern cleaned like a
// path with any leading "/" dropped; `*`, `?` and `[...]` as Go's
// filepath.Match (never across "/"), `**` for any number of directories; a
// path is excluded when the last pattern that matches it, or one of its
// parent directories, is not a `!` one.
import * as path from "node:path";

interface Pattern {
  re: RegExp;
  exclusion: boolean;
}

export interface IgnoreRules {
  /** Whether `rel` (relative to the context, "/"-separated) is left out. */
  ignored(rel: string): boolean;
  /** Whether any `!` pattern exists (something below an ignored directory may be re-included). */
  hasExclusions: boolean;
}

/** A Go filepath.Match pattern (plus `**`) as an anchored RegExp; `*` and `?` never match "/". */
export function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? "";
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else {
          re += ".*";
        }
      } else {
        re += "[^/]*";
      }
    } else if (c === "?") {
      re += "[^/]";
    } else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end === -1) {
        re += "\\[";
        continue;
      }
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith("^") || cls.startsWith("!")) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else if (c === "\\" && i + 1 < pattern.length) {
      i++;
      re += (pattern[i] ?? "").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    }
  }
  return new RegExp(`^${re}$`);
}

export function parseIgnore(text: string): IgnoreRules {
  const patterns: Pattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const exclusion = line.startsWith("!");
    if (exclusion) line = line.slice(1).trim();
    line = path.posix.normalize(line).replace(/^\/+/, "").replace(/\/+$/, "");
    if (line === "" || line === ".") continue;
    patterns.push({ re: globToRegExp(line), exclusion });
  }
  const matches = (p: Pattern, rel: string): boolean => {
    if (p.re.test(rel)) return true;
    // A pattern that names a directory covers what is in it.
    const parts = rel.split("/");
    for (let n = parts.length - 1; n > 0; n--) if (p.re.test(parts.slice(0, n).join("/"))) return true;
    return false;
  };
  return {
    ignored(rel: string): boolean {
      let out = false;
      for (const p of patterns) if (matches(p, rel)) out = !p.exclusion;
      return out;
    },
    hasExclusions: patterns.some((p) => p.exclusion),
  };
}
