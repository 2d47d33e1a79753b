// `tsbox network …` and `tsbox port`: Docker's output.

import type { Command } from "commander";
import { TsboxError, UsageError } from "../errors.js";
import { goTime } from "../format.js";
import { formatRows, type RowsFormat } from "../util/docker-format.js";
import { hostAddress, parseRate, readAttachment, type Link, type PortBinding } from "../network/index.js";
import { existsSync } from "node:fs";
import {
  connectContainer, createNetworkVerb, disconnectContainer, filterNetworks, findEntry, inspectNetwork, networkEntries, pruneNetworks, removeNetwork,
  type NetworkEntry,
} from "../runtime/networks.js";
import { containerPaths, findContainer } from "../state/container-store.js";
import { collect, eachArg, inspectEach, prepare } from "./common.js";
import { confirm } from "./confirm.js";

export function registerNetworkCommands(program: Command): void {
  const network = program.command("network").description("Manage networks");

  network.command("create")
    .description("Create a network")
    .argument("<name>")
    .option("-d, --driver <driver>", "Driver to manage the Network", "bridge")
    .option("--subnet <cidr>", "Subnet in CIDR format that represents a network segment (one IPv4, one IPv6 with --ipv6)", collect, [])
    .option("--gateway <ip>", "IPv4 or IPv6 Gateway for the master subnet", collect, [])
    .option("--ipv6", "Enable IPv6 networking", false)
    .option("--internal", "Restrict external access to the network", false)
    .option("--label <key=value>", "Set metadata on a network", collect, [])
    .option("-o, --opt <key=value>", "tsbox.link=DEV and tsbox.link-rate=RATE: the link the network's containers share by --network-weight", collect, [])
    .action(async (name: string, o: Record<string, unknown>, cmd: Command) => {
      const g = await prepare(cmd);
      if (o.driver !== "bridge") throw new UsageError(`plugin "${String(o.driver)}" not found`);
      const labels = Object.fromEntries((o.label as string[]).map((l) => {
        const eq = l.indexOf("=");
        return eq < 0 ? [l, ""] : [l.slice(0, eq), l.slice(eq + 1)];
      }));
      const link = linkOption(o.opt as string[]);
      const d = createNetworkVerb(g.root, {
        ...(link ? { link } : {}),
        name, internal: Boolean(o.internal),
        ...byFamily(o.subnet as string[], o.gateway as string[], Boolean(o.ipv6)),
        ...((o.label as string[]).length ? { labels } : {}),
      });
      process.stdout.write(`${d.id}\n`);
    });

  network.command("ls").alias("list")
    .description("List networks")
    .option("-f, --filter <filter>", "Provide filter values (e.g. \"driver=bridge\")", collect, [])
    .option("-q, --quiet", "Only display network IDs", false)
    .option("--no-trunc", "Do not truncate the output")
    .option("--format <format>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .action(async (o: { filter: string[]; quiet: boolean; trunc: boolean; format?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const all = filterNetworks(g.root, networkEntries(g.root), o.filter);
      const id = (x: string): string => (o.trunc === false ? x : x.slice(0, 12));
      if (o.quiet) {
        for (const n of all) process.stdout.write(`${id(n.id)}\n`);
        return;
      }
      process.stdout.write(formatRows(o.format, all.map((n) => networkRow(n, id(n.id))), NETWORKS_FORMAT));
    });

  network.command("inspect")
    .description("Display detailed information on one or more networks")
    .argument("<network...>")
    .option("-f, --format <template>", "Format output using a custom template: 'json', or a Go template ({{.IPAM.Config}})")
    .action(async (refs: string[], o: { format?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      await inspectEach(refs, (r) => {
        const n = findEntry(g.root, r);
        if (!n) throw new TsboxError(`network ${r} not found`, 1);
        return inspectNetwork(g.root, n);
      }, o.format);
    });

  network.command("rm").alias("remove")
    .description("Remove one or more networks")
    .argument("<network...>")
    .option("-f, --force", "Do not error if the network does not exist", false)
    .action(async (refs: string[], o: { force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      await eachArg(refs, (r) => {
        if (o.force && !findEntry(g.root, r)) return;
        removeNetwork(g.root, r);
        process.stdout.write(`${r}\n`);
      });
    });

  network.command("connect")
    .description("Connect a container to a network")
    .argument("<network>")
    .argument("<container>")
    .option("--alias <alias>", "Add network-scoped alias for the container", collect, [])
    .option("--ip <address>", "IPv4 address (e.g., 172.30.100.104)")
    .action(async (net: string, ctr: string, o: { alias: string[]; ip?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      connectContainer(g.root, net, ctr, { aliases: o.alias, ...(o.ip !== undefined ? { ip: o.ip } : {}) });
    });

  network.command("disconnect")
    .description("Disconnect a container from a network")
    .argument("<network>")
    .argument("<container>")
    .option("-f, --force", "Force the container to disconnect from a network", false)
    .action(async (net: string, ctr: string, _o: unknown, cmd: Command) => {
      const g = await prepare(cmd);
      disconnectContainer(g.root, net, ctr);
    });

  network.command("prune")
    .description("Remove all unused networks")
    .option("--filter <filter>", "Provide filter values (e.g. \"until=<timestamp>\")", collect, [])
    .option("-f, --force", "Do not prompt for confirmation", false)
    .action(async (o: { filter: string[]; force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { parsePruneFilters, pruneFilterMatches } = await import("./prune-filter.js");
      const filter = parsePruneFilters(o.filter);
      if (!o.force && !(await confirm("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "))) return;
      const names = pruneNetworks(g.root, (n) => pruneFilterMatches(filter, n));
      if (names.length) process.stdout.write(`Deleted Networks:\n${names.map((n) => `${n}\n`).join("")}`);
    });
}

/** Docker's networkContext headers and default table (docker/cli network/formatter.go). */
const NETWORKS_FORMAT: RowsFormat = {
  typeName: "*network.networkContext",
  defaultTable: "table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}",
  headers: {
    ID: "NETWORK ID", Name: "NAME", Driver: "DRIVER", Scope: "SCOPE", IPv4: "IPV4", IPv6: "IPV6", Internal: "INTERNAL",
    Labels: "LABELS", CreatedAt: "CREATED AT",
  },
};

/** A network as Docker's networkContext shows it to a template (the keys of `network ls --format json`). */
function networkRow(n: NetworkEntry, id: string): Record<string, unknown> {
  const labels = n.def?.labels ?? {};
  return {
    CreatedAt: n.def ? goTime(n.def.created, true) : "", Driver: n.driver, ID: id, IPv4: String(n.def !== undefined),
    IPv6: String(n.def?.subnet6 !== undefined), Internal: String(n.def?.internal ?? false),
    Labels: Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(","), Label: (k: unknown) => labels[String(k)] ?? "",
    Name: n.name, Scope: "local",
  };
}

export function registerPortCommand(program: Command): void {
  program.command("port")
    .description("List port mappings or a specific mapping for the container")
    .argument("<container>")
    .argument("[privatePort]", "PRIVATE_PORT[/PROTO]")
    .action(async (ref: string, priv: string | undefined, _o: unknown, cmd: Command) => {
      const g = await prepare(cmd);
      const c = findContainer(g.root, ref);
      const ports: PortBinding[] = readAttachment(containerPaths(g.root, c.id).dir)?.ports ?? [];
      const line = (p: PortBinding): string => `${hostAddress(p.hostIp || "0.0.0.0")}:${p.hostPort}`;
      if (priv === undefined) {
        for (const p of sorted(ports)) process.stdout.write(`${p.containerPort}/${p.protocol} -> ${line(p)}\n`);
        return;
      }
      const [port, proto = "tcp"] = priv.split("/");
      const found = ports.filter((p) => String(p.containerPort) === port && p.protocol === proto);
      if (found.length === 0) throw new TsboxError(`No public port '${port}/${proto}' published for ${ref}`, 1);
      for (const p of found) process.stdout.write(`${line(p)}\n`);
    });
}

function sorted(ports: PortBinding[]): PortBinding[] {
  return [...ports].sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol));
}

/** -o tsbox.link=DEV -o tsbox.link-rate=RATE (both, or neither). */
function linkOption(opts: string[]): Link | undefined {
  let device: string | undefined;
  let rate: number | undefined;
  for (const o of opts) {
    const eq = o.indexOf("=");
    const key = eq < 0 ? o : o.slice(0, eq);
    const value = eq < 0 ? "" : o.slice(eq + 1);
    if (key === "tsbox.link") device = value;
    else if (key === "tsbox.link-rate") rate = parseRate(value, "-o tsbox.link-rate");
    else throw new UsageError(`unknown network option ${key}: tsbox knows tsbox.link and tsbox.link-rate`);
  }
  if (device === undefined && rate === undefined) return undefined;
  if (!device || rate === undefined) throw new UsageError("-o tsbox.link=DEV and -o tsbox.link-rate=RATE go together");
  if (!existsSync(`/sys/class/net/${device}`)) throw new UsageError(`-o tsbox.link=${device}: no such network device`);
  return { device, rate };
}

/** --subnet and --gateway, IPv4 and IPv6 told apart by a colon; IPv6 ones only with --ipv6, as Docker. */
function byFamily(subnets: string[], gateways: string[], ipv6: boolean): { subnet?: string; gateway?: string; ipv6?: { subnet?: string; gateway?: string } } {
  const v6 = (s: string): boolean => s.includes(":");
  const one = (list: string[], what: string): string | undefined => {
    if (list.length > 1) throw new UsageError(`${what}: at most one IPv4 and one IPv6`);
    return list[0];
  };
  const s4 = one(subnets.filter((s) => !v6(s)), "--subnet");
  const s6 = one(subnets.filter(v6), "--subnet");
  const g4 = one(gateways.filter((g) => !v6(g)), "--gateway");
  const g6 = one(gateways.filter(v6), "--gateway");
  if ((s6 !== undefined || g6 !== undefined) && !ipv6) throw new UsageError("an IPv6 --subnet or --gateway needs --ipv6");
  return {
    ...(s4 !== undefined ? { subnet: s4 } : {}), ...(g4 !== undefined ? { gateway: g4 } : {}),
    ...(ipv6 ? { ipv6: { ...(s6 !== undefined ? { subnet: s6 } : {}), ...(g6 !== undefined ? { gateway: g6 } : {}) } } : {}),
  };
}
