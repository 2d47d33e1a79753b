// Docker's `--format`: its template functions (docker/cli's templates
// package), the "table" and "json" forms of its list commands, and the rows
// printer every list command shares (ps, images, stats, network ls,
// history, system df, volume ls).
//
// A list command hands `formatRows` its rows as objects keyed by Docker's
// field names (`{ ID, Image, Names, … }`, all strings as Docker's contexts
// return them; a function value is a method with arguments, as `.Label "k"`),
// the headers of those fields, and its default table; see RowsFormat.

import { TsboxError } from "../errors.js";
import { STRUCT_TYPE, TYPED_MAP, Template, TemplateError, type FuncDef } from "./go-template.js";
import { tabwrite } from "./tabwriter.js";

/** encoding/json as Docker's `json` function uses it (no HTML escaping; functions, Go's methods, left out). */
export function goJson(v: unknown): string {
  const plain = (x: unknown): unknown => {
    if (x === undefined || (typeof x === "object" && x !== null && GO_NIL in x)) return null;
    if (Array.isArray(x)) return x.map(plain);
    if (typeof x === "object" && x !== null) {
      const o = x as Record<string | symbol, unknown>;
      // A struct whose JSON names differ from its Go field names (`json:"ApiVersion"` on APIVersion) says so with toJSON.
      if (typeof o.toJSON === "function") return plain((o.toJSON as () => unknown)());
      const keys = Object.keys(o).filter((k) => typeof o[k] !== "function");
      return Object.fromEntries(keys.map((k) => [k, plain(o[k])]));
    }
    return x;
  };
  // A bigint (an event's TimeNano) is a JSON number of all its digits.
  const text = JSON.stringify(plain(v), (_k, x: unknown) => (typeof x === "bigint" ? `\u0000bigint:${x}` : x));
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, "$1").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** Marks an empty array or object that stands for a Go nil slice or map: printed `[]` / `map[]`, JSON null. */
const GO_NIL: unique symbol = Symbol("go nil slice or map");

/** Docker's inspect fields that are Go slices or maps: null in their JSON, `[]` or `map[]` to a template. */
const NIL_SLICES = new Set([
  "Aliases", "Args", "Binds", "BlkioDeviceReadBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteBps", "BlkioDeviceWriteIOps",
  "BlkioWeightDevice", "CapAdd", "CapDrop", "Cmd", "DNSNames", "DeviceCgroupRules", "DeviceRequests", "Devices", "Dns",
  "DnsOptions", "DnsSearch", "Entrypoint", "Env", "ExecIDs", "ExtraHosts", "GroupAdd", "Layers", "Links", "MaskedPaths",
  "Mounts", "OnBuild", "ReadonlyPaths", "RepoDigests", "RepoTags", "SecondaryIPAddresses", "SecondaryIPv6Addresses",
  "SecurityOpt", "Shell", "Ulimits", "VolumesFrom",
]);
const NIL_MAPS = new Set([
  "Data", "DriverOpts", "ExposedPorts", "Labels", "Networks", "Options", "PortBindings", "Ports", "StorageOpt", "Sysctls",
  "Tmpfs", "Volumes",
]);

/**
 * An inspect object's JSON as Docker's typed structs show it to a template:
 * a null slice or map field prints `[]` or `map[]` (and `json` still gives
 * null); other nulls (nil pointers) stay `<nil>`; a missing key of a map
 * field is `<no value>` (`{{.Config.Labels.nope}}`), as Docker's typed
 * attempt prints it before any raw-JSON fallback.
 */
export function withTypedNils(raw: unknown): unknown {
  if (Array.isArray(raw)) return raw.map(withTypedNils);
  if (typeof raw !== "object" || raw === null) return raw;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === null && (NIL_SLICES.has(k) || NIL_MAPS.has(k))) {
      const nil: object = NIL_SLICES.has(k) ? [] : {};
      Object.defineProperty(nil, GO_NIL, { value: true, enumerable: false });
      if (!NIL_SLICES.has(k)) Object.defineProperty(nil, TYPED_MAP, { value: true, enumerable: false });
      out[k] = nil;
    } else {
      out[k] = withTypedNils(v);
      const o = out[k];
      if (NIL_MAPS.has(k) && typeof o === "object" && o !== null && !Array.isArray(o)) {
        Object.defineProperty(o, TYPED_MAP, { value: true, enumerable: false });
      }
    }
  }
  return out;
}

/** strings.Title: the first letter of each word in upper case. */
const title = (s: string): string => s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, sep: string, c: string) => sep + c.toUpperCase());

/** docker/cli's templates.basicFunctions. */
export const DOCKER_FUNCS: Readonly<Record<string, FuncDef>> = {
  json: { fn: goJson, params: ["any"] },
  split: { fn: (s, sep) => (s as string).split(sep as string), params: ["string", "string"] },
  join: { fn: (l, sep) => ((l as string[] | null) ?? []).join(sep as string), params: ["[]string", "string"] },
  title: { fn: (s) => title(s as string), params: ["string"] },
  lower: { fn: (s) => (s as string).toLowerCase(), params: ["string"] },
  upper: { fn: (s) => (s as string).toUpperCase(), params: ["string"] },
  pad: { fn: (s, p, q) => (s === "" ? "" : " ".repeat(Math.max(0, p as number)) + String(s) + " ".repeat(Math.max(0, q as number))), params: ["string", "int", "int"] },
  truncate: {
    fn: (s, n) => {
      const b = Buffer.from(s as string);
      return b.length < (n as number) ? s : b.subarray(0, Math.max(0, n as number)).toString();
    },
    params: ["string", "int"],
  },
};

