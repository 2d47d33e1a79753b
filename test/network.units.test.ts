// Pure parts of networking: -p as Docker's client parses it, ps's PORTS,
// /etc/hosts and resolv.conf, subnets and /proc/net/route, listening ports.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { formatPorts, hostsFile, parseAddHost, parsePortSpec, resolvConf } from "../src/network/index.js";
import { checkSubnet4, macFromIp4, overlaps, parseRoutes, parseSubnet4 } from "../src/network/ipv4.js";
import { listeningPorts } from "../src/network/host-ports.js";
import { DEFAULT_NETWORK_ID } from "../src/network/networks.js";
import { HOST_NETWORK_ID, NONE_NETWORK_ID } from "../src/runtime/network-events.js";
import { checkSubnet6, formatIp6, parseIp6, parseSubnet6 } from "../src/network/ipv6.js";

describe("-p", () => {
  it("takes Docker's forms: ip, host port, ranges, protocols, IPv6 in brackets", () => {
    expect(parsePortSpec("80")).toEqual([{ hostIp: "", hostPort: 0, containerPort: 80, protocol: "tcp" }]);
    expect(parsePortSpec("8080:80/udp")).toEqual([{ hostIp: "", hostPort: 8080, containerPort: 80, protocol: "udp" }]);
    expect(parsePortSpec("127.0.0.1:8080:80")).toEqual([{ hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, protocol: "tcp" }]);
    expect(parsePortSpec("[::1]:8080:80")[0]!.hostIp).toBe("::1");
    expect(parsePortSpec("127.0.0.1::80")[0]).toMatchObject({ hostIp: "127.0.0.1", hostPort: 0 });
    expect(parsePortSpec("8000-8001:80-81").map((p) => [p.hostPort, p.containerPort])).toEqual([[8000, 80], [8001, 81]]);
    expect(parsePortSpec("8000-8010:80")).toEqual([{ hostIp: "", hostPort: 0, hostRange: { start: 8000, end: 8010 }, containerPort: 80, protocol: "tcp" }]);
  });

  it("refuses what Docker refuses, with its words", () => {
    expect(() => parsePortSpec("abc")).toThrow("invalid containerPort: abc");
    expect(() => parsePortSpec("x:80")).toThrow("invalid hostPort: x");
    expect(() => parsePortSpec("80/foo")).toThrow("invalid proto: foo");
    expect(() => parsePortSpec("1.2.3:80:80")).toThrow("invalid IP address: 1.2.3");
    expect(() => parsePortSpec("8000-8002:80-81")).toThrow("invalid ranges specified for container and host Ports: 80-81 and 8000-8002");
    expect(() => parsePortSpec("70000")).toThrow("invalid containerPort: 70000");
  });

  it("PORTS folds consecutive ports into ranges, as Docker's client", () => {
    expect(formatPorts([
      { hostIp: "", hostPort: 8001, containerPort: 81, protocol: "tcp" },
      { hostIp: "", hostPort: 8000, containerPort: 80, protocol: "tcp" },
      { hostIp: "127.0.0.1", hostPort: 5353, containerPort: 53, protocol: "udp" },
    ])).toBe("0.0.0.0:8000-8001->80-81/tcp, 127.0.0.1:5353->53/udp");
  });
});

describe("/etc files", () => {
  it("hosts: the base lines, --add-host, then the container's address and name", () => {
    expect(hostsFile([{ name: "db", ip: "10.1.2.3" }], { ip: "172.29.0.2", names: ["box"] }).split("\n").slice(-3))
      .toEqual(["10.1.2.3\tdb", "172.29.0.2\tbox", ""]);
    expect(parseAddHost("gw:host-gateway", "172.29.0.1")).toEqual({ name: "gw", ip: "172.29.0.1" });
    expect(parseAddHost("v6:[::1]")).toEqual({ name: "v6", ip: "::1" });
    expect(() => parseAddHost("db:nope")).toThrow('invalid IP address in add-host: "nope"');
  });

  it("resolv.conf: the host's without loopback resolvers; the network's DNS; --dns* replace theirs", () => {
    const host = "search corp.example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n";
    const none = { dns: [], dnsSearch: [], dnsOptions: [] };
    expect(resolvConf(host, none)).toBe("search corp.example\nnameserver 10.0.0.2\noptions edns0\n");
    expect(resolvConf(host, none, ["10.90.1.1"])).toBe("search corp.example\nnameserver 10.90.1.1\noptions edns0\n");
    expect(resolvConf(host, { dns: ["9.9.9.9"], dnsSearch: ["a.example"], dnsOptions: ["ndots:2"] }))
      .toBe("search a.example\nnameserver 9.9.9.9\noptions ndots:2\n");
    expect(() => resolvConf(host, { ...none, dns: ["x"] })).toThrow("x is not an ip address");
  });
});

describe("the default network", () => {
  it("keeps the id it always had: sha256 of its phrase, written out so that `run` need not hash", () => {
    expect(DEFAULT_NETWORK_ID).toBe(createHash("sha256").update("tsbox default bridge network").digest("hex"));
    // and the ids the events give Docker's predefined none and host networks
    expect(NONE_NETWORK_ID).toBe(createHash("sha256").update("tsbox none network").digest("hex"));
    expect(HOST_NETWORK_ID).toBe(createHash("sha256").update("tsbox host network").digest("hex"));
  });
});

describe("subnets", () => {
  it("parses, refuses host bits, and finds overlaps with the host's routes", () => {
    expect(() => checkSubnet4("10.90.1.1/24")).toThrow("host bits set (the network is 10.90.1.0/24)");
    expect(() => checkSubnet4("10.90.1.0/31")).toThrow("no room");
    const routes = parseRoutes([
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
      "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
    ].join("\n"));
    expect(routes).toEqual([parseSubnet4("172.17.0.0/16")]);
    expect(overlaps(routes[0]!, parseSubnet4("172.17.5.0/24")!)).toBe(true);
    expect(overlaps(routes[0]!, parseSubnet4("172.29.0.0/16")!)).toBe(false);
  });

  it("derives a container's MAC from its address, as Docker", () => {
    expect(macFromIp4("172.17.0.2")).toBe("02:42:ac:11:00:02");
  });

  it("knows which host ports are taken: TCP listeners, bound UDP sockets", () => {
    const tcp = "  sl  local_address rem_address   st\n   0: 00000000:1F90 00000000:0000 0A\n   1: 0100007F:0050 0100007F:9C40 01\n";
    expect([...listeningPorts([tcp], "tcp")]).toEqual([8080]);
    expect([...listeningPorts(["  sl  local_address rem_address   st\n   0: 00000000:0035 00000000:0000 07\n"], "udp")]).toEqual([53]);
  });
});

describe("IPv6", () => {
  it("parses and prints addresses as the kernel does (the longest zero run as ::)", () => {
    for (const a of ["fd74:7362:6f00:1::3", "::1", "2001:db8::", "fe80::42:aff:fe5a:103", "1:0:0:2:0:0:0:3"]) {
      expect(formatIp6(parseIp6(a)!)).toBe(a === "1:0:0:2:0:0:0:3" ? "1:0:0:2::3" : a);
    }
    expect(parseIp6("1.2.3.4")).toBeUndefined();
    expect(parseSubnet6("fd00:1::/64")).toEqual({ base: parseIp6("fd00:1::")!, prefix: 64 });
    expect(() => checkSubnet6("fd00:1::5/64")).toThrow("host bits set (the network is fd00:1::/64)");
  });
});
