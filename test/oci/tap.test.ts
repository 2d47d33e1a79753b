// The TAP reader and baseline gate behind `npm run test:oci` (test/oci/report.ts): pure, no root.
import { describe, expect, it } from "vitest";
import { compare, count, formatBaseline, parseBaseline, parseTap } from "./tap.js";

// Shaped like the runtime-tools programs' output: YAML blocks indented under test points, a
// nested runtimetest stream inside a YAML string, directives, and the plan at the end.
const STREAM = [
  "TAP version 13",
  "ok 1 - has expected hostname",
  "  ---",
  "  {",
  '    "stdout": "TAP version 13\\nnot ok 1 - nested, not ours\\n1..1\\n"',
  "  }",
  "  ...",
  "not ok 2 - has expected   user ID",
  "ok 3 # SKIP linux.mountlabel not set",
  "ok 4 # skip linux.mountlabel not set",
  "not ok 5 # TODO we need an (r)bind spec to test against",
  "ok 6 - has expected hostname",
  "# a comment that is not a test point: ok 7 - no",
  "1..6",
].join("\n");

describe("parseTap", () => {
  it("reads test points, directives and repeats, not YAML or comments", () => {
    const r = parseTap("default", STREAM, 0);
    expect(r.assertions.map((a) => [a.id, a.status])).toEqual([
      ["default: has expected hostname", "pass"],
      ["default: has expected user ID", "fail"],
      ["default: SKIP linux.mountlabel not set", "skip"],
      ["default: SKIP linux.mountlabel not set [#2]", "skip"],
      ["default: TODO we need an (r)bind spec to test against", "todo"],
      ["default: has expected hostname [#2]", "pass"],
    ]);
    expect(count(r.assertions)).toEqual({ pass: 2, fail: 1, skip: 2, todo: 1 });
    expect(r.planned).toBe(6);
    expect(r.problems).toEqual([]);
  });

  it("reports what is wrong with the stream itself", () => {
    expect(parseTap("p", "TAP version 13\n", 1).problems).toEqual(["exit status 1", "no plan"]);
    expect(parseTap("p", "1..3\nok 1 - a\n", 0).problems).toEqual(["planned 3, ran 1"]);
    expect(parseTap("p", "ok 1 - a\n", undefined, true).problems).toEqual(["timed out", "no plan"]);
  });

  it("takes a description without a number or dash", () => {
    expect(parseTap("p", "ok a thing\nnot ok\n1..2\n").assertions.map((a) => a.id)).toEqual(["p: a thing", "p: (no description)"]);
  });
});

describe("baseline gate", () => {
  const reference = [parseTap("default", STREAM, 0)];
  const stable = (ids: string[]) => ({ stable: new Set(ids), flaky: new Set<string>() });

  it("keeps the passing assertions only, sorted, under a comment header", () => {
    const text = formatBaseline(["recorded with runc"], [reference]);
    expect(text).toBe("# recorded with runc\ndefault: (exits 0)\ndefault: has expected hostname\ndefault: has expected hostname [#2]\n");
    const b = parseBaseline(text);
    expect([...b.stable]).toEqual(["default: (exits 0)", "default: has expected hostname", "default: has expected hostname [#2]"]);
    expect(b.flaky.size).toBe(0);
  });

  it("marks what passed in some recorded runs only as flaky", () => {
    const other = [parseTap("default", "ok 1 - has expected hostname\nnot ok 2 - has expected hostname\nok 3 - only here\n1..3\n", 0)];
    const text = formatBaseline([], [reference, other]);
    expect(text).toBe(
      "default: (exits 0)\ndefault: has expected hostname\n" +
        "# Not gating: passed in some of the 2 recorded runs only, or in a program whose exit status says the reference failed it.\n" +
        "? default: has expected hostname [#2]\n? default: only here\n",
    );
    const b = parseBaseline(text);
    expect([...b.stable]).toEqual(["default: (exits 0)", "default: has expected hostname"]);
    expect([...b.flaky]).toEqual(["default: has expected hostname [#2]", "default: only here"]);
  });

  it("lists a baseline assertion that now fails, is skipped or is missing as a regression", () => {
    const baseline = stable(["default: has expected hostname", "default: has expected hostname [#2]", "default: gone", "default: has expected user ID"]);
    const now = parseTap("default", "ok 1 - has expected hostname\nok 2 # SKIP has expected hostname\nok 3 - new\n1..3\n", 0);
    // `ok 2 # SKIP ...` is named by its reason, so the second hostname assertion is missing.
    expect(compare(baseline, [now])).toEqual({
      regressions: [
        { id: "default: gone", now: "missing" },
        { id: "default: has expected hostname [#2]", now: "missing" },
        { id: "default: has expected user ID", now: "missing" },
      ],
      flakyMisses: [],
      gains: ["default: (exits 0)", "default: new"],
    });
    const failing = parseTap("default", "not ok 1 - has expected hostname\n1..1\n", 0);
    expect(compare(stable(["default: has expected hostname"]), [failing]).regressions).toEqual([
      { id: "default: has expected hostname", now: "fail" },
    ]);
  });

  it("takes nothing as a reference from a program the reference runtime exits non-zero from", () => {
    const capsFail = parseTap("process_capabilities_fail", "ok 1 - has expected hostname\n1..1\n", 1);
    const b = parseBaseline(formatBaseline([], [[capsFail, parseTap("state", "ok 1 - a\n1..1\n", 0)]]));
    expect([...b.stable]).toEqual(["state: (exits 0)", "state: a"]);
    expect([...b.flaky]).toEqual(["process_capabilities_fail: has expected hostname"]);
    // The runtime under test refuses the bad capability: no test point, exit 0. Not a regression.
    const refused = parseTap("process_capabilities_fail", "", 0);
    expect(compare(b, [refused, parseTap("state", "ok 1 - a\n1..1\n", 0)]).regressions).toEqual([]);
  });

  it("keeps a failed program's passes as a reference when told to (bats: a file exits 1 if any test failed)", () => {
    const file = parseTap("mask", "ok 1 - mask paths [file]\nnot ok 2 - mask paths [prohibit symlink /proc]\n1..2\n", 1);
    const b = parseBaseline(formatBaseline([], [[file]], { trustFailedPrograms: true }));
    expect([...b.stable]).toEqual(["mask: mask paths [file]"]);
    expect(b.flaky.size).toBe(0);
  });

  it("gates on a program's exit status", () => {
    const b = parseBaseline(formatBaseline([], [[parseTap("process_rlimits_fail", "", 0)]]));
    expect([...b.stable]).toEqual(["process_rlimits_fail: (exits 0)"]);
    expect(compare(b, [parseTap("process_rlimits_fail", "", 1)]).regressions).toEqual([
      { id: "process_rlimits_fail: (exits 0)", now: "fail" },
    ]);
  });

  it("reports a flaky assertion that failed without gating on it", () => {
    const failing = parseTap("killsig", "ok 1 - a\nnot ok 2 - b\n1..2\n", 0);
    const c = compare({ stable: new Set(["killsig: a", "killsig: (exits 0)"]), flaky: new Set(["killsig: b"]) }, [failing]);
    expect(c).toEqual({ regressions: [], flakyMisses: [{ id: "killsig: b", now: "fail" }], gains: [] });
  });

  it("passes when every baseline assertion passes", () => {
    expect(compare(parseBaseline(formatBaseline([], [reference])), reference)).toEqual({ regressions: [], flakyMisses: [], gains: [] });
  });
});