/** templates.HeaderFunctions: a table's header keeps the column's name whatever the cell's function (pad excepted). */
const same = (params: readonly string[]): FuncDef => ({ fn: (v: unknown) => v, params });
const HEADER_FUNCS: Readonly<Record<string, FuncDef>> = {
  json: same(["string"]), title: same(["string"]), lower: same(["string"]), upper: same(["string"]),
  split: same(["string", "string"]), join: same(["string", "string"]), truncate: same(["string", "int"]),
};

/** templates.Parse: Go's parser with Docker's functions; a TemplateParseError as Go words it. */
export function parseDockerTemplate(text: string, name = ""): Template {
  return Template.parse(text, DOCKER_FUNCS, name);
}

/** A template error as a TsboxError: `PREFIX: template: …`, with Docker's exit code. */
export function templateFailure(e: unknown, prefix: string, exitCode = 1): never {
  if (e instanceof TemplateError) throw new TsboxError(`${prefix}: ${e.message}`, exitCode);
  throw e;
}

/**
 * A row as Docker's formatter contexts are: a struct (an unknown field is an
 * error naming `typeName`) whose JSON is the map of its fields, keys sorted
 * (formatter.MarshalJSON).
 */
export function contextOf(row: object, typeName: string): Record<string, unknown> {
  const fields = Object.entries(row);
  const o: Record<string | symbol, unknown> = { ...Object.fromEntries(fields), [STRUCT_TYPE]: typeName };
  const json = (): unknown => Object.fromEntries(fields.filter(([, v]) => typeof v !== "function").sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  Object.defineProperty(o, "toJSON", { value: json, enumerable: false });
  return o as Record<string, unknown>;
}

/** SubHeaderContext.Label: a `{{.Label "com.example.some-key"}}` column is headed "some key". */
const headerLabel = (name: unknown): string => (String(name).split(".").pop() ?? "").replace(/[-_]/g, " ");

/** What a list command tells formatRows about its rows. */
export interface RowsFormat {
  /** Docker's column header of each field: { ID: "CONTAINER ID", Names: "NAMES", … } */
  headers: Readonly<Record<string, string>>;
  /** Go's type of the row, named in "can't evaluate field X in type T" (`*formatter.ContainerContext`) */
  typeName: string;
  /** the table of no --format and of --format table: `table {{.ID}}\t{{.Image}}…` */
  defaultTable: string;
}

/**
 * Docker's formatter.Context.Write: `format` (undefined, "table", "json",
 * "table TEMPLATE" or a TEMPLATE, with `\t` and `\n` as escapes) applied to
 * each row, one line per row; a table's columns aligned under a header made
 * of the fields' names. A bad template is a TsboxError (exit 1) with Docker's
 * "template parsing error: …".
 */
export function formatRows(format: string | undefined, rows: readonly object[], spec: RowsFormat): string {
  const f = format === undefined || format === "" || format === "table" ? spec.defaultTable : format;
  const isTable = f.startsWith("table");
  const text = f === "json" ? "{{json .}}"
    : (isTable ? f.slice(5) : f).replace(/^ +| +$/g, "").replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  let tmpl: Template;
  try {
    tmpl = parseDockerTemplate(text);
  } catch (e) {
    return templateFailure(e, "template parsing error");
  }
  let body = "";
  for (const row of rows) {
    try {
      body += `${tmpl.execute(contextOf(row, spec.typeName))}\n`;
    } catch (e) {
      templateFailure(e, "template parsing error");
    }
  }
  if (!isTable) return body;
  // The header: the template run on the field → header map, its output up to any error (Docker ignores it).
  const header = tmpl.withFuncs(HEADER_FUNCS).executePartial({ ...spec.headers, Label: headerLabel }).output;
  return tabwrite(`${header}\n${body}`);
}

/**
 * `volume ls --format`: Docker's volumeContext (docker/cli formatter/volume.go).
 * `formatRows(format, volumes.map(volumeRow), VOLUMES_FORMAT)` prints the
 * list (`-q` is `{{.Name}}` per line, as Docker's quiet format).
 */
export const VOLUMES_FORMAT: RowsFormat = {
  typeName: "*formatter.volumeContext",
  defaultTable: "table {{.Driver}}\\t{{.Name}}",
  headers: {
    ID: "ID", Name: "VOLUME NAME", Group: "GROUP", Driver: "DRIVER", Scope: "SCOPE", Availability: "AVAILABILITY",
    Mountpoint: "MOUNTPOINT", Labels: "LABELS", Links: "LINKS", Size: "SIZE", Status: "STATUS",
  },
};

/** A volume's fields as `docker volume ls --format json` shows them (the cluster fields N/A, as for a local volume). */
export function volumeRow(v: { name: string; driver?: string; mountpoint: string; labels?: Readonly<Record<string, string>> }): Record<string, unknown> {
  const labels = v.labels ?? {};
  return {
    Availability: "N/A", Driver: v.driver ?? "local", Group: "N/A",
    Labels: Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(","), Label: (k: unknown) => labels[String(k)] ?? "",
    Links: "N/A", Mountpoint: v.mountpoint, Name: v.name, Scope: "local", Size: "N/A", Status: "N/A",
  };
}
