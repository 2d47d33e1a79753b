// Transparent page sharing, as Linux's KSM does it (mm/ksm.c): identical
// pages kept once. A guest's internal duplicates (data or same-filled pages)
// are shared within it; pages of one content group (same OS image) are
// shared across its guests, the guest holding the most copies keeping the
// originals. Zero pages are one content host-wide: with use_zero_pages they
// are mapped to the kernel's zero page and all of them are saved; without
// it, they are an ordinary content and one KSM page keeps it. Writes break a
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
}

export function sharePages(guests: readonly SharingInput[], writeBreakRate: number, rules: SharingRules = { useZeroPages: false }): SharingResult {
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
  const zeroSaved = [...zero];
  if (!rules.useZeroPages) {
    // one KSM page keeps the zero content for the whole host: the guest with the most zero pages holds it
    let holder = -1;
    zero.forEach((z, i) => { if (z > 0 && (holder < 0 || z > zero[holder]!)) holder = i; });
    if (holder >= 0) zeroSaved[holder]!--;
  }
  const saved = guests.map((g, i) => zeroSaved[i]! + within[i]! + (owner.get(g.contentGroup) === i ? 0 : across[i]!));
  return { saved, breaks };
}
