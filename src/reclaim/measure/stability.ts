// Which pages held their content over a window: KSM's rule for what it may
// merge. ksmd puts a page in its unstable tree (where it can meet a copy) only
// when the page's checksum is the same as at ksmd's previous visit, one full
// pass earlier (mm/ksm.c cmp_and_merge_page), and a merged page that is
// written is copied again (cow_ksm). A page a program keeps writing —
// reference counts, LRU clocks, a collector's marks — is never merged however
// many copies of it exist at one instant. So the sharing figure counts only the
// pages whose content, at the same process and address, is the same at both
// ends of a window as long as a pass. Pure: two samples in, a flag per page out.

import { Kind } from "./aggregate.js";
import { KeyIndex } from "./key-index.js";

/** The content of pages at one moment: per page, its process, address, kind (aggregate.ts Kind) and content key. */
export interface ContentSample {
  pid: ArrayLike<number>;
  addr: ArrayLike<number>;
  kind: ArrayLike<number>;
  key: ArrayLike<number>;
}

/** Looks pages of a sample up by process and address. */
export class SampleIndex {
  private byPid = new Map<number, KeyIndex>();
  /** pages the sample read */
  readonly pages: number = 0;

  constructor(private readonly sample: ContentSample) {
    for (let i = 0; i < sample.pid.length; i++) {
      if (sample.kind[i] === Kind.Gone) continue;
      this.pages++;
      const pid = sample.pid[i]!;
      let idx = this.byPid.get(pid);
      if (idx === undefined) this.byPid.set(pid, (idx = new KeyIndex(1024)));
      idx.getOrSet(sample.addr[i]!, i);
    }
  }

  /**
   * True when the page at pid/addr was in the sample with the same kind and
   * content (zero pages: both zero). A page the sample did not have (mapped,
   * or faulted in, since) has not been seen twice: not stable.
   */
  same(pid: number, addr: number, kind: number, key: number): boolean {
    if (kind === Kind.Gone) return false;
    const j = this.byPid.get(pid)?.get(addr) ?? -1;
    if (j < 0 || this.sample.kind[j] !== kind) return false;
    return kind === Kind.Zero || this.sample.key[j] === key;
  }
}

/** 1 for each page of `later` whose content is as in `earlier` (same process, address, kind, content), else 0. */
export function stablePages(earlier: SampleIndex, later: ContentSample): Uint8Array {
  const n = later.pid.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = earlier.same(later.pid[i]!, later.addr[i]!, later.kind[i]!, later.key[i]!) ? 1 : 0;
  return out;
}
