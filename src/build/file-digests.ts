// Digests of the build context's files, kept from one build to the next and
// trusted while the file's inode, size, mtime and ctime are unchanged: what
// BuildKit's content-hash cache does for a local context. A rebuild with
// nothing changed then reads the context's metadata, not its bytes (the
// benchmark's 4 MB of sources were read and hashed on every build).
//
// ctime moves on every write and cannot be set back by a user, so a changed
// file is seen even when its size and mtime were restored. A file changed
// within the clock's granularity of being hashed could still look the same
// (git's "racily clean" case), so a digest is kept only for a file whose
// ctime is older than RACY_MS when it is hashed; a younger one is hashed again
// at the next build.
//
//   <root>/build-digests.json   { v: 1, files: { "<host path>": "<ino>:<size>:<mtime>:<ctime> <sha256 hex>" } }

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { log } from "../log.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { object, parseChecked, recordOf, string, ShapeError, type Check } from "../util/shape.js";

const RACY_MS = 2000;
/** At most this many files are remembered: a context's worth, not every context ever built. */
const MAX_FILES = 200_000;

interface Stored { v: 1; files: Record<string, string> }
const checkStored: Check<Stored> = object({
  v: (v, at) => { if (v !== 1) throw new ShapeError(at, "version 1"); return 1 as const; },
  files: recordOf(string),
});

const statKey = (st: fs.Stats): string => `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

export class FileDigests {
  private readonly known: Map<string, string>;
  private readonly used = new Map<string, string>();
  private changed = false;

  /** `root`: the state root (the file lives there); an unreadable or corrupt file is an empty cache. */
  constructor(private readonly root: string, private readonly now: () => number = Date.now) {
    this.known = new Map();
    try {
      const stored = parseChecked(fs.readFileSync(this.file(), "utf8"), checkStored);
      for (const [p, v] of Object.entries(stored.files)) this.known.set(p, v);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") log().debug({ err: e }, "build: file digests not read; hashing the context again");
    }
  }

  private file(): string {
    return path.join(this.root, "build-digests.json");
  }

  /** sha256 hex of the file at `hostPath`, whose lstat is `st`: remembered, or read and hashed. */
  digest(hostPath: string, st: fs.Stats): string {
    const key = statKey(st);
    const entry = this.used.get(hostPath) ?? this.known.get(hostPath);
    if (entry !== undefined) {
      const sp = entry.indexOf(" ");
      if (entry.slice(0, sp) === key) {
        this.used.set(hostPath, entry);
        return entry.slice(sp + 1);
      }
    }
    const hex = createHash("sha256").update(fs.readFileSync(hostPath)).digest("hex");
    if (this.now() - st.ctimeMs > RACY_MS) {
      this.used.set(hostPath, `${key} ${hex}`);
      this.changed = true;
    }
    return hex;
  }

  /** Writes what this build used (first) and what was known before, up to MAX_FILES; nothing if nothing changed. */
  save(): void {
    if (!this.changed) return;
    const files: Record<string, string> = {};
    let n = 0;
    for (const m of [this.used, this.known]) {
      for (const [p, v] of m) {
        if (n >= MAX_FILES) break;
        if (files[p] === undefined) { files[p] = v; n++; }
      }
    }
    try {
      writeJsonAtomic(this.file(), { v: 1, files } satisfies Stored, false);
    } catch (e) {
      log().debug({ err: e }, "build: file digests not saved");
    }
  }
}
