// The balancer's decision, pure: one round of samples in, a new memory limit
// per container out. No file is read or written here (controller.ts does
// that), so the whole policy is checked on recorded samples.
//
// The policy is Senpai's (Meta's TMO): while a container's memory pressure
// stays below the target, its limit is probed down slowly (a few % a round,
// slower the closer the pressure is to the target); as soon as the pressure
// rises above the target, the limit goes back up fast, in proportion to the
// overshoot. Two additions for a host without swap, where a container at its
// limit with nothing left to reclaim is OOM-killed:
//   - a floor: never below what the container holds that the kernel cannot
//     reclaim (usage − page cache, plus swapped-out anon only with swap) plus
//     headroom, so a lowered limit never leaves it nothing to allocate from;
//   - an emergency: a container that is waiting in the OOM path (v1, with the
//     OOM killer held off), or hit its limit with no cache left to reclaim, is
//     raised at once by a large step, before any other request.
// The budget binds the sum of the limits: cuts are always granted, raises are
// granted from what is free, emergencies first, then by pressure; when that is
// not enough, containers without pressure give up their slack (down to their
// floor) to those under it.

export interface Sample {
  /** bytes charged to the cgroup */
  usage: number;
  /** anonymous memory (cannot be reclaimed without swap) */
  anon: number;
  /** page cache, active + inactive (reclaimable) */
  file: number;
  /** the inactive part of the cache (what the kernel reclaims first; undefined: all of it counts as inactive) */
  inactiveFile?: number;
  /** fraction of the interval the container stalled on memory (0..1): PSI on v2, refaults × their cost on v1 */
  pressure: number;
  /** the container hit its limit this interval (v1 failcnt grew, v2 memory.events high/max grew) */
  hitLimit: boolean;
  /** tasks wait in the OOM path (v1 memory.oom_control under_oom 1) */
  underOom: boolean;
}

export interface ContainerInput {
  id: string;
  /** the limit the balancer has in place (undefined before its first round: unlimited) */
  limit?: number;
  /** a limit the container had before the balancer: never raised above it */
  ceiling?: number;
  sample: Sample;
  /** rounds since this container's limit was last raised (Infinity if never) */
  sinceRaise: number;
  /** the most it held lately (decaying; controller.ts): a working set that grew back once will likely again */
  peak?: number;
}

export interface Tuning {
  /** sum of the limits, bytes */
  budget: number;
  /** pressure (fraction of time stalled) below which a limit is probed down */
  pressureTarget: number;
  /** the largest cut per round while the pressure is 0, as a fraction of the limit (Senpai: max_probe) */
  probe: number;
  /** the largest raise per round, as a fraction of the limit (Senpai: max_backoff) */
  backoff: number;
  /** room kept above what the kernel cannot reclaim: max(headroomMin, usage × headroomFraction) */
  headroomMin: number;
  headroomFraction: number;
  /** rounds after a raise during which the limit is not probed down again */
  hold: number;
  /** the host has swap: anonymous memory counts as reclaimable */
  swap: boolean;
}

export const DEFAULT_TUNING: Omit<Tuning, "budget"> = {
  pressureTarget: 0.001, // 0.1 % of the time stalled: Senpai's 10 ms a 10 s
  probe: 0.02,
  backoff: 1, // Senpai's max_backoff: a working set that doubles is caught in one round
  headroomMin: 8 * 1024 * 1024,
  headroomFraction: 0.05,
  hold: 3,
  swap: false,
};

export type Reason = "emergency" | "pressure" | "probe" | "slack" | "floor" | "hold" | "ceiling" | "budget";

export interface Decision {
  id: string;
  /** the limit before (undefined = unlimited) */
  from?: number;
  to: number;
  /** the floor the limit was kept above */
  floor: number;
  reason: Reason;
  /** wanted more than the budget allowed (the rest of the raise was not granted) */
  short?: number;
}

const PAGE = 4096;
const pageUp = (n: number): number => Math.ceil(n / PAGE) * PAGE;
const pageDown = (n: number): number => Math.floor(n / PAGE) * PAGE;

export const headroom = (s: Sample, t: Pick<Tuning, "headroomMin" | "headroomFraction">): number =>
  pageUp(Math.max(t.headroomMin, s.usage * t.headroomFraction));

/**
 * The lowest safe limit: what reclaim cannot take (usage − cache, and − anon
 * too with swap), plus headroom for the next allocations.
 */
export function floorOf(s: Sample, t: Pick<Tuning, "headroomMin" | "headroomFraction" | "swap">): number {
  const unreclaimable = Math.max(0, s.usage - s.file - (t.swap ? s.anon : 0));
  return pageUp(unreclaimable + headroom(s, t));
}

/**
 * An emergency: waiting for memory in the OOM path, or at the limit with
 * nothing left to reclaim. "At the limit": it hit the limit during the
 * interval and is still within headroom of it (a limit raised since then is
 * no longer the one it hit).
 */
export function emergency(c: ContainerInput, t: Pick<Tuning, "headroomMin" | "headroomFraction">): boolean {
  const s = c.sample;
  if (s.underOom) return true;
  const room = headroom(s, t);
  const atLimit = s.hitLimit && (c.limit === undefined || c.limit - s.usage < room);
  return atLimit && s.file < room;
}

