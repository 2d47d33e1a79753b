// Which techniques a policy uses and how it decides who gives up memory.

export const POLICY_NAMES = ["none", "sharing", "balloon", "compress", "swap", "tmem", "shares", "esx"] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export interface Policy {
  name: PolicyName;
  description: string;
  sharing: boolean;
  balloon: boolean;
  compress: boolean;
  swap: boolean;
  /** guests balloon themselves down to their working set and use the tmem pools */
  tmem: boolean;
  /** the ESX free-memory state machine gates the techniques; otherwise they act whenever free < high */
  stateMachine: boolean;
  /** who gives up memory: in proportion to what each holds, or by shares with the idle-memory tax */
  allocation: "proportional" | "shares";
}

type Switches = Omit<Policy, "name" | "description">;
const OFF: Switches = { sharing: false, balloon: false, compress: false, swap: false, tmem: false, stateMachine: false, allocation: "proportional" };
const policy = (name: PolicyName, description: string, on: Partial<Switches>): Policy => ({ name, description, ...OFF, ...on });

export const POLICIES: Readonly<Record<PolicyName, Policy>> = {
  none: policy("none", "no reclamation: every touched page stays in host memory", {}),
  sharing: policy("sharing", "transparent page sharing only", { sharing: true }),
  balloon: policy("balloon", "ballooning only, in proportion to what each guest holds", { balloon: true }),
  compress: policy("compress", "compression cache only (pages ≤ 2 KiB, cache ≤ 10 % of each guest)", { compress: true }),
  swap: policy("swap", "host swapping only (victims chosen blind)", { swap: true }),
  tmem: policy("tmem", "self-ballooning to the working set, dropped pages kept in tmem pools", { tmem: true }),
  shares: policy("shares", "ballooning then swapping, revoked by shares with the idle-memory tax", { balloon: true, swap: true, allocation: "shares" }),
  esx: policy("esx", "ESX: sharing always; balloon at soft, compress + swap at hard, block at low; idle tax", {
    sharing: true, balloon: true, compress: true, swap: true, stateMachine: true, allocation: "shares",
  }),
};

/** The policy on a host without swap: its swap tier dropped (a policy that only swaps is then `none`). */
export function withoutSwap(p: Policy): Policy {
  return p.swap ? { ...p, swap: false } : p;
}

/** Swapping is the policy's only technique: without swap there is nothing left to model. */
export function onlySwaps(p: Policy): boolean {
  return p.swap && !p.sharing && !p.balloon && !p.compress && !p.tmem;
}

/** The policies that lose their swap tier on a host without swap (those that only swap excluded). */
export function swapTierPolicies(): PolicyName[] {
  return POLICY_NAMES.filter((n) => POLICIES[n].swap && !onlySwaps(POLICIES[n]));
}

export function isPolicyName(s: string): s is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(s);
}
