// A container's mount points as Docker records them (moby's
// container.MountPoints): what `-v`, `--mount`, `--volumes-from` and the
// image's VOLUMEs ask for, parsed and checked with Docker's wording (docker/cli
// opts/mount.go for the client's, moby volume/mounts/linux_parser.go for the
// daemon's), and the OCI mounts they become. Pure: which volumes exist and
// where they live is the runtime's business; here a volume is a name.

import { FlagError, UsageError } from "../errors.js";
import { checkMountDestination } from "./mount-destination.js";
import type { SpecMount } from "./spec.js";
import { parseBytes } from "./units.js";

export type MountType = "bind" | "volume" | "tmpfs";

/** One mount of a container, as recorded in its state (inspect's `Mounts`). */
export interface MountPoint {
  type: MountType;
  /** the volume's name (type volume) */
  name?: string;
  /** the host path: a bind's source, a volume's data directory; "" for tmpfs */
  source: string;
  destination: string;
  /** Docker's Mode: the -v mode string as given, "z" for a local volume without one */
  mode: string;
  rw: boolean;
  /** "rprivate" etc. for binds, "" for volumes and tmpfs (as Docker reports them) */
  propagation: string;
  /** a volume made for this container alone (no name given): `rm -v` and `--rm` remove it */
  anonymous?: boolean;
  /** tmpfs mount data (size=…,mode=…) */
  tmpfsData?: string;
  /** a local volume made with type/device/o: that filesystem, mounted where the volume goes */
  device?: { type: string; source: string; options: string };
}

/** A mount asked for: a MountPoint before its volume is created and filled. */
export interface MountRequest {
  type: MountType;
  /** a bind's host path, a volume's name; "" for an anonymous volume or a tmpfs */
  source: string;
  destination: string;
  mode: string;
  rw: boolean;
  propagation: string;
  /** fill an empty volume from the image's content at the destination (Docker's default; `nocopy` turns it off) */
  copyData: boolean;
  /** --mount volume-label / volume-opt: for a volume this mount creates */
  labels?: Record<string, string>;
  driverOpts?: Record<string, string>;
  /** --mount volume-driver */
  driver?: string;
  tmpfsData?: string;
}

const RW_MODES = new Set(["rw", "ro"]);
const LABEL_MODES = new Set(["z", "Z"]);
const PROPAGATIONS = new Set(["private", "rprivate", "slave", "rslave", "shared", "rshared"]);
const CONSISTENCY = new Set(["consistent", "cached", "delegated"]);
const COPY_MODES = new Set(["nocopy"]);

/** moby's linuxValidMountMode: each kind of option at most once, nothing else. */
export function validMountMode(mode: string): boolean {
  if (mode === "") return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(",")) {
    const kind = RW_MODES.has(o) ? 0 : LABEL_MODES.has(o) ? 1 : PROPAGATIONS.has(o) ? 2 : COPY_MODES.has(o) ? 3 : CONSISTENCY.has(o) ? 4 : -1;
    if (kind < 0) return false;
    counts[kind]! += 1;
  }
  return counts.every((c) => c <= 1);
}

const modeHas = (mode: string, set: Set<string>): string | undefined => mode.split(",").find((o) => set.has(o));

/** Docker's path.Clean of a container path. */
export function cleanPath(p: string): string {
  const abs = p.startsWith("/");
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!abs) out.push("..");
    } else out.push(seg);
  }
  return (abs ? "/" : "") + out.join("/") || (abs ? "/" : ".");
}

const invalidSpec = (raw: string): UsageError => new UsageError(`invalid volume specification: '${raw}'`);

/**
 * `-v [SOURCE:]DEST[:MODE]`: an absolute SOURCE is a bind, another a named
 * volume, none an anonymous volume (moby's ParseMountRaw).
 */
