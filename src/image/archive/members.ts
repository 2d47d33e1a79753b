// The members of an image archive (`docker save` output, an OCI layout tar),
// spooled to a private staging directory as the archive streams past: the
// files an archive needs first (manifest.json, index.json) may come last.
//
// Member names are only ever looked up in this table, never on the disk, so an
// archive cannot make tsbox read or write outside its own spool: names with
// `..` or a leading `/` are refused, symlink and hard link members are aliases
// resolved lexically inside the archive (absolute or escaping targets are
// refused), and no member may live below a symlink or a file. Each
// `blobs/sha256/<hex>` member is checked against its name as it lands.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ImageError } from "../../errors.js";
import { writeAll } from "../../util/atomic.js";
import { fsyncFile } from "../ingest-stream.js";
import { readTar, type ByteSource } from "../tar.js";

export interface Member {
  /** Normalised archive path. */
  name: string;
  /** The spooled copy. */
  file: string;
  size: number;
  /** sha256 of the content. */
  digest: string;
}

const BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;
const MAX_LINK_HOPS = 8;
// JSON documents are read whole; containerd caps manifests near 4 MB, configs
// with long histories are larger.
const MAX_JSON_BYTES = 16 << 20;

export class ArchiveMembers {
  private readonly files = new Map<string, Member>();
  /** Alias → normalised target path. */
  private readonly links = new Map<string, string>();
  private readonly dirs = new Set<string>();
  private count = 0;
  private readonly syncs = new Map<string, Promise<void>>();
  private syncQueue: Promise<void> = Promise.resolve();

  private constructor(private readonly dir: string, private readonly context: string) {}

  private refuse(name: string, reason: string): ImageError {
    return new ImageError(`${this.context}: refusing archive member ${JSON.stringify(name)}: ${reason}`);
  }

  /** `a/./b//c` → `a/b/c`; "" is the archive root. Refuses absolute paths and `..`. */
  private normalise(name: string, shown = name): string {
    if (name.startsWith("/")) throw this.refuse(shown, "absolute path");
    const parts = name.split("/").filter((c) => c !== "" && c !== ".");
    if (parts.includes("..")) throw this.refuse(shown, "path escapes the archive");
    return parts.join("/");
  }

  /** A symlink's target, lexically, from the link's directory; must stay inside the archive. */
  private linkTarget(link: string, target: string): string {
    if (target === "") throw this.refuse(link, "symlink with an empty target");
    if (target.startsWith("/")) throw this.refuse(link, `symlink target ${JSON.stringify(target)} is absolute`);
    const parts = link.split("/").slice(0, -1);
    for (const c of target.split("/")) {
      if (c === "" || c === ".") continue;
      if (c === "..") {
        if (parts.length === 0) throw this.refuse(link, `symlink target ${JSON.stringify(target)} escapes the archive`);
        parts.pop();
      } else {
        parts.push(c);
      }
    }
    return parts.join("/");
  }

  private claim(name: string, shown: string): void {
    if (this.files.has(name) || this.links.has(name) || this.dirs.has(name)) {
      throw this.refuse(shown, "duplicate archive member");
    }
  }

  /** Spools every member of the tar in `src` into `dir` (an empty private directory). */
  static async spool(src: ByteSource, dir: string, context: string): Promise<ArchiveMembers> {
    const m = new ArchiveMembers(dir, context);
    for await (const e of readTar(src)) {
      const h = e.header;
      const name = m.normalise(h.name);
      if (name === "") {
        if (h.type !== "dir") throw m.refuse(h.name, "the archive root must be a directory");
        continue;
      }
      switch (h.type) {
        case "dir":
          // Repeated directory entries are harmless (some writers emit parents again).
          if (m.files.has(name) || m.links.has(name)) throw m.refuse(h.name, "duplicate archive member");
          m.dirs.add(name);
          break;
        case "symlink":
          m.claim(name, h.name);
          m.links.set(name, m.linkTarget(name, h.linkname));
          break;
        case "link":
          m.claim(name, h.name);
          m.links.set(name, m.normalise(h.linkname, h.name));
          break;
        case "file": {
          m.claim(name, h.name);
          const file = path.join(dir, `m${m.count++}`);
          const hash = createHash("sha256");
          let size = 0;
          const fd = fs.openSync(file, "wx", 0o600);
          try {
            for await (const chunk of e.body) {
              hash.update(chunk);
              size += chunk.length;
              writeAll(fd, chunk);
            }
          } finally {
            fs.closeSync(fd);
          }
          const digest = `sha256:${hash.digest("hex")}`;
          const named = BLOB_PATH.exec(name)?.[1];
          if (named !== undefined && digest !== `sha256:${named}`) {
            throw new ImageError(`${context}: blob digest mismatch: expected sha256:${named}, got ${digest}`);
          }
          m.files.set(name, { name, file, size, digest });
          break;
        }
        default:
          throw m.refuse(h.name, `unexpected ${h.type} entry in an image archive`);
      }
    }
    // The rest of the input still has to arrive intact (a compressed stream's
    // trailer, say), and a writer piping into tsbox should not see EPIPE.
    await src.drain();
    m.checkParents();
    return m;
  }

