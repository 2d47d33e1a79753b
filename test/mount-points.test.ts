// -v, --mount and --volumes-from parsed as Docker's client and daemon parse
// them (docker/cli opts/mount.go, moby volume/mounts/linux_parser.go), and
// the OCI mounts a container's mount points become.
import { describe, expect, it } from "vitest";
import { parseMountFlag, parseVolumeFlag, parseVolumesFrom, specMount, validMountMode } from "../src/oci/mount-points.js";

const exists = () => true;

describe("-v", () => {
  it("an absolute source is a bind, another a named volume, none an anonymous volume", () => {
    expect(parseVolumeFlag("/h/../h2/:/c/./d:ro")).toEqual({
      type: "bind", source: "/h2", destination: "/c/d", mode: "ro", rw: false, propagation: "rprivate", copyData: true,
    });
    expect(parseVolumeFlag("/h:/c:rslave")).toMatchObject({ type: "bind", propagation: "rslave", rw: true });
    expect(parseVolumeFlag("data:/c")).toMatchObject({ type: "volume", source: "data", mode: "z", rw: true, propagation: "", copyData: true });
    expect(parseVolumeFlag("data:/c:ro,nocopy")).toMatchObject({ type: "volume", mode: "ro,nocopy", rw: false, copyData: false });
    expect(parseVolumeFlag("/c")).toMatchObject({ type: "volume", source: "", destination: "/c", mode: "" });
    expect(parseVolumeFlag("./rel:/c", "/work")).toMatchObject({ type: "bind", source: "/work/rel" });
  });

  it("refuses what Docker refuses, in its words", () => {
    expect(() => parseVolumeFlag("/c:ro")).toThrow("invalid volume specification: '/c:ro'");
    expect(() => parseVolumeFlag("a:b:c:d")).toThrow("invalid volume specification: 'a:b:c:d'");
    expect(() => parseVolumeFlag(":/c")).toThrow("invalid volume specification: ':/c'");
    expect(() => parseVolumeFlag("/h:/c:ro,rw")).toThrow("invalid mode: ro,rw");
    expect(() => parseVolumeFlag("data:c")).toThrow(`invalid volume specification: 'data:c': invalid mount config for type "volume": invalid mount path: 'c' mount path must be absolute`);
    expect(() => parseVolumeFlag("da/ta:/c")).toThrow(`create da/ta: "da/ta" includes invalid characters for a local volume name`);
    expect(() => parseVolumeFlag("/h:/proc/x")).toThrow(`"/proc/x" cannot be mounted because it is inside /proc`);
  });

  it("validMountMode: each kind at most once", () => {
    expect(validMountMode("ro,z,rshared,nocopy,cached")).toBe(true);
    expect(validMountMode("z,Z")).toBe(false);
    expect(validMountMode("bogus")).toBe(false);
  });
});

