// Shared by the breakout tests (not a test file itself): layer tar entries that
// try to write outside the layer, each with the entry that must be named in
// the refusal and the reason. The same corpus goes through `import`
// (image.malicious.test.ts), `load` (image.load.test.ts) and `pull`
// (registry.malicious.test.ts).
import type * as tar from "tar-stream";

export type CorpusEntry = Partial<tar.Header> & { name: string; pax?: Record<string, string> };

/** [description, entries, offending entry, reason] */
export type BreakoutCase = [string, [CorpusEntry, string?][], string, string];

/**
 * The layer breakouts. `outside` is a directory next to the store holding
 * `canary` (both absolute); relative escapes assume the layer is at least
 * five levels below the directory that holds `outside`.
 */
export const layerBreakouts = (outside: string, canary: string): BreakoutCase[] => [
  ["a relative path above the layer", [[{ name: "../../../canary", mode: 0o644 }, "pwned"]],
    "../../../canary", "path escapes the layer"],
  ["a dotdot path that climbs back out", [[{ name: "x/../../outside/canary", mode: 0o644 }, "pwned"]],
    "x/../../outside/canary", "path escapes the layer"],
  ["an absolute path with dotdot", [[{ name: "/../outside/canary", mode: 0o644 }, "pwned"]],
    "/../outside/canary", "path escapes the layer"],
  ["a bare dotdot directory", [[{ name: "../", type: "directory", mode: 0o777 }]], "../", "path escapes the layer"],
  ["a file through a symlinked directory",
    [[{ name: "evil", type: "symlink", linkname: outside }], [{ name: "evil/canary", mode: 0o644 }, "pwned"]],
    "evil/canary", 'path goes through symlink "evil" and could escape the layer'],
  ["a file through a relative symlink",
    [[{ name: "evil", type: "symlink", linkname: "../../../../../outside" }], [{ name: "evil/new", mode: 0o644 }, "x"]],
    "evil/new", 'path goes through symlink "evil" and could escape the layer'],
  ["a directory through a symlink",
    [[{ name: "evil", type: "symlink", linkname: outside }], [{ name: "evil/sub/", type: "directory", mode: 0o777 }]],
    "evil/sub/", 'path goes through symlink "evil" and could escape the layer'],
  ["a symlink nested in a directory",
    [[{ name: "d/", type: "directory" }], [{ name: "d/l", type: "symlink", linkname: "/" }],
      [{ name: "d/l/var/tmp/x", mode: 0o644 }, "x"]],
    "d/l/var/tmp/x", 'path goes through symlink "d/l" and could escape the layer'],
  ["a device node through a symlink",
    [[{ name: "evil", type: "symlink", linkname: outside }],
      [{ name: "evil/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 }]],
    "evil/null", 'path goes through symlink "evil" and could escape the layer'],
  ["a whiteout through a symlink (would replace the canary)",
    [[{ name: "evil", type: "symlink", linkname: outside }], [{ name: "evil/.wh.canary" }]],
    "evil/.wh.canary", 'path goes through symlink "evil" and could escape the layer'],
  ["an opaque marker through a symlink (would set an xattr outside)",
    [[{ name: "evil", type: "symlink", linkname: outside }], [{ name: "evil/.wh..wh..opq" }]],
    "evil/.wh..wh..opq", 'path goes through symlink "evil" and could escape the layer'],
  ["a hard link to a file above the layer", [[{ name: "h", type: "link", linkname: "../../../outside/canary" }]],
    "h", 'hard link target "../../../outside/canary" escapes the layer'],
  ["a hard link through a symlink",
    [[{ name: "evil", type: "symlink", linkname: outside }], [{ name: "h", type: "link", linkname: "evil/canary" }]],
    "h", 'hard link target goes through symlink "evil" and could escape the layer'],
  ["a hard link to an absolute host path", [[{ name: "h", type: "link", linkname: canary }]],
    "h", `hard link target ${JSON.stringify(canary)} does not exist in the layer`],
  ["a hard link placed through a symlink",
    [[{ name: "f", mode: 0o644 }, "f"], [{ name: "evil", type: "symlink", linkname: outside }],
      [{ name: "evil/h", type: "link", linkname: "f" }]],
    "evil/h", 'path goes through symlink "evil" and could escape the layer'],
  ["a bare whiteout", [[{ name: "dir/.wh." }]], "dir/.wh.", "whiteout names no file"],
  ["a whiteout of dotdot", [[{ name: "dir/.wh..." }]], "dir/.wh...", "whiteout of a relative path component"],
  ["a whiteout of dot", [[{ name: ".wh.." }]], ".wh..", "whiteout of a relative path component"],
  ["an overlay xattr", [[{ name: "f", mode: 0o644, pax: { "SCHILY.xattr.trusted.overlay.redirect": "/etc" } }, "x"]],
    "f", "xattr trusted.overlay.redirect is reserved for the overlay filesystem"],
  ["the layer root as a symlink", [[{ name: "./", type: "symlink", linkname: outside }]],
    "./", "the layer root must be a directory"],
  ["a file under a file", [[{ name: "f", mode: 0o644 }, "f"], [{ name: "f/g", mode: 0o644 }, "g"]],
    "f/g", 'parent "f" is not a directory'],
];

/**
 * The benign twin of a case: the same layer with the offending entry (and any
 * entry that depends on it) made harmless, so a test can show that the
 * refusal comes from that entry and not from the way the layer is served.
 */
export const benignEntries: [CorpusEntry, string?][] = [
  [{ name: "before/", type: "directory", mode: 0o755 }],
  [{ name: "before/f", mode: 0o644 }, "x"],
  [{ name: "evil", type: "symlink", linkname: "before" }],
  [{ name: "before/sub/", type: "directory", mode: 0o755 }],
  [{ name: "h", type: "link", linkname: "before/f" }],
  [{ name: "before/.wh.gone" }],
];