export function parseVolumeFlag(given: string, cwd = "/"): MountRequest {
  const raw = withAbsoluteSource(given, cwd);
  if ((raw.match(/:/g) ?? []).length > 2) throw invalidSpec(raw);
  const arr = raw.split(":");
  if (arr[0] === "") throw invalidSpec(raw);
  let source = "";
  let destination: string;
  let mode = "";
  if (arr.length === 1) destination = arr[0]!;
  else if (arr.length === 2) {
    // DEST:MODE is not a volume: a volume cannot have a mode without a source.
    if (validMountMode(arr[1]!)) throw invalidSpec(raw);
    [source, destination] = [arr[0]!, arr[1]!];
  } else [source, destination, mode] = [arr[0]!, arr[1]!, arr[2]!];
  if (!validMountMode(mode)) throw new UsageError(`invalid mode: ${mode}`);
  const type: MountType = source.startsWith("/") ? "bind" : "volume";
  const rw = !mode.split(",").includes("ro");
  const propagation = modeHas(mode, PROPAGATIONS);
  if (type === "volume" && propagation !== undefined) {
    // moby's validateMountConfig: BindOptions on a volume
    throw new UsageError(`invalid volume specification: '${raw}': invalid mount config for type "volume": field BindOptions must not be specified`);
  }
  try {
    checkTarget(type, destination);
    if (type === "volume" && source === "" && !rw) {
      throw new UsageError(`invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes`);
    }
  } catch (e) {
    throw e instanceof UsageError ? new UsageError(`invalid volume specification: '${raw}': ${e.message}`) : e;
  }
  if (type === "volume" && source !== "") checkVolumeName(source);
  return {
    type, source: type === "bind" ? cleanPath(source) : source, destination: cleanPath(destination),
    // A local volume without a mode gets "z" (moby's setBindModeIfNull); an anonymous one from -v keeps "".
    mode: mode === "" && type === "volume" && source !== "" ? "z" : mode,
    rw, propagation: type === "bind" ? propagation ?? "rprivate" : "",
    copyData: modeHas(mode, COPY_MODES) === undefined,
  };
}

/** Docker's client makes a source starting with "." absolute (`-v ./data:/data`). */
function withAbsoluteSource(raw: string, cwd: string): string {
  const i = raw.indexOf(":");
  if (i <= 0 || !raw.startsWith(".")) return raw;
  return `${absolute(raw.slice(0, i), cwd)}${raw.slice(i)}`;
}

const absolute = (p: string, cwd: string): string => cleanPath(`${cwd}/${p}`);

/** The target checks moby makes for every mount: not empty, absolute, not the root, not inside /proc (or /sys for binds). */
function checkTarget(type: MountType, target: string): void {
  const bad = (why: string): never => {
    throw new UsageError(`invalid mount config for type "${type}": ${why}`);
  };
  if (target === "") bad("field Target must not be empty");
  if (cleanPath(target) === "/") bad("invalid specification: destination can't be '/'");
  if (!target.startsWith("/")) bad(`invalid mount path: '${target}' mount path must be absolute`);
  checkMountDestination(type, cleanPath(target));
}

const NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

