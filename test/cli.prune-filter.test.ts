// `--filter until=… / label=…` of container, image, network and system prune,
// and network ls's filters, as Docker's daemon reads them: the pure parse and
// match, then on real stores.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePruneFilters, pruneFilterMatches } from "../src/cli/prune-filter.js";
import { containerIds, removeRoot, rootWithBusybox, stateOf, tsbox } from "./helpers.js";

describe("prune filters (pure)", () => {
  const now = Date.parse("2026-12-03T12:00:00Z");
  it("until takes RFC 3339, Unix seconds and durations; only what is older goes", () => {
    for (const v of ["2026-12-03T11:00:00Z", String(Date.parse("2026-12-03T11:00:00Z") / 1000), "1h"]) {
      const f = parsePruneFilters([`until=${v}`], now);
      expect(pruneFilterMatches(f, { created: Date.parse("2026-12-03T10:59:59Z"), labels: {} }), v).toBe(true);
      expect(pruneFilterMatches(f, { created: Date.parse("2026-12-03T11:00:01Z"), labels: {} }), v).toBe(false);
    }
  });

  it("label=K, label=K=V, label!=K, label!=K=V", () => {
    const c = { created: 0, labels: { team: "a", tier: "" } };
    const m = (...f: string[]): boolean => pruneFilterMatches(parsePruneFilters(f, now), c);
    expect(m("label=team")).toBe(true);
    expect(m("label=team=a")).toBe(true);
    expect(m("label=team=b")).toBe(false);
    expect(m("label=other")).toBe(false);
    expect(m("label!=team")).toBe(false);
    expect(m("label!=team=b")).toBe(true);
    expect(m("label!=other")).toBe(true);
    expect(m("label=team", "label=tier=")).toBe(true);
    expect(m("label=team", "label!=tier")).toBe(false);
  });

  it("Docker's errors for an unknown key or a bad time (exit 1)", () => {
    expect(() => parsePruneFilters(["bogus=1"])).toThrow(/^Invalid filter 'bogus'$/);
    expect(() => parsePruneFilters(["nonsense"])).toThrow(/^Invalid filter 'nonsense'$/);
    expect(() => parsePruneFilters(["until=xyz"])).toThrow(/^failed to parse value as time or duration: "xyz"$/);
  });
});

describe("on a store", () => {
  let root: string;
  beforeAll(() => { root = rootWithBusybox(); });
  afterAll(() => { removeRoot(root); });

  it("container prune --filter until keeps the newer containers; a bad filter removes nothing", async () => {
    expect(tsbox(root, ["run", "--name", "older", "--network", "none", "busybox", "true"]).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1500));
    const cut = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 50));
    expect(tsbox(root, ["run", "--name", "newer", "--network", "none", "busybox", "true"]).code).toBe(0);
    for (const bad of ["bogus=1", "until=xyz"]) {
      const r = tsbox(root, ["container", "prune", "-f", "--filter", bad]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(containerIds(root)).toHaveLength(2);
    const r = tsbox(root, ["container", "prune", "-f", "--filter", `until=${cut}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Deleted Containers:\n[0-9a-f]{64}\n\nTotal reclaimed space: /);
    expect(containerIds(root).map((id) => stateOf(root, id).name)).toEqual(["newer"]);
    expect(tsbox(root, ["system", "prune", "-f", "--filter", "until=1h"]).stdout).not.toMatch(/Deleted Containers/);
    expect(containerIds(root)).toHaveLength(1);
  });

  it("container prune without -f asks first, as Docker's; no answer removes nothing", () => {
    const r = tsbox(root, ["container", "prune"], { input: "" });
    expect(r.stdout).toContain("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
    expect(containerIds(root)).toHaveLength(1);
  });

  it("image prune --filter label keeps the images without the label", () => {
    expect(tsbox(root, ["import", "-c", "LABEL team=a", "/dev/null", "labelled:1"]).code).toBe(0);
    expect(tsbox(root, ["import", "/dev/null", "plain:1"]).code).toBe(0);
    const r = tsbox(root, ["image", "prune", "-a", "-f", "--filter", "label=team=a"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/untagged: labelled:1\n/);
    expect(r.stdout).not.toMatch(/plain:1/);
    expect(tsbox(root, ["images", "-q", "plain:1"]).stdout).not.toBe("");
  });

  it("network ls --filter, network prune --filter label, network rm -f of a missing network", () => {
    const names = (f: string): string => tsbox(root, ["network", "ls", "--filter", f, "--format", "{{.Name}}"]).stdout;
    try {
      expect(tsbox(root, ["network", "create", "--label", "team=a", "pf-one"]).code).toBe(0);
      expect(tsbox(root, ["network", "create", "pf-two"]).code).toBe(0);
      expect(names("name=pf-")).toBe("pf-one\npf-two\n");
      expect(names("name=^pf-o")).toBe("pf-one\n");
      expect(names("label=team=a")).toBe("pf-one\n");
      expect(names("type=builtin")).toBe("bridge\nhost\nnone\n");
      expect(names("driver=null")).toBe("none\n");
      expect(names("dangling=true")).toBe("pf-one\npf-two\n");
      for (const [f, message] of [
        ["bogus=1", "tsbox: Invalid filter 'bogus'\n"],
        ["type=x", "tsbox: invalid filter: 'type'='x'\n"],
        ["dangling=x", `tsbox: invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")\n`],
      ] as const) {
        expect(tsbox(root, ["network", "ls", "--filter", f])).toMatchObject({ code: 1, stderr: message });
      }
      const pruned = tsbox(root, ["network", "prune", "-f", "--filter", "label!=team"]);
      expect(pruned.stdout).toBe("Deleted Networks:\npf-two\n");
      expect(tsbox(root, ["network", "rm", "-f", "pf-two", "pf-one"])).toMatchObject({ code: 0, stdout: "pf-one\n" });
      expect(tsbox(root, ["network", "rm", "pf-two"])).toMatchObject({ code: 1, stderr: "tsbox: network pf-two not found\n" });
    } finally {
      tsbox(root, ["network", "rm", "-f", "pf-one", "pf-two"]);
    }
  });
});
