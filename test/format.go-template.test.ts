// The Go template engine of `--format`: Go's text/template semantics and
// error texts, Docker's template functions, the table/json forms and Go's
// tabwriter. The expected strings are what Go (through `docker inspect -f`
// and `docker … --format`, Docker CLI 28) prints; where docker is present,
// the same templates run on a container's `docker inspect` JSON are compared
// with `docker inspect -f` itself.

import { execFileSync, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { STRUCT_TYPE, Template, TemplateParseError, sprintf } from "../src/util/go-template.js";
import { DOCKER_FUNCS, VOLUMES_FORMAT, formatRows, goJson, parseDockerTemplate, volumeRow, withTypedNils } from "../src/util/docker-format.js";
import { tabwrite } from "../src/util/tabwriter.js";
import { busyboxTarball } from "./helpers.js";

const inspectData = {
  Id: "b9ea6cf8d90c", Name: "/tmplc", Path: "sh", Args: ["-c", "echo hi there"],
  State: { Status: "created", Running: false, Pid: 0, ExitCode: 0 },
  Config: { Env: ["X=1"], Cmd: ["sh", "-c", "echo hi there"], Labels: { a: "b", c: "d" }, Volumes: null },
  HostConfig: { Memory: 0, ShmSize: 67108864 },
};

/** As `docker inspect -f` runs a template on raw JSON. */
const inspect = (t: string, data: unknown = inspectData): string =>
  parseDockerTemplate(t).execute(data, { missingKey: "error" });
const run = (t: string, data: unknown = inspectData): string => parseDockerTemplate(t).execute(data);
const fails = (t: string, data: unknown = inspectData): string => {
  try {
    return `no error: ${inspect(t, data)}`;
  } catch (e) {
    return (e as Error).message;
  }
};

describe("Go templates: what docker inspect -f prints", () => {
  it.each([
    ["{{.State.Status}} {{json .Config.Cmd}} {{.Config.Cmd}} {{.Name}}", `created ["sh","-c","echo hi there"] [sh -c echo hi there] /tmplc`],
    ["{{range $i, $e := .Config.Cmd}}{{$i}}={{$e}};{{end}}", "0=sh;1=-c;2=echo hi there;"],
    ["{{range .Config.Cmd}}[{{.}}]{{end}}", "[sh][-c][echo hi there]"],
    ["{{range $v := .Config.Cmd}}{{$v}},{{end}}", "sh,-c,echo hi there,"],
    ["{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}", "a=b c=d "],
    ["{{.State.Pid}} {{.Config.Labels}} {{.HostConfig.Memory}} {{.Config.Env}}", "0 map[a:b c:d] 0 [X=1]"],
    ["{{.Config.Cmd | len}} {{index .Config.Cmd 1}} {{join .Config.Cmd \",\"}}", "3 -c sh,-c,echo hi there"],
    ["{{index .Config.Labels \"zz\"}}|{{index .Config.Labels \"a\"}}", "|b"],
    ["{{printf \"%s-%d-%v-%q\" .Name 5 .Config.Cmd .Name}}", `/tmplc-5-[sh -c echo hi there]-"/tmplc"`],
    ["{{upper .Name}} {{title \"hello world\"}} {{split \"a,b\" \",\"}} {{truncate .Name 3}} {{pad .Name 1 2}}|", "/TMPLC Hello World [a b] /tm  /tmplc  |"],
    ["{{println .Name}}{{print 1 2 \"a\" \"b\" 3}}", "/tmplc\n1 2ab3"],
    ["{{if eq .State.Status \"created\" \"x\"}}yes{{else if .Name}}n{{end}} {{lt 1 2}} {{ne .Name \"a\"}} {{and 1 0}} {{or 0 \"\" \"z\"}} {{not .Name}}", "yes true true 0 z false"],
    ["{{eq .State.Pid \"x\"}}", "false"],
    ["{{.Name | }}", "/tmplc"],
    ["{{index .Name 1}}", "116"],
    ["{{printf \"%5.1f|%-4d|%x|%t|%v|%q|%s\" 3.14159 7 255 true .Config.Env .Config.Cmd .Config.Labels}}", `  3.1|7   |ff|true|[X=1]|["sh" "-c" "echo hi there"]|map[a:b c:d]`],
    ["{{printf \"%d\" \"x\"}}|{{printf \"%s\"}}|{{printf \"%s\" 1 2}}", "%!d(string=x)|%!s(MISSING)|%!s(int=1)%!(EXTRA int=2)"],
    ["{{with .Config.Labels}}{{.a}}{{end}}{{with $x := .Name}}{{$x}}{{end}}", "b/tmplc"],
    ["{{- \" a \" -}}  {{/* c */}} {{- 3 }} {{- 1.5 -}} {{ 1e3 }} {{0x10}} {{ .State.ExitCode | printf \"%03d\" }}", " a 31.51000 16 000"],
    ["{{json .State}}", `{"Status":"created","Running":false,"Pid":0,"ExitCode":0}`],
    ["{{json .Config.Labels}}", `{"a":"b","c":"d"}`],
    ["{{.}}", "map[Args:[-c echo hi there] Config:map[Cmd:[sh -c echo hi there] Env:[X=1] Labels:map[a:b c:d] Volumes:<nil>] HostConfig:map[Memory:0 ShmSize:67108864] Id:b9ea6cf8d90c Name:/tmplc Path:sh State:map[ExitCode:0 Pid:0 Running:false Status:created]]"],
  ])("%s", (t, want) => {
    expect(inspect(t)).toBe(want);
  });

  it("a missing key of a Go map of Docker's typed structs is <no value>, as `docker inspect -f '{{.Config.Labels.zz}}'` prints", () => {
    expect(inspect("{{.Config.Labels.zz}}|{{.Config.Volumes.x}}|{{index .Config.Labels \"zz\"}}", withTypedNils(inspectData)))
      .toBe("<no value>|<no value>|");
    expect(fails("{{.Config.Zz}}", withTypedNils(inspectData))).toBe(`template: :1:9: executing "" at <.Config.Zz>: map has no entry for key "Zz"`);
  });

  it.each([
    ["{{.Foo}}", `template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"`],
    ["{{.State.Foo}}", `template: :1:8: executing "" at <.State.Foo>: map has no entry for key "Foo"`],
    ["{{index .Config.Cmd 9}}", `template: :1:2: executing "" at <index .Config.Cmd 9>: error calling index: index out of range: 9`],
    ["{{.Config.Foo.Bar}}", `template: :1:9: executing "" at <.Config.Foo.Bar>: map has no entry for key "Foo"`],
    ["a\n{{.Foo}}", `template: :2:2: executing "" at <.Foo>: map has no entry for key "Foo"`],
    ["{{upper .State.Pid}}", `template: :1:14: executing "" at <.State.Pid>: wrong type for value; expected string; got json.Number`],
    ["{{eq .Config.Cmd \"x\"}}", `template: :1:2: executing "" at <eq .Config.Cmd "x">: error calling eq: incompatible types for comparison`],
    ["{{lt .Config.Cmd 1}}", `template: :1:2: executing "" at <lt .Config.Cmd 1>: error calling lt: invalid type for comparison`],
    ["{{.Name .Id}}", `template: :1:2: executing "" at <.Name>: Name is not a method but has arguments`],
    ["{{\"a\" .Id}}", `template: :1:2: executing "" at <"a">: can't give argument to non-function "a"`],
    ["{{nil}}", `template: :1:2: executing "" at <nil>: nil is not a command`],
    ["{{range .Name}}{{end}}", `template: :1:8: executing "" at <.Name>: range can't iterate over /tmplc`],
    ["{{join .Config.Labels \",\"}}", `template: :1:14: executing "" at <.Config.Labels>: wrong type for value; expected []string; got map[string]interface {}`],
    ["{{.State.Pid.X}}", `template: :1:8: executing "" at <.State.Pid.X>: can't evaluate field X in type interface {}`],
  ])("error of %s", (t, want) => {
    expect(fails(t)).toBe(want);
  });

  it.each([
    ["{{", "template: :1: unclosed action"],
    ["{{foo .Name}}", `template: :1: function "foo" not defined`],
    ["{{$x}}", `template: :1: undefined variable "$x"`],
    ["{{end}}", "template: :1: unexpected {{end}}"],
    ["{{if .Name}}", "template: :1: unexpected EOF"],
    ["{{else}}", "template: :1: unexpected {{else}}"],
    ["{{.Name!}}", "template: :1: bad character U+0021 '!'"],
    ["{{(.Name}}", "template: :1: unclosed left paren"],
    ["{{if}}{{end}}", "template: :1: missing value for if"],
    ["a\n\n{{.A", "template: :3: unclosed action"],
  ])("parse error of %s", (t, want) => {
    expect(() => parseDockerTemplate(t)).toThrow(want);
  });
});

describe("Go templates: semantics", () => {
  it("inspect's nil slices and maps print as Docker's typed structs print them; json keeps null; nil pointers stay <nil>", () => {
    const data = withTypedNils({ Config: { Entrypoint: null, Volumes: null, Cmd: ["sh"] }, HostConfig: { PidsLimit: null } });
    expect(inspect("{{.Config.Entrypoint}} {{.Config.Volumes}} {{json .Config.Entrypoint}} {{json .Config}} {{.HostConfig.PidsLimit}}", data))
      .toBe(`[] map[] null {"Entrypoint":null,"Volumes":null,"Cmd":["sh"]} <nil>`);
    expect(inspect("{{len .Config.Entrypoint}}{{range .Config.Volumes}}x{{end}}{{if .Config.Entrypoint}}y{{end}}", data)).toBe("0");
  });

  it("a missing map key is <no value> by default, nil is <nil>", () => {
    expect(run("{{.Nope}}|{{.Config.Volumes}}|{{.Config.Labels.zz}}")).toBe("<no value>|<nil>|<no value>");
  });

  it("variables: declared, assigned, scoped to their block; $ is the data", () => {
    expect(run(`{{$n := 0}}{{range .Config.Cmd}}{{$n = len .}}{{end}}{{$n}}`)).toBe("13");
    expect(run(`{{range .Config.Cmd}}{{$.Name}}{{end}}`)).toBe("/tmplc/tmplc/tmplc");
    expect(() => parseDockerTemplate(`{{if .Name}}{{$x := 1}}{{end}}{{$x}}`)).toThrow(`undefined variable "$x"`);
  });

  it("range: else when empty, break and continue, over an integer", () => {
    expect(run(`{{range .Config.Volumes}}x{{else}}none{{end}}`)).toBe("none");
    expect(run(`{{range $i, $c := .Config.Cmd}}{{if eq $i 1}}{{continue}}{{end}}{{if eq $i 2}}{{break}}{{end}}{{$c}}{{end}}`)).toBe("sh");
    expect(run(`{{range 3}}{{.}}{{end}}`)).toBe("012");
    expect(run(`{{range $i := 1000000000}}{{if eq $i 2}}{{break}}{{end}}{{$i}}{{end}}`)).toBe("01");
  });

  it("and/or stop at the first deciding argument", () => {
    expect(run(`{{if and .State (eq .State.Status "created")}}y{{end}}`)).toBe("y");
    expect(run(`{{and .Missing .Missing.Deeper}}`)).toBe("<no value>");
    expect(run(`{{or .Config.Volumes "dflt"}}`)).toBe("dflt");
  });

  it("pipes pass the value as the last argument; parentheses and chains", () => {
    expect(run(`{{.Name | printf "%s!" | upper}}`)).toBe("/TMPLC!");
    expect(run(`{{(index .Config.Cmd 0) | len}} {{(.State).Status}}`)).toBe("2 created");
    expect(run(`{{slice .Name 1 3}} {{slice .Config.Cmd 1}}`)).toBe("tm [-c echo hi there]");
  });

  it("comparisons of numbers and strings; le/ge/gt", () => {
    expect(run(`{{lt 1 2}} {{le 2 2}} {{gt 3 2}} {{ge 1 2}} {{lt "a" "b"}} {{eq 1 1.0}}`)).toBe("true true true false true true");
  });

  it("struct rows: an unknown field names the type; methods take arguments", () => {
    const row = { ID: "abc", Label: (k: unknown) => (k === "a" ? "b" : ""), [STRUCT_TYPE]: "*formatter.ContainerContext" };
    const t = (s: string): string => Template.parse(s, DOCKER_FUNCS).execute(row);
    expect(t(`{{.ID}} {{.Label "a"}}|{{.Label "z"}}`)).toBe("abc b|");
    expect(() => t("{{.Foo}}")).toThrow(`template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.ContainerContext`);
    expect(t("{{json .}}")).toBe(`{"ID":"abc"}`);
  });

  it("json of a bigint keeps all its digits; no HTML escaping, as Docker's json function", () => {
    expect(goJson({ TimeNano: 1796298281804900294n, s: "a<b>&c" })).toBe('{"TimeNano":1796298281804900294,"s":"a<b>&c"}');
  });

  it("printf's verbs and flags", () => {
    expect(sprintf("%-5s|%5s|%05d|%+d|%.2f|%x|%X|%o|%c|%%|%v|%T", ["ab", "cd", 42, 3, 2.345, 255, 255, 8, 65, true, "s"]))
      .toBe("ab   |   cd|00042|+3|2.35|ff|FF|10|A|%|true|string");
  });

  it("text/template's escapes in strings and raw strings", () => {
    expect(run(`{{"a\\tb\\n"}}{{\`c\\t\`}}{{'x'}}`)).toBe("a\tb\nc\\t120");
  });
});

describe("Docker's list formats and Go's tabwriter", () => {
  const spec = { headers: { ID: "CONTAINER ID", Names: "NAMES", Image: "IMAGE" }, typeName: "*formatter.ContainerContext", defaultTable: "table {{.ID}}\\t{{.Image}}\\t{{.Names}}" };
  const rows = [{ ID: "0123456789ab", Image: "busybox", Names: "one" }, { ID: "ba9876543210", Image: "a-much-longer-image:tag", Names: "two" }];

  it("the default table, a custom table, one line per row, json lines with sorted keys", () => {
    expect(formatRows(undefined, rows, spec)).toBe(
      "CONTAINER ID   IMAGE                     NAMES\n0123456789ab   busybox                   one\nba9876543210   a-much-longer-image:tag   two\n");
    expect(formatRows("table {{.Names}}\\t{{json .ID}}", rows, spec)).toBe(`NAMES     CONTAINER ID\none       "0123456789ab"\ntwo       "ba9876543210"\n`);
    expect(formatRows("{{.Names}}:{{.Image}}", rows, spec)).toBe("one:busybox\ntwo:a-much-longer-image:tag\n");
    expect(formatRows("json", rows, spec)).toBe(`{"ID":"0123456789ab","Image":"busybox","Names":"one"}\n{"ID":"ba9876543210","Image":"a-much-longer-image:tag","Names":"two"}\n`);
  });

  it("a label's column is headed by the label's last part, as Docker's SubHeaderContext.Label", () => {
    const labelled = { ...spec, headers: spec.headers };
    const row = { ...rows[0]!, Label: (k: unknown) => (k === "com.example.tier-name" ? "db" : "") };
    expect(formatRows(`table {{.Names}}\\t{{.Label "com.example.tier-name"}}`, [row], labelled)).toBe("NAMES     tier name\none       db\n");
  });

  it("a table with no rows is its header; a field without a header is <no value>", () => {
    expect(formatRows("table {{.Names}}", [], spec)).toBe("NAMES\n");
    expect(formatRows("table {{.Names}}\\t{{.Size}}", [], spec)).toBe("NAMES     <no value>\n");
  });

  it("volume ls: Docker's keys and default table, for the volume commands", () => {
    const vols = [volumeRow({ name: "data", mountpoint: "/var/lib/tsbox/volumes/data/_data", labels: { b: "2", a: "1" } })];
    expect(formatRows(undefined, vols, VOLUMES_FORMAT)).toBe("DRIVER    VOLUME NAME\nlocal     data\n");
    expect(Object.keys(JSON.parse(formatRows("json", vols, VOLUMES_FORMAT)) as object)).toEqual(
      ["Availability", "Driver", "Group", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size", "Status"]);
    expect(formatRows(`{{.Labels}} {{.Label "b"}}`, vols, VOLUMES_FORMAT)).toBe("a=1,b=2 2\n");
    expect(() => formatRows("{{.Foo}}", vols, VOLUMES_FORMAT)).toThrow("can't evaluate field Foo in type *formatter.volumeContext");
  });

  it("errors as Docker words them, exit 1", () => {
    expect(() => formatRows("{{.Foo}}", rows, spec)).toThrow(
      `template parsing error: template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.ContainerContext`);
    expect(() => formatRows("{{", rows, spec)).toThrow("template parsing error: template: :1: unclosed action");
  });

  it("tabwriter: minimum width 10, padding 3, the last cell unpadded, blocks broken by a one-cell line", () => {
    expect(tabwrite("a\tb\tc\nlonger-than-ten\tx\ty\n")).toBe("a                 b         c\nlonger-than-ten   x         y\n");
    expect(tabwrite("a\tb\nsingle\nccccccccccccc\td\n")).toBe("a         b\nsingle\nccccccccccccc   d\n");
  });
});

const docker = spawnSync("docker", ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8" });
const haveDocker = docker.status === 0;
if (!haveDocker) console.log("skipping the side-by-side template tests: no docker daemon here");

describe.skipIf(!haveDocker)("side by side with docker inspect -f", () => {
  it("the same templates on the same container print the same", () => {
    const tag = `tsbox-tmpl-${process.pid}`;
    const name = `tsbox-tmpl-${process.pid}`;
    execFileSync("docker", ["import", busyboxTarball(), `${tag}:1`], { stdio: "ignore" });
    try {
      execFileSync("docker", ["create", "--name", name, "-l", "a=b", "-l", "c=d", "-e", "X=1", `${tag}:1`, "sh", "-c", "echo hi there"], { stdio: "ignore" });
      const raw = JSON.parse(execFileSync("docker", ["inspect", name], { encoding: "utf8" })) as unknown[];
      const templates = [
        "{{.State.Status}} {{json .Config.Cmd}} {{.Config.Cmd}} {{.Name}}",
        "{{range $i, $e := .Config.Cmd}}{{$i}}={{$e}};{{end}}",
        "{{.State.Pid}} {{.Config.Labels}} {{.HostConfig.Memory}} {{.Config.Env}} {{.HostConfig.ShmSize}}",
        "{{.Config.Cmd | len}} {{index .Config.Cmd 1}} {{join .Config.Cmd \",\"}} {{index .Config.Labels \"a\"}}",
        "{{printf \"%s-%d-%v-%q\" .Name 5 .Config.Cmd .Name}}",
        "{{upper .Name}} {{title \"hello world\"}} {{split \"a,b\" \",\"}} {{truncate .Name 3}} {{pad .Name 1 2}}|",
        "{{if eq .State.Status \"created\"}}yes{{else}}no{{end}} {{and .State.Running .Name}} {{or .State.Running .Name}}",
        "{{json .Config.Labels}} {{json .State}} {{len .Config.Env}}",
        "{{with .Config}}{{.Image}}{{end}} {{range $k, $v := .Config.Labels}}{{$k}}{{$v}}{{end}}",
        "{{- .Name -}} {{/* x */}} {{ .Driver }}",
        "{{$n := 0}}{{range .Config.Cmd}}{{$n = len .}}{{end}}{{$n}} {{range $i, $c := .Config.Cmd}}{{if eq $i 1}}{{continue}}{{end}}{{$.Name}}{{$c}}{{end}}",
        "{{with .Config.Volumes}}v{{else}}none{{end}} {{with $l := .Config.Labels}}{{len $l}}{{end}} {{slice .Name 1 3}} {{index .Name 1}}",
        "{{printf \"%5s|%-5s|%05d|%x|%X|%o|%c|%%|%t|%v|%q\" \"ab\" \"cd\" 42 255 255 8 65 true .Config.Labels .Config.Env}}",
        "{{lt 1 2}} {{le 2 2}} {{gt 3 2}} {{ge 1 2}} {{lt \"a\" \"b\"}} {{ne .State.Status \"running\"}} {{not .State.Running}}",
        "{{html \"<a href='x'>&\\\"\"}} {{js \"it's <b>=\\n\"}} {{urlquery \"a b&c=d/e?f!\"}} {{print 1 2 \"x\" 3}}",
        "a\n  {{- .Name}}\n{{- /* c */ -}}\n  b {{ .State.Pid -}} \n c",
        "{{.Name | printf \"%s!\" | upper}} {{(index .Config.Cmd 0) | len}} {{(.State).Status}}",
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{else}}none{{end}}{{range .Config.Volumes}}x{{else}}-{{end}}",
        "{{.Config.Entrypoint}} {{.Config.Volumes}} {{.HostConfig.Binds}} {{.HostConfig.CapAdd}} {{.HostConfig.PidsLimit}} {{json .Config.Entrypoint}}",
        "{{.Foo}}", "{{.State.Foo}}", "{{index .Config.Cmd 9}}", "{{upper .State.Pid}}", "{{eq .Config.Cmd \"x\"}}",
        "{{.Name .Id}}", "{{\"a\" .Id}}", "{{nil}}", "{{range .Name}}{{end}}", "{{.State.Pid.X}}", "a\n{{.Foo}}",
        "{{foo}}", "{{$x}}", "{{end}}", "{{if .Name}}", "{{else}}", "{{.Name!}}", "{{(.Name}}", "{{if}}{{end}}",
      ];
      for (const t of templates) {
        const d = spawnSync("docker", ["inspect", "-f", t, name], { encoding: "utf8" });
        let ours: string;
        let code = 0;
        try {
          ours = `${inspect(t, withTypedNils(raw[0]))}\n`;
        } catch (e) {
          ours = `template parsing error: ${(e as Error).message}\n`;
          // A template that does not parse: Docker's inspect exits 64 before looking anything up.
          code = e instanceof TemplateParseError ? 64 : 1;
        }
        if (code === 0) expect({ t, out: ours }).toEqual({ t, out: d.stdout });
        else expect({ t, err: ours }).toEqual({ t, err: d.stderr });
        expect({ t, code }).toEqual({ t, code: d.status });
      }
    } finally {
      spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
      spawnSync("docker", ["rmi", `${tag}:1`], { stdio: "ignore" });
    }
  });
});