/** The local driver's rule for a volume's name (moby volume/local validateName). */
export function checkVolumeName(name: string): void {
  if (name.length === 1) throw new UsageError(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
    throw new UsageError(`create ${name}: "${name}" includes invalid characters for a local volume name, only "${NAME_CHARS}" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}

/** Go's strconv.ParseBool; undefined for anything else. */
function parseBool(value: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  return undefined;
}

/** A CSV record as Go's encoding/csv reads one line: fields split on commas, double quotes grouping. */
function csvFields(value: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      if (c === '"' && value[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === "") quoted = true;
    else if (c === ",") { out.push(cur); cur = ""; } else cur += c;
  }
  out.push(cur);
  return out;
}

const setOnMap = (m: Record<string, string>, v: string): void => {
  const i = v.indexOf("=");
  if (i < 0) m[v] = "";
  else m[v.slice(0, i)] = v.slice(i + 1);
};

/**
 * `--mount type=bind|volume|tmpfs,source=…,target=…,…` with the client's
 * option names and aliases and its errors (docker/cli opts/mount.go), then
 * the daemon's checks (moby's validateMountConfig). `bindSourceExists` is the
 * host's answer for a bind's source.
 */
export function parseMountFlag(value: string, bindSourceExists: (p: string) => boolean, cwd = "/"): MountRequest {
  const flagError = (why: string): FlagError => new FlagError(`invalid argument "${value}" for "--mount" flag: ${why}`);
  let type = "volume";
  let source = "";
  let target = "";
  let readOnly = false;
  let propagation: string | undefined;
  let bindOpts = false;
  let volumeOpts = false;
  let tmpfsOpts = false;
  let noCopy = false;
  const labels: Record<string, string> = {};
  const driverOpts: Record<string, string> = {};
  let driver: string | undefined;
  let tmpfsSize: number | undefined;
  let tmpfsMode: number | undefined;
  for (const field of csvFields(value)) {
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === "readonly" || key === "ro") { readOnly = true; continue; }
      if (key === "volume-nocopy") { volumeOpts = true; noCopy = true; continue; }
      if (key === "bind-nonrecursive") { bindOpts = true; continue; }
      throw flagError(`invalid field '${field}' must be a key=value pair`);
    }
    const v = field.slice(eq + 1);
    const bool = (k: string): boolean => {
      const b = parseBool(v);
      if (b === undefined) throw flagError(`invalid value for ${k}: ${v}`);
      return b;
    };
    switch (key) {
      case "type": type = v.toLowerCase(); break;
      case "source": case "src": source = v.startsWith(".") ? absolute(v, cwd) : v; break;
      case "target": case "dst": case "destination": target = v; break;
      case "readonly": case "ro": readOnly = bool(key); break;
      case "consistency": break;
      case "bind-propagation": bindOpts = true; propagation = v.toLowerCase(); break;
      case "bind-nonrecursive": bindOpts = true; bool(key); break;
      case "volume-nocopy": volumeOpts = true; noCopy = bool(key); break;
      case "volume-label": volumeOpts = true; setOnMap(labels, v); break;
      case "volume-driver": volumeOpts = true; driver = v; break;
      case "volume-opt": volumeOpts = true; setOnMap(driverOpts, v); break;
      case "tmpfs-size":
        tmpfsOpts = true;
        try { tmpfsSize = parseBytes(v, "--mount"); } catch { throw flagError(`invalid value for ${key}: ${v}`); }
        break;
      case "tmpfs-mode":
        tmpfsOpts = true;
        if (!/^[0-7]+$/.test(v) || Number.parseInt(v, 8) > 0xffffffff) throw flagError(`invalid value for ${key}: ${v}`);
        tmpfsMode = Number.parseInt(v, 8);
        break;
      default: throw flagError(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (type === "") throw flagError("type is required");
  if (target === "") throw flagError("target is required");
  if (volumeOpts && type !== "volume") throw flagError(`cannot mix 'volume-*' options with mount type '${type}'`);
  if (bindOpts && type !== "bind") throw flagError(`cannot mix 'bind-*' options with mount type '${type}'`);
  if (tmpfsOpts && type !== "tmpfs") throw flagError(`cannot mix 'tmpfs-*' options with mount type '${type}'`);

  const bad = (why: string): never => {
    throw new UsageError(`invalid mount config for type "${type}": ${why}`);
  };
  if (type !== "bind" && type !== "volume" && type !== "tmpfs") {
    checkTargetShape(type, target);
    bad("mount type unknown");
  }
  const t = type as MountType;
  checkTarget(t, target);
  const destination = cleanPath(target);
  if (t === "bind") {
    if (source === "") bad("field Source must not be empty");
    if (propagation !== undefined && !PROPAGATIONS.has(propagation)) bad(`invalid propagation mode: ${propagation}`);
    if (!source.startsWith("/")) bad(`invalid mount path: '${source}' mount path must be absolute`);
    if (!bindSourceExists(source)) bad(`bind source path does not exist: ${source}`);
    return { type: t, source: cleanPath(source), destination, mode: "", rw: !readOnly, propagation: propagation ?? "rprivate", copyData: false };
  }
  if (t === "volume") {
    if (source === "" && readOnly) bad("must not set ReadOnly mode when using anonymous volumes");
    if (source !== "") checkVolumeName(source);
    if (driver !== undefined && driver !== "local") {
      throw new UsageError(`create ${source}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    }
    return {
      type: t, source, destination, mode: "z", rw: !readOnly, propagation: "", copyData: !noCopy,
      ...(Object.keys(labels).length ? { labels } : {}), ...(Object.keys(driverOpts).length ? { driverOpts } : {}),
    };
  }
  if (source !== "") bad("field Source must not be specified");
  const data = [
    ...(readOnly ? ["ro"] : []),
    ...(tmpfsMode ? [`mode=${tmpfsMode.toString(8)}`] : []),
    ...(tmpfsSize ? [`size=${tmpfsSizeText(tmpfsSize)}`] : []),
  ].join(",");
  return { type: t, source: "", destination, mode: "", rw: !readOnly, propagation: "", copyData: false, ...(data ? { tmpfsData: data } : {}) };
}