describe("--mount", () => {
  it("takes Docker's keys and aliases", () => {
    for (const m of ["type=bind,source=/h,target=/c,readonly", "type=bind,src=/h,dst=/c,ro=true", "type=bind,src=/h,destination=/c,ro=1"]) {
      expect(parseMountFlag(m, exists)).toEqual({
        type: "bind", source: "/h", destination: "/c", mode: "", rw: false, propagation: "rprivate", copyData: false,
      });
    }
    expect(parseMountFlag("type=bind,src=/h,dst=/c,bind-propagation=rshared", exists)).toMatchObject({ propagation: "rshared", rw: true });
    expect(parseMountFlag("dst=/c", exists)).toMatchObject({ type: "volume", source: "", mode: "z", copyData: true });
    expect(parseMountFlag("type=volume,src=v1,dst=/c,volume-nocopy,volume-label=a=b,volume-opt=type=tmpfs,volume-opt=device=tmpfs", exists))
      .toMatchObject({ source: "v1", copyData: false, labels: { a: "b" }, driverOpts: { type: "tmpfs", device: "tmpfs" } });
    expect(parseMountFlag("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1777", exists)).toMatchObject({ type: "tmpfs", tmpfsData: "mode=1777,size=64m" });
    expect(parseMountFlag(`"type=bind","src=/h,x","dst=/c"`, exists)).toMatchObject({ source: "/h,x" }); // CSV quoting
  });

  it("refuses what Docker refuses, in its words", () => {
    const err = (v: string, msg: string, bindExists = true) => expect(() => parseMountFlag(v, () => bindExists)).toThrow(msg);
    err("type=bind,src=/nope,dst=/c", 'invalid mount config for type "bind": bind source path does not exist: /nope', false);
    err("type=bind,dst=/c", 'invalid mount config for type "bind": field Source must not be empty');
    err("type=bind,src=/h,dst=/c,bind-propagation=sideways", 'invalid mount config for type "bind": invalid propagation mode: sideways');
    err("type=tmpfs,dst=/t,tmpfs-size=lots", 'invalid argument "type=tmpfs,dst=/t,tmpfs-size=lots" for "--mount" flag: invalid value for tmpfs-size: lots');
    err("type=tmpfs,dst=/t,tmpfs-mode=9", 'for "--mount" flag: invalid value for tmpfs-mode: 9');
    err("type=volume,dst=/c,tmpfs-size=1m", `cannot mix 'tmpfs-*' options with mount type 'volume'`);
    err("type=tmpfs,dst=/c,bind-propagation=shared", `cannot mix 'bind-*' options with mount type 'tmpfs'`);
    err("type=volume,dst=/c,junk", "invalid field 'junk' must be a key=value pair");
    err("type=volume,dst=/", `invalid mount config for type "volume": invalid specification: destination can't be '/'`);
    err("type=volume,src=vv,dst=/c,volume-driver=nfs", 'create vv: error looking up volume plugin nfs: plugin "nfs" not found');
  });
});

describe("--volumes-from and the OCI mounts", () => {
  it("--volumes-from takes ro or rw, not propagation or copy modes", () => {
    expect(parseVolumesFrom("c1")).toEqual({ container: "c1", rw: true });
    expect(parseVolumesFrom("c1:ro")).toEqual({ container: "c1", rw: false });
    expect(() => parseVolumesFrom("c1:rshared")).toThrow("invalid mode: rshared");
    expect(() => parseVolumesFrom("c1:nocopy")).toThrow("invalid mode: nocopy");
    expect(() => parseVolumesFrom("")).toThrow("volumes-from specification cannot be an empty string");
  });

  it("a volume is a bind of its data directory; a local volume with a device is that mount", () => {
    expect(specMount({ type: "volume", name: "v", source: "/r/volumes/v/_data", destination: "/d", mode: "z", rw: false, propagation: "" }))
      .toEqual({ destination: "/d", type: "bind", source: "/r/volumes/v/_data", options: ["rbind", "rprivate", "ro"] });
    expect(specMount({
      type: "volume", name: "v", source: "/r/volumes/v/_data", destination: "/d", mode: "z", rw: true, propagation: "",
      device: { type: "tmpfs", source: "tmpfs", options: "size=1m" },
    })).toEqual({ destination: "/d", type: "tmpfs", source: "tmpfs", options: ["size=1m"] });
    expect(specMount({ type: "tmpfs", source: "", destination: "/t", mode: "", rw: true, propagation: "", tmpfsData: "size=1m" }))
      .toEqual({ destination: "/t", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "noexec", "size=1m"] });
  });
});

describe("natural order (volume ls)", () => {
  it("orders as Docker's client: digit runs by value, digits first", async () => {
    const { naturalCompare } = await import("../src/util/natural-order.js");
    const docker = ["1e79", "02b8", "3c0b", "8f96", "732e", "936a", "1147", "06463f", "22672968b", "c4ec", "tv1", "vol2", "vol10", "vol010"];
    expect([...docker].reverse().sort(naturalCompare)).toEqual(docker);
  });
});
