// Issue 16, item 4 (part): `tsbox events`, Docker's. Each action is recorded
// with its attributes at the moment it happens (a detached container's die by
// the monitor's decider), replayed with --since/--until, filtered, formatted,
// followed until Ctrl-C; the log is bounded and what is read back is checked.
// And `update --restart`, which the decider reads at the container's next exit.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkEventFormat, eventJson, eventLine, eventMatches, eventMessage, formatEvent, parseEventFilters, parseEventTime, streamEvents,
} from "../src/runtime/events.js";
import { MAX_BYTES, encodeRecord, eventsFile, parseRecords, readEvents, recordEvent, type EventRecord } from "../src/state/events.js";
import { busyboxTarball, removeRoot, rootWithBusybox, stateOf, tsbox, tsboxAsync, until } from "./helpers.js";
import { missingRegistryTools, startRegistry, type RunningRegistry } from "./registry.fixtures.js";

const record = (o: Partial<EventRecord> = {}): EventRecord => ({
  v: 1, type: "container", action: "die", id: "a".repeat(64),
  attributes: { name: "web", image: "busybox", exitCode: "3" }, timeNano: "1796298281804900294", ...o,
});

describe("events (pure)", () => {
  it("prints Docker's line and JSON: nine fraction digits, attributes sorted, timeNano exact", () => {
    const m = eventMessage(record());
    expect(eventLine(m)).toBe(`2026-12-03T11:44:41.804900294Z container die ${"a".repeat(64)} (exitCode=3, image=busybox, name=web)\n`);
    expect(eventJson(m)).toBe(`{"status":"die","id":"${"a".repeat(64)}","from":"busybox","Type":"container","Action":"die",`
      + `"Actor":{"ID":"${"a".repeat(64)}","Attributes":{"exitCode":"3","image":"busybox","name":"web"}},"scope":"local",`
      + `"time":1796298281,"timeNano":1796298281804900294}`);
    // an image event has no "from"; no attributes, no parentheses
    const img = eventMessage(record({ type: "image", action: "delete", id: "sha256:x", attributes: {} }));
    expect(eventJson(img)).not.toContain('"from"');
    expect(eventLine(img)).toMatch(/ image delete sha256:x\n$/);
  });

  it("formats {{json .}}, json and Go field templates; a missing map key is <no value>, a missing field an error", () => {
    const m = eventMessage(record());
    expect(formatEvent("{{json .}}", m)).toBe(`${eventJson(m)}\n`);
    expect(formatEvent("json", m)).toBe(`${eventJson(m)}\n`);
    expect(formatEvent("{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.nope}} {{.From}} {{.TimeNano}}", m))
      .toBe("container die web <no value> busybox 1796298281804900294\n");
    expect(formatEvent("{{json .Actor.Attributes}}\\t{{.Status}}", m)).toBe('{"exitCode":"3","image":"busybox","name":"web"}\tdie\n');
    expect(() => formatEvent("{{.Bogus}}", m)).toThrow(/can't evaluate field Bogus/);
    // The whole template language: ranges, conditions, functions, a bigint in json.
    expect(formatEvent(`{{range $k, $v := .Actor.Attributes}}{{$k}}={{$v}};{{end}} {{if eq .Action "die"}}{{upper .Type}}{{end}} {{json .TimeNano}}`, m))
      .toBe("exitCode=3;image=busybox;name=web; CONTAINER 1796298281804900294\n");
    expect(() => checkEventFormat("{{.Bogus}}")).toThrow(`Error parsing format: template: :1:2: executing "" at <.Bogus>: can't evaluate field Bogus in type *events.Message`);
    expect(() => checkEventFormat("{{")).toThrow("Error parsing format: template: :1: unclosed action");
    // Go's encoder escapes HTML's characters
    expect(eventJson(eventMessage(record({ attributes: { name: "a<b>&c" } })))).toContain('"name":"a\\u003cb\\u003e\\u0026c"');
  });

  it("filters as moby's: keys AND, values OR; container by ID or name prefix, image with or without tag, labels", () => {
    const m = eventMessage(record({ attributes: { name: "web", image: "busybox:1", exitCode: "0", tier: "front" } }));
    const ok = (...f: string[]): boolean => eventMatches(parseEventFilters(f), m);
    expect(ok()).toBe(true);
    expect(ok("type=container", "event=die")).toBe(true);
    expect(ok("event=start", "event=die")).toBe(true);
    expect(ok("event=start")).toBe(false);
    expect(ok("type=image")).toBe(false);
    expect(ok("container=we")).toBe(true);
    expect(ok("container=aaaa")).toBe(true);
    expect(ok("container=db")).toBe(false);
    expect(ok("image=busybox")).toBe(true);
    expect(ok("image=busybox:1")).toBe(true);
    expect(ok("image=busybox:2")).toBe(false);
    expect(ok("label=tier")).toBe(true);
    expect(ok("label=tier=front")).toBe(true);
    expect(ok("label=tier=back")).toBe(false);
    expect(ok("network=x")).toBe(false);
    expect(() => parseEventFilters(["bogus=1"])).toThrow("invalid filter 'bogus'");
    expect(() => parseEventFilters(["bogus"])).toThrow('invalid argument "bogus" for "-f, --filter" flag: bad format of filter (expected name=value)');
  });

  it("takes --since/--until as RFC 3339, Unix seconds (with nanoseconds) or a duration before now", () => {
    const now = Date.parse("2026-12-03T10:00:00Z");
    expect(parseEventTime("2026-12-03T09:00:00Z", now)).toBe(BigInt(Date.parse("2026-12-03T09:00:00Z")) * 1_000_000n);
    expect(parseEventTime("10m", now)).toBe(BigInt(now - 600_000) * 1_000_000n);
    expect(parseEventTime("1796298281.804900294", now)).toBe(1796298281804900294n);
    expect(() => parseEventTime("xyz", now)).toThrow('failed to parse value as time or duration: "xyz"');
  });

  it("keeps a line whole under PIPE_BUF: labels go before the event's own attributes", () => {
    const labels = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`label${i}`, "x".repeat(20)]));
    const line = encodeRecord(record({ attributes: { ...labels, name: "web", image: "busybox", exitCode: "1" } }));
    expect(Buffer.byteLength(line)).toBeLessThan(4096);
    expect(parseRecords(line)[0]!.attributes).toEqual({ name: "web", image: "busybox", exitCode: "1" });
  });

  it("skips what is not a whole, valid record when reading back", () => {
    const good = encodeRecord(record());
    const text = `${good}not json\n{"v":2,"type":"container"}\n${JSON.stringify({ ...record(), timeNano: "-1" })}\n${good.slice(0, 30)}`;
    expect(parseRecords(text)).toEqual([record()]);
  });

  it("is bounded: past its size the log is rotated once to .1, and both are read", () => {
    const root = fs.mkdtempSync("/var/tmp/tsbox-events-");
    try {
      const per = Buffer.byteLength(encodeRecord(record({ timeNano: "1" })));
      const n = Math.ceil((MAX_BYTES * 2.5) / per);
      for (let i = 0; i < n; i++) recordEvent(root, "container", "die", "a".repeat(64), record().attributes, 1_000_000_000n + BigInt(i));
      const size = (f: string): number => fs.statSync(f).size;
      expect(size(eventsFile(root))).toBeLessThanOrEqual(MAX_BYTES);
      expect(size(`${eventsFile(root)}.1`)).toBeLessThanOrEqual(MAX_BYTES + per);
      const kept = readEvents(root);
      expect(kept.length).toBeGreaterThan(MAX_BYTES / per);
      // the newest ones, in order, none torn
      expect(kept.at(-1)!.timeNano).toBe(String(1_000_000_000n + BigInt(n - 1)));
      expect(kept.map((r) => BigInt(r.timeNano))).toEqual([...kept.map((r) => BigInt(r.timeNano))].sort((a, b) => (a < b ? -1 : 1)));
      expect(fs.readdirSync(root).sort()).toEqual(["events.log", "events.log.1"]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("follows a log that does not exist yet; one process's events keep their order", async () => {
    const root = fs.mkdtempSync("/var/tmp/tsbox-events-");
    try {
      const ac = new AbortController();
      const seen: string[] = [];
      const done = streamEvents(root, { filters: new Map(), signal: ac.signal, format: "{{.Action}} {{.TimeNano}}", pollMs: 5 }, (x) => {
        seen.push(x.trim());
      });
      for (const a of ["tag", "import"]) recordEvent(root, "image", a, "sha256:x", {});
      await until(() => seen.length === 2 || undefined, "two events");
      ac.abort();
      await done;
      expect(seen.map((l) => l.split(" ")[0])).toEqual(["tag", "import"]);
      const [t1, t2] = seen.map((l) => BigInt(l.split(" ")[1]!));
      expect(t1! < t2!).toBe(true);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("follows across a rotation: the old file is read to its end before the new one", async () => {
    const root = fs.mkdtempSync("/var/tmp/tsbox-events-");
    try {
      recordEvent(root, "container", "create", "b".repeat(64), { name: "x" });
      const ac = new AbortController();
      const seen: string[] = [];
      const done = streamEvents(root, { filters: new Map(), signal: ac.signal, format: "{{.Action}}", pollMs: 5 }, (s) => {
        seen.push(s.trim());
      });
      const per = Buffer.byteLength(encodeRecord(record()));
      const n = Math.ceil(MAX_BYTES / per) + 10;
      for (let i = 0; i < n; i++) recordEvent(root, "container", i === n - 1 ? "last" : "die", "a".repeat(64), record().attributes);
      await until(() => seen.includes("last") || undefined, "the last event");
      ac.abort();
      await done;
      expect(seen.length).toBe(n); // the replay-free follow: none before, every one after, no duplicate
      expect(fs.existsSync(`${eventsFile(root)}.1`)).toBe(true);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("on the command line", () => {
  let root: string;
  let start: string;
  beforeAll(() => {
    root = rootWithBusybox();
    start = new Date().toISOString();
  });
  afterAll(() => removeRoot(root));

  const ok = (args: string[]): string => {
    const r = tsbox(root, args);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return r.stdout;
  };
  /** The replayed events of one container: "action k=v,…" each, the attributes as recorded. */
  const eventsOf = (name: string, since = start): string[] =>
    ok(["events", "--since", since, "--until", "0s", "--filter", `container=${name}`, "--format", "{{.Action}} {{json .Actor.Attributes}}"])
      .trim().split("\n").filter((l) => l !== "");

  it("records a container's life as Docker does, in order, with its attributes", () => {
    const id = ok(["run", "-d", "--name", "life", "--network", "none", "busybox", "sleep", "600"]).trim();
    for (const verb of [["pause", "life"], ["unpause", "life"], ["rename", "life", "life2"], ["rename", "life2", "life"],
      ["kill", "-s", "USR1", "life"], ["stop", "-t", "1", "life"], ["start", "life"], ["restart", "-t", "1", "life"], ["rm", "-f", "life"]]) {
      const r = tsbox(root, verb);
      expect(r.code, verb.join(" ")).toBe(0);
    }
    const a = (extra = ""): string => `{${extra}"image":"busybox","name":"life"}`;
    expect(eventsOf(id)).toEqual([
      `create ${a()}`, `start ${a()}`, `pause ${a()}`, `unpause ${a()}`,
      'rename {"image":"busybox","name":"life2","oldName":"/life"}', 'rename {"image":"busybox","name":"life","oldName":"/life2"}',
      `kill {"image":"busybox","name":"life","signal":"10"}`,
      // sleep as PID 1 ignores SIGTERM: stop escalates after its timeout
      `kill {"image":"busybox","name":"life","signal":"15"}`, `kill {"image":"busybox","name":"life","signal":"9"}`,
      `die ${a('"exitCode":"137",')}`, `stop ${a()}`, `start ${a()}`,
      `kill {"image":"busybox","name":"life","signal":"15"}`, `kill {"image":"busybox","name":"life","signal":"9"}`,
      `die ${a('"exitCode":"137",')}`, `stop ${a()}`, `start ${a()}`, `restart ${a()}`,
      `kill {"image":"busybox","name":"life","signal":"9"}`, `die ${a('"exitCode":"137",')}`, `destroy ${a()}`,
    ]);
  });

  it("records a foreground run's die with its exit code, and --rm's destroy; a detached exit's die comes from the monitor", () => {
    expect(tsbox(root, ["run", "--rm", "--name", "fg", "--network", "none", "busybox", "sh", "-c", "exit 3"]).code).toBe(3);
    // Docker's client attaches before the start (not with -d)
    expect(eventsOf("fg").map((l) => l.split(" ")[0])).toEqual(["create", "attach", "start", "die", "destroy"]);
    expect(eventsOf("fg")[3]).toBe('die {"exitCode":"3","image":"busybox","name":"fg"}');
    const id = ok(["run", "-d", "--name", "bg", "--network", "none", "busybox", "sh", "-c", "exit 4"]).trim();
    expect(ok(["wait", id])).toBe("4\n");
    expect(eventsOf("bg")).toEqual([
      'create {"image":"busybox","name":"bg"}', 'start {"image":"busybox","name":"bg"}', 'die {"exitCode":"4","image":"busybox","name":"bg"}',
    ]);
    ok(["rm", "bg"]);
  });

  it("records exec_create, exec_start and exec_die with the command and one execID, as Docker; a failed start has no die", () => {
    ok(["run", "-d", "--name", "ex", "--network", "none", "busybox", "sleep", "600"]);
    const since = new Date().toISOString();
    expect(tsbox(root, ["exec", "ex", "sh", "-c", "exit 3"]).code).toBe(3);
    expect(tsbox(root, ["exec", "-w", "/missing", "ex", "true"]).code).toBe(126);
    const seen = eventsOf("ex", since).map((l) => {
      const [action, attrs] = [l.slice(0, l.indexOf(" {")), JSON.parse(l.slice(l.indexOf(" {") + 1)) as Record<string, string>];
      return { action, execID: attrs.execID, exitCode: attrs.exitCode };
    });
    expect(seen.map((e) => [e.action, e.exitCode])).toEqual([
      ["exec_create: sh -c exit 3", undefined], ["exec_start: sh -c exit 3", undefined], ["exec_die", "3"],
      // Docker's "entrypoint, a space, the arguments": a lone word keeps the space
      ["exec_create: true ", undefined], ["exec_start: true ", undefined],
    ]);
    expect(seen[0]!.execID).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(seen.slice(0, 3).map((e) => e.execID)).size).toBe(1);
    expect(seen[3]!.execID).not.toBe(seen[0]!.execID);
    // event=exec_create matches the action's part before the colon, as moby's filter
    expect(ok(["events", "--since", since, "--until", "0s", "--filter", "event=exec_create", "--format", "{{.Action}}"]))
      .toBe("exec_create: sh -c exit 3\nexec_create: true \n");
    ok(["rm", "-f", "ex"]);
  });

  it("records volume create/destroy and network create/connect/disconnect/destroy as Docker; the volume=, network= and type= filters", () => {
    const since = new Date().toISOString();
    ok(["volume", "create", "ev-vol"]);
    ok(["volume", "rm", "ev-vol"]);
    const net = ok(["network", "create", "ev-net"]).trim();
    const c = ok(["create", "--name", "ev-c", "--network", "none", "busybox", "true"]).trim();
    ok(["network", "rm", "ev-net"]);
    const lines = (filters: string[]): string[] =>
      ok(["events", "--since", since, "--until", "0s", ...filters.flatMap((f) => ["--filter", f]), "--format", "{{.Type}} {{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}"])
        .trim().split("\n").filter((l) => l !== "");
    expect(lines(["type=volume", "type=network"])).toEqual([
      'volume create ev-vol {"driver":"local"}', 'volume destroy ev-vol {"driver":"local"}',
      `network create ${net} {"name":"ev-net","type":"bridge"}`, `network destroy ${net} {"name":"ev-net","type":"bridge"}`,
    ]);
    expect(lines(["volume=ev-vol"])).toHaveLength(2);
    expect(lines(["network=ev-net"])).toHaveLength(2);
    expect(lines(["network=ev-net", "container=ev-c"])).toEqual([]); // keys all apply
    // Docker's JSON for them has no status, id or from
    const json = ok(["events", "--since", since, "--until", "0s", "--filter", "type=volume", "--format", "json"]).split("\n")[0]!;
    expect(Object.keys(JSON.parse(json) as object)).toEqual(["Type", "Action", "Actor", "scope", "time", "timeNano"]);
    ok(["rm", c]);
  });

  it("records network connect before each start and disconnect after each die, one per network, as Docker's daemon", () => {
    const since = new Date().toISOString();
    const net = ok(["network", "create", "ev-net2"]).trim();
    const donor = ok(["run", "-d", "--name", "ev-donor", "--network", "none", "busybox", "sleep", "600"]).trim();
    const ids: Record<string, string> = {};
    for (const [name, mode] of [["ev-b", "bridge"], ["ev-n", "none"], ["ev-h", "host"], ["ev-u", "ev-net2"], ["ev-j", "container:ev-donor"]] as const) {
      ids[name] = ok(["run", "-d", "--name", name, "--network", mode, "busybox", "true"]).trim();
      ok(["wait", name]);
    }
    ok(["start", "ev-b"]);
    ok(["wait", "ev-b"]);
    const lines = ok(["events", "--since", since, "--until", "0s", "--format", "{{.Type}} {{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}"])
      .trim().split("\n");
    const story = (id: string): string[] => lines.filter((l) => l.includes(id)).map((l) => {
      const [type, action] = l.split(" ");
      const attrs = JSON.parse(l.slice(l.indexOf("{"))) as Record<string, string>;
      return type === "network" ? `network ${action} ${attrs.name}/${attrs.type}` : `${action}`;
    });
    const life = (name: string, type: string): string[] => [`network connect ${name}/${type}`, "start", "die", `network disconnect ${name}/${type}`];
    expect(story(ids["ev-b"]!)).toEqual(["create", ...life("bridge", "bridge"), ...life("bridge", "bridge")]);
    expect(story(ids["ev-n"]!)).toEqual(["create", ...life("none", "null")]);
    expect(story(ids["ev-h"]!)).toEqual(["create", ...life("host", "host")]);
    expect(story(ids["ev-u"]!)).toEqual(["create", ...life("ev-net2", "bridge")]);
    // the network is the actor: filters by network= find them
    expect(lines.filter((l) => l.startsWith(`network connect ${net} `) && l.includes(ids["ev-u"]!))).toHaveLength(1);
    // joined to another's stack: no network of its own, no network event
    expect(story(ids["ev-j"]!)).toEqual(["create", "start", "die"]);
    ok(["rm", "-f", donor, ...Object.values(ids)]);
    ok(["network", "rm", "ev-net2"]);
  });

  it("records an OOM kill before the die", () => {
    const id = ok(["run", "-d", "--name", "oom", "--network", "none", "-m", "8m", "--memory-swap", "8m", "busybox", "sh", "-c",
      "x=a; while true; do x=$x$x; done"]).trim();
    ok(["wait", id]);
    expect(eventsOf("oom").map((l) => l.split(" ")[0])).toEqual(["create", "start", "oom", "die"]);
    ok(["rm", "oom"]);
  });

  it("records the image verbs: tag, save, untag, load, import (tag and import), delete", () => {
    const since = new Date().toISOString();
    const tar = path.join(root, "saved.tar");
    ok(["tag", "busybox", "evt:1"]);
    ok(["save", "-o", tar, "evt:1"]);
    ok(["rmi", "evt:1"]);
    ok(["load", "-i", tar]);
    ok(["rmi", "evt:1"]);
    const imported = ok(["import", busyboxTarball(), "evi:1"]).trim();
    ok(["rmi", "evi:1"]);
    const bb = stateOfImage("busybox");
    const lines = ok(["events", "--since", since, "--until", "0s", "--filter", "type=image"]).trim().split("\n")
      .map((l) => l.replace(/^\S+ /, ""));
    expect(lines).toEqual([
      `image tag ${bb} (name=evt:1)`, `image save ${bb} (name=${bb})`, `image untag ${bb} (name=${bb})`,
      `image load ${bb} (name=${bb})`, `image untag ${bb} (name=${bb})`,
      `image tag ${imported} (name=evi:1)`, `image import ${imported} (name=${imported})`,
      `image untag ${imported} (name=${imported})`, `image delete ${imported} (name=${imported})`,
    ]);
    expect(ok(["events", "--since", since, "--until", "0s", "--filter", "image=evt", "--format", "{{.Action}}"])).toBe("tag\n");
    expect(ok(["events", "--since", since, "--until", "0s", "--filter", "type=image", "--filter", "event=delete", "--format", "{{.ID}}"]))
      .toBe(`${imported}\n`);
  });

  const stateOfImage = (ref: string): string => (JSON.parse(ok(["image", "inspect", ref])) as { Id: string }[])[0]!.Id;

  it("--since/--until select a window; bad values and filters are refused in Docker's words", () => {
    ok(["run", "--name", "w1", "--network", "none", "busybox", "true"]);
    const mid = new Date().toISOString();
    ok(["run", "--name", "w2", "--network", "none", "busybox", "true"]);
    const names = (args: string[]): string[] =>
      [...new Set(ok(["events", "--filter", "event=create", "--format", "{{.Actor.Attributes.name}}", ...args]).trim().split("\n"))];
    expect(names(["--since", start, "--until", mid]).filter((n) => n.startsWith("w"))).toEqual(["w1"]);
    expect(names(["--since", mid, "--until", "0s"])).toEqual(["w2"]);
    expect(names(["--until", mid]).filter((n) => n.startsWith("w"))).toEqual(["w1"]); // --until alone replays from the start
    const t = tsbox(root, ["events", "--since", "xyz"]);
    expect([t.code, t.stderr]).toEqual([1, 'tsbox: failed to parse value as time or duration: "xyz"\n']);
    const f = tsbox(root, ["events", "--filter", "bogus=1", "--until", "0s"]);
    expect([f.code, f.stderr]).toEqual([1, "tsbox: invalid filter 'bogus'\n"]);
    const b = tsbox(root, ["events", "--filter", "bogus", "--until", "0s"]);
    expect(b.code).toBe(125);
    ok(["rm", "w1", "w2"]);
  });

  it("skips a line of the log that is not a valid event", () => {
    const since = new Date().toISOString();
    fs.appendFileSync(eventsFile(root), "garbage\n{\"v\":1}\n");
    ok(["run", "--rm", "--name", "after-garbage", "--network", "none", "busybox", "true"]);
    expect(eventsOf("after-garbage", since).length).toBe(5); // create, attach, start, die, destroy
  });

  it("follows: a new event is printed as it happens; Ctrl-C ends the stream, exit 130 as Docker's client", async () => {
    const p = tsboxAsync(root, ["events", "--filter", "container=followed", "--format", "{{.Action}} {{.Actor.Attributes.name}}"]);
    let out = "";
    p.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => p.on("close", (code) => resolve(code)));
    // Following once it holds the log open.
    await until(() => {
      try {
        return fs.readdirSync(`/proc/${p.pid}/fd`).some((fd) => {
          try { return fs.readlinkSync(`/proc/${p.pid}/fd/${fd}`) === eventsFile(root); } catch { return false; }
        }) || undefined;
      } catch { return undefined; }
    }, "events to open the log");
    ok(["run", "--rm", "--name", "followed", "--network", "none", "busybox", "true"]);
    await until(() => out.includes("destroy followed") || undefined, "the destroy event");
    p.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(out).toBe("create followed\nattach followed\nstart followed\ndie followed\ndestroy followed\n");
  });

  it("Docker records the same container events with the same attributes (system events is events)", () => {
    if (spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status !== 0) {
      console.warn("events: Docker comparison skipped: `docker info` failed");
      return;
    }
    const tag = `tsbox-events-cmp:${process.pid}`;
    expect(spawnSync("docker", ["import", busyboxTarball(), tag]).status).toBe(0);
    const name = `tsbox-events-cmp-${process.pid}`;
    const since = new Date().toISOString();
    try {
      spawnSync("docker", ["run", "--rm", "--name", name, "--network", "none", tag, "sh", "-c", "exit 5"]);
      expect(tsbox(root, ["run", "--rm", "--name", name, "--network", "none", "busybox", "sh", "-c", "exit 5"]).code).toBe(5);
      const until = new Date().toISOString();
      const args = ["--since", since, "--until", until, "--filter", `container=${name}`, "--filter", "type=container",
        ...["create", "attach", "start", "die", "destroy"].flatMap((e) => ["--filter", `event=${e}`]),
        "--format", "{{.Type}} {{.Action}} {{json .Actor.Attributes}}"];
      const d = spawnSync("docker", ["events", ...args], { encoding: "utf8" });
      expect(d.status).toBe(0);
      const t = tsbox(root, ["system", "events", ...args]);
      expect(t.code).toBe(0);
      expect(t.stdout).toBe(d.stdout.replaceAll(tag, "busybox"));
      expect(t.stdout.split("\n")[3]).toBe(`container die {"exitCode":"5","image":"busybox","name":"${name}"}`);
    } finally {
      spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
      spawnSync("docker", ["rmi", tag], { stdio: "ignore" });
    }
  });

  it("update --restart: recorded, and honoured by the monitor at the container's next exit", () => {
    // Exits 3 once /go exists (it stays in the read-write layer: every later run exits at once).
    const id = ok(["run", "-d", "--name", "upd", "--network", "none", "busybox", "sh", "-c", "while [ ! -e /go ]; do sleep 0.05; done; exit 3"]).trim();
    expect(ok(["update", "--restart", "on-failure:2", "upd"])).toBe("upd\n");
    expect(stateOf(root, id).restartPolicy).toEqual({ name: "on-failure", maximumRetryCount: 2 });
    ok(["exec", "upd", "touch", "/go"]);
    expect(ok(["wait", "upd"])).toBe("3\n"); // after the restarts: the last exit
    const [s] = JSON.parse(ok(["inspect", "upd"])) as { RestartCount: number; State: { ExitCode: number }; HostConfig: { RestartPolicy: unknown } }[];
    expect(s!.RestartCount).toBe(2);
    expect(s!.State.ExitCode).toBe(3);
    expect(s!.HostConfig.RestartPolicy).toEqual({ Name: "on-failure", MaximumRetryCount: 2 });
    expect(eventsOf("upd").map((l) => l.split(" ")[0]).filter((a) => !a!.startsWith("exec_")))
      .toEqual(["create", "start", "die", "start", "die", "start", "die"]);
    // and back to "no": the next exit is the last
    ok(["update", "--restart", "no", "upd"]);
    ok(["start", "upd"]);
    expect(ok(["wait", "upd"])).toBe("3\n");
    expect((JSON.parse(ok(["inspect", "upd"])) as { RestartCount: number }[])[0]!.RestartCount).toBe(0);
    ok(["rm", "upd"]);
  });

  it("update --restart is refused for a --rm container (Docker's message, exit 1), --restart no is not; bad policies are refused", () => {
    const id = ok(["run", "-d", "--rm", "--name", "auto", "--network", "none", "busybox", "sleep", "600"]).trim();
    const r = tsbox(root, ["update", "--restart", "always", "auto"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tsbox: Cannot update container ${id}: Restart policy cannot be updated because AutoRemove is enabled for the container\n`);
    expect(stateOf(root, id).restartPolicy).toEqual({ name: "no", maximumRetryCount: 0 });
    expect(ok(["update", "--restart", "no", "auto"])).toBe("auto\n");
    expect(tsbox(root, ["update", "--restart", "bogus", "auto"]).code).toBe(1);
    ok(["rm", "-f", "auto"]);
    if (spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status !== 0) {
      console.warn("events: Docker comparison skipped: `docker info` failed");
      return;
    }
    const tag = `tsbox-events:${process.pid}`;
    expect(spawnSync("docker", ["import", busyboxTarball(), tag]).status).toBe(0);
    const name = `tsbox-events-${process.pid}`;
    try {
      const did = spawnSync("docker", ["run", "-d", "--rm", "--name", name, "--network", "none", tag, "sleep", "600"], { encoding: "utf8" }).stdout.trim();
      const d = spawnSync("docker", ["update", "--restart", "always", name], { encoding: "utf8" });
      expect(d.status).toBe(1);
      expect(d.stderr).toContain(`Cannot update container ${did}: Restart policy cannot be updated because AutoRemove is enabled for the container`);
    } finally {
      spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
      spawnSync("docker", ["rmi", tag], { stdio: "ignore" });
    }
  });
});

describe("image pull and push events", () => {
  const missing = missingRegistryTools();
  let work: string;
  let root: string;
  let registry: RunningRegistry | undefined;
  beforeAll(async () => {
    if (missing.length > 0) return;
    work = fs.mkdtempSync("/var/tmp/tsbox-events-reg-");
    root = rootWithBusybox();
    registry = await startRegistry(path.join(work, "registry"));
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
    if (root) removeRoot(root);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it.skipIf(missing.length > 0)("push and pull: the reference is the actor, its repository the name, as Docker's", () => {
    const since = new Date().toISOString();
    const ref = `${registry!.host}/ev/busybox:1`;
    expect(tsbox(root, ["tag", "busybox", ref]).code).toBe(0);
    expect(tsbox(root, ["push", ref]).code).toBe(0);
    expect(tsbox(root, ["rmi", ref]).code).toBe(0);
    expect(tsbox(root, ["pull", ref]).code).toBe(0);
    const out = tsbox(root, ["events", "--since", since, "--until", "0s", "--filter", "event=push", "--filter", "event=pull",
      "--format", "{{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}"]).stdout;
    expect(out).toBe(`push ${ref} {"name":"${registry!.host}/ev/busybox"}\npull ${ref} {"name":"${registry!.host}/ev/busybox"}\n`);
  });
});