/** An unknown type still gets its target checked first, as moby does. */
function checkTargetShape(type: string, target: string): void {
  const bad = (why: string): never => {
    throw new UsageError(`invalid mount config for type "${type}": ${why}`);
  };
  if (cleanPath(target) === "/") bad("invalid specification: destination can't be '/'");
  if (!target.startsWith("/")) bad(`invalid mount path: '${target}' mount path must be absolute`);
}

/** moby's ConvertTmpfsOptions: the largest unit that divides the size. */
function tmpfsSizeText(size: number): string {
  for (const [suffix, d] of [["g", 1 << 30], ["m", 1 << 20], ["k", 1 << 10]] as const) {
    if (size % d === 0) return `${size / d}${suffix}`;
  }
  return String(size);
}

/** `--volumes-from CONTAINER[:ro|rw]` → the container and whether its mounts stay writable. */
export function parseVolumesFrom(spec: string): { container: string; rw: boolean } {
  if (spec === "") throw new UsageError("volumes-from specification cannot be an empty string");
  const i = spec.indexOf(":");
  if (i < 0) return { container: spec, rw: true };
  const mode = spec.slice(i + 1);
  if (!validMountMode(mode) || modeHas(mode, PROPAGATIONS) !== undefined || modeHas(mode, COPY_MODES) !== undefined) {
    throw new UsageError(`invalid mode: ${mode}`);
  }
  return { container: spec.slice(0, i), rw: !mode.split(",").includes("ro") };
}

/** The OCI mount a mount point becomes: a volume is a bind of its data directory. */
export function specMount(m: MountPoint): SpecMount {
  if (m.type === "tmpfs") {
    const extra = (m.tmpfsData ?? "").split(",").filter((o) => o !== "" && o !== "ro");
    return { destination: m.destination, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "noexec", ...(m.rw ? [] : ["ro"]), ...extra] };
  }
  if (m.device !== undefined) {
    const opts = m.device.options.split(",").filter((o) => o !== "");
    const bind = m.device.type === "none" || opts.includes("bind") || opts.includes("rbind");
    return {
      destination: m.destination, type: bind ? "bind" : m.device.type, source: m.device.source,
      options: [...(bind && !opts.includes("rbind") ? ["rbind"] : []), ...opts.filter((o) => o !== "bind"), ...(m.rw ? [] : ["ro"])],
    };
  }
  return { destination: m.destination, type: "bind", source: m.source, options: ["rbind", m.propagation || "rprivate", m.rw ? "rw" : "ro"] };
}