  /** No member may sit below a symlink or a regular file (a `blobs` → `/etc` link, say). */
  private checkParents(): void {
    for (const name of [...this.files.keys(), ...this.links.keys(), ...this.dirs]) {
      const parts = name.split("/");
      for (let i = 1; i < parts.length; i++) {
        const prefix = parts.slice(0, i).join("/");
        if (this.links.has(prefix)) throw this.refuse(name, `path goes through symlink ${JSON.stringify(prefix)}`);
        if (this.files.has(prefix)) throw this.refuse(name, `parent ${JSON.stringify(prefix)} is not a directory`);
      }
    }
  }

  /** How many members (files, links, directories) the archive has. */
  get size(): number {
    return this.files.size + this.links.size + this.dirs.size;
  }

  has(name: string): boolean {
    const n = this.normalise(name);
    return this.files.has(n) || this.links.has(n);
  }

  /** The regular file `name` names, following aliases inside the archive. */
  resolve(name: string, what = "file"): Member {
    let current = this.normalise(name);
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const parts = current.split("/");
      for (let i = 1; i < parts.length; i++) {
        const prefix = parts.slice(0, i).join("/");
        if (this.links.has(prefix)) throw this.refuse(name, `path goes through symlink ${JSON.stringify(prefix)}`);
      }
      const f = this.files.get(current);
      if (f !== undefined) return f;
      const next = this.links.get(current);
      if (next === undefined) throw new ImageError(`${this.context}: ${what} ${JSON.stringify(name)} is missing from the archive`);
      current = next;
    }
    throw this.refuse(name, "too many levels of symbolic links");
  }

  /** The blob with `digest`, at blobs/sha256/<hex>, checked against the descriptor's size. */
  blob(digest: string, size?: number): Member {
    const hex = /^sha256:([a-f0-9]{64})$/.exec(digest)?.[1];
    if (hex === undefined) throw new ImageError(`${this.context}: unsupported or invalid digest ${JSON.stringify(digest)}`);
    const m = this.resolve(`blobs/sha256/${hex}`, "blob");
    // Reached through an alias the name proves nothing: compare the content.
    if (m.digest !== digest) throw new ImageError(`${this.context}: blob digest mismatch: expected ${digest}, got ${m.digest}`);
    if (size !== undefined && m.size !== size) {
      throw new ImageError(`${this.context}: blob ${digest}: size mismatch: expected ${size} bytes, got ${m.size}`);
    }
    return m;
  }

  read(m: Member): Buffer {
    if (m.size > MAX_JSON_BYTES) throw new ImageError(`${this.context}: ${JSON.stringify(m.name)} is too large`);
    return fs.readFileSync(m.file);
  }

  /** Parses a JSON member (whole; bounded in size). */
  json(m: Member): unknown {
    try {
      return JSON.parse(this.read(m).toString("utf8"));
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw new ImageError(`${this.context}: ${JSON.stringify(m.name)} is not valid JSON`);
    }
  }

  /**
   * Settles when `m`'s content is on disk. The fsyncs run one at a time on
   * the thread pool, in the order asked: the disk writes the first layer back
   * while it is being unpacked, and the pool keeps threads for reading.
   */
  synced(m: Member): Promise<void> {
    let done = this.syncs.get(m.file);
    if (done === undefined) {
      done = this.syncQueue.then(() => fsyncFile(m.file));
      this.syncQueue = done.catch(() => {});
      // Awaited by whoever needs it; an error nobody waits for must not crash the process.
      done.catch(() => {});
      this.syncs.set(m.file, done);
    }
    return done;
  }

  /** Every fsync asked for has settled (so the spool can be removed). */
  async settled(): Promise<void> {
    await this.syncQueue;
  }

  /** A fresh, fsynced name for `m`'s content (a hard link), for the store to rename into place. */
  async detach(m: Member): Promise<string> {
    const file = path.join(this.dir, `m${this.count++}`);
    fs.linkSync(m.file, file);
    await this.synced(m);
    return file;
  }
}
