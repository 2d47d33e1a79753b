// Transparent page sharing, as Linux's KSM does it (mm/ksm.c): identical
// pages kept once. A guest's internal duplicates (data or same-filled pages)
// are shared within it; pages of one content group (same OS image) are
// shared across its guests, the guest holding the most copies keeping the
// originals. Zero pages are one content host-wide: with use_zero_pages they
// are mapped to the kernel's zero page and all of them are saved; without
// it, they are an ordinary content. A KSM page takes at most
// max_page_sharing mappings, so n copies of a content need ceil(n / max)
// KSM pages (mm/ksm.c's stable node chains). Writes break a
// fraction of the sharing every step, each break a copy-on-write fault; the
// scanner re-merges them.

export interface SharingInput {
  contentGroup: string;
  /** zero pages still in guest memory */
  zero: number;
  /** within-guest duplicates (copies beyond the first) still in guest memory */
  within: number;
  /** pages of the group's common content still in guest memory */
  across: number;
}

export interface SharingResult {
  /** host pages saved, per guest */
  saved: number[];
  /** copy-on-write faults this step, per guest */
  breaks: number[];
}

/** The KSM settings the model follows (the host's /sys/kernel/mm/ksm when it models measured containers). */
export interface SharingRules {
  useZeroPages: boolean;
  /** most mappings of one KSM page: n copies of a content need ceil(n / maxPageSharing) KSM pages */
  maxPageSharing: number;
}

/** Takes `pages` off the guests' savings in `order`, each giving at most its cap. */
function charge(pages: number, order: readonly number[], cap: (i: number) => number, saved: number[]): void {
  for (const i of order) {
    if (pages <= 0) return;
    const take = Math.min(pages, cap(i));
    saved[i]! -= take;
    pages -= take;
  }
}

export function sharePages(guests: readonly SharingInput[], writeBreakRate: number, rules: SharingRules = { useZeroPages: false, maxPageSharing: 256 }): SharingResult {
  const max = Math.max(1, rules.maxPageSharing);
  const keep = 1 - writeBreakRate;
  const zero = guests.map((g) => Math.floor(g.zero * keep));
  const within = guests.map((g) => Math.floor(g.within * keep));
  const across = guests.map((g) => Math.floor(g.across * keep));
  const breaks = guests.map((g, i) => g.zero - zero[i]! + g.within - within[i]! + g.across - across[i]!);
  // in each group, the guest with the most common pages (first on ties) holds the originals
  const owner = new Map<string, number>();
  guests.forEach((g, i) => {
    const o = owner.get(g.contentGroup);
    if (o === undefined || across[i]! > across[o]!) owner.set(g.contentGroup, i);
  });
  const saved = guests.map((g, i) => zero[i]! + within[i]! + (owner.get(g.contentGroup) === i ? 0 : across[i]!));
  if (!rules.useZeroPages) {
    // the zero content of the whole host: ceil(Z / max) KSM pages, held by the guests with the most zero pages
    const total = zero.reduce((a, b) => a + b, 0);
    const byZero = zero.map((_, i) => i).sort((a, b) => zero[b]! - zero[a]! || a - b);
    charge(Math.ceil(total / max), byZero, (i) => zero[i]!, saved);
  }
  // a group's common content is in k guests, k copies of each page: beyond max_page_sharing guests a
  // content needs ceil(k / max) KSM pages, the extra ones kept by the guests after the owner
  const members = new Map<string, number[]>();
  guests.forEach((g, i) => { if (across[i]! > 0) members.set(g.contentGroup, [...(members.get(g.contentGroup) ?? []), i]); });
  for (const [group, idx] of members) {
    const extra = Math.ceil(idx.length / max) - 1;
    if (extra <= 0) continue;
    const o = owner.get(group)!;
    charge(extra * across[o]!, idx.filter((i) => i !== o), (i) => across[i]!, saved);
  }
  return { saved, breaks };
}