/**
 * How far a container gives up slack for another's pressure: not into its
 * active cache (its own working set), only the inactive part and the room above.
 * An emergency may take it down to the floor.
 */
export function softFloorOf(s: Sample, t: Pick<Tuning, "headroomMin" | "headroomFraction" | "swap">): number {
  return Math.max(floorOf(s, t), pageUp(s.usage - (s.inactiveFile ?? s.file) + headroom(s, t)));
}

interface Want { c: ContainerInput; from: number; want: number; floor: number; softFloor: number; reason: Reason; urgency: number }

function want(c: ContainerInput, t: Tuning): Want {
  const s = c.sample;
  const floor = floorOf(s, t);
  const softFloor = softFloorOf(s, t);
  // Unlimited: as if the limit were what it holds plus its headroom (nothing unused is kept from others).
  const from = c.limit ?? pageUp(s.usage + headroom(s, t));
  const ceil = (n: number): number => (c.ceiling !== undefined ? Math.min(n, c.ceiling) : n);
  const w = (n: number, reason: Reason, urgency = 0): Want => {
    const v = ceil(Math.max(pageUp(n), floor));
    const why: Reason = v < pageUp(n) ? "ceiling" : v > pageUp(n) ? "floor" : reason;
    return { c, from, want: v, floor, softFloor, reason: why, urgency };
  };
  if (emergency(c, t)) {
    // Raise at once: past what it holds now by the largest backoff step, and at least to its recent peak
    // (one round instead of several doublings for a working set that comes back).
    const step = Math.max(Math.max(from, s.usage) + Math.max(headroom(s, t) * 2, from * t.backoff), (c.peak ?? 0) + headroom(s, t));
    return w(step, "emergency", Infinity);
  }
  if (s.pressure > t.pressureTarget) {
    const adjust = Math.min(t.backoff, 0.1 * (s.pressure / t.pressureTarget));
    return w(from * (1 + adjust), "pressure", s.pressure / t.pressureTarget);
  }
  if (from < floor) return w(floor, "floor");
  if (c.sinceRaise < t.hold) return w(from, "hold");
  // Unused room above what it holds goes back at once: taking it reclaims nothing.
  const slackTo = pageUp(s.usage + headroom(s, t));
  if (from > slackTo) return w(slackTo, "slack");
  // Probe below: slower the closer the pressure is to the target.
  const cut = from * t.probe * (1 - s.pressure / t.pressureTarget);
  return w(pageDown(from - cut), "probe");
}

/** One round: the new limit of every container, within the budget. */
export function decide(containers: readonly ContainerInput[], t: Tuning): Decision[] {
  const wants = containers.map((c) => want(c, t));
  const out = new Map<string, Decision>();
  const decision = (x: Want, to: number, reason: Reason = x.reason, short?: number): Decision => ({
    id: x.c.id, ...(x.c.limit !== undefined ? { from: x.c.limit } : {}), to, floor: x.floor, reason, ...(short ? { short } : {}),
  });
  // Cuts and holds are granted as asked.
  for (const x of wants) if (x.want <= x.from) out.set(x.c.id, decision(x, x.want));
  const raises = wants.filter((x) => x.want > x.from).sort((a, b) => b.urgency - a.urgency);
  const used = (): number => wants.reduce((sum, x) => sum + (out.get(x.c.id)?.to ?? x.from), 0);
  for (const x of raises) {
    let free = t.budget - used();
    if (free < x.want - x.from) {
      // Take slack from containers without pressure (down to their floor), most slack first.
      // Take slack from containers without pressure, most slack first: for an emergency down to their floor,
      // for pressure only down to their soft floor (their active cache stays).
      const lowest = (d: Want): number => (x.reason === "emergency" ? d.floor : d.softFloor);
      const donors = wants.filter((d) => d !== x && d.reason !== "pressure" && d.reason !== "emergency" && !raises.includes(d))
        .map((d) => ({ d, to: out.get(d.c.id)!.to })).filter((e) => e.to > lowest(e.d)).sort((a, b) => (b.to - lowest(b.d)) - (a.to - lowest(a.d)));
      for (const e of donors) {
        if (free >= x.want - x.from) break;
        const give = Math.min(e.to - lowest(e.d), pageUp(x.want - x.from - free));
        out.set(e.d.c.id, decision(e.d, e.to - give, "budget"));
        free += give;
      }
    }
    const grant = Math.max(0, Math.min(x.want - x.from, pageDown(free)));
    out.set(x.c.id, decision(x, x.from + grant, x.reason, x.want - x.from - grant));
  }
  // Still over the budget (it was lowered, or the containers came in over it): the calm give up slack.
  let over = used() - t.budget;
  for (const x of [...wants].sort((a, b) => (out.get(b.c.id)!.to - b.floor) - (out.get(a.c.id)!.to - a.floor))) {
    if (over <= 0) break;
    const d = out.get(x.c.id)!;
    if (x.reason === "pressure" || x.reason === "emergency" || d.to <= x.floor) continue;
    const give = Math.min(d.to - x.floor, pageUp(over));
    out.set(x.c.id, decision(x, d.to - give, "budget"));
    over -= give;
  }
  return containers.map((c) => out.get(c.id)!);
}
