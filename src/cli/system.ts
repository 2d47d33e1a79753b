// system df, system prune.

import type { Command } from "commander";
import { collect, prepare } from "./common.js";

export function registerSystemCommands(program: Command): void {
  const system = program.command("system").description("Manage tsbox");

  system.command("df")
    .description("Show tsbox disk usage")
    .option("-v, --verbose", "Show detailed information on space usage", false)
    .option("--format <format>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .action(async (o: { verbose: boolean; format?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      if (o.verbose) {
        const { verboseDiskUsage } = await import("../runtime/disk-usage.js");
        const { listVolumeNames, volumeSize, volumeUsers } = await import("../state/volume-store.js");
        const users = volumeUsers(g.root);
        const volumes = listVolumeNames(g.root).map((name) => ({ name, links: users.get(name)?.length ?? 0, size: volumeSize(g.root, name) }));
        process.stdout.write(verboseDiskUsage(g.root, volumes));
        return;
      }
      const { humanSize } = await import("../format.js");
      const { formatRows } = await import("../util/docker-format.js");
      const { listImages } = await import("../image/index.js");
      const { readAllStates, containerPaths } = await import("../state/container-store.js");
      const { dirSize } = await import("../runtime/prune.js");
      const { isLive } = await import("../runtime/container-control.js");
      const states = readAllStates(g.root);
      const used = new Set(states.map((s) => s.imageId));
      const images = [...new Map(listImages(g.root).map((i) => [i.id, i])).values()];
      const imageBytes = images.reduce((a, i) => a + i.size, 0);
      const unusedBytes = images.filter((i) => !used.has(i.id)).reduce((a, i) => a + i.size, 0);
      const live = states.filter(isLive);
      const sizes = new Map(states.map((s) => [s.id, dirSize(containerPaths(g.root, s.id).upper)]));
      const ctrBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
      const stoppedBytes = states.filter((s) => !isLive(s)).reduce((a, s) => a + (sizes.get(s.id) ?? 0), 0);
      // go-units HumanSize (4 digits); the share reclaimable as Docker's integer division, none when there is nothing.
      const size = (n: number): string => humanSize(n, 4);
      const pct = (part: number, all: number): string => (all > 0 ? `${size(part)} (${Math.floor((part * 100) / all)}%)` : size(part));
      const row = (Type: string, TotalCount: number, Active: number, Size: number, Reclaimable: string): Record<string, unknown> =>
        ({ Active: String(Active), Reclaimable, Size: size(Size), TotalCount: String(TotalCount), Type });
      const vol = await volumeUsage(g.root);
      process.stdout.write(formatRows(o.format, [
        row("Images", images.length, images.filter((i) => used.has(i.id)).length, imageBytes, pct(unusedBytes, imageBytes)),
        row("Containers", states.length, live.length, ctrBytes, pct(stoppedBytes, ctrBytes)),
        row("Local Volumes", vol.count, vol.active, vol.total, pct(vol.unused, vol.total)),
        row("Build Cache", 0, 0, 0, size(0)),
      ], {
        // Docker's diskUsage contexts (docker/cli formatter/disk_usage.go); the first row's type names an unknown field.
        typeName: "*formatter.diskUsageImagesContext",
        defaultTable: "table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}",
        headers: { Type: "TYPE", TotalCount: "TOTAL", Active: "ACTIVE", Size: "SIZE", Reclaimable: "RECLAIMABLE" },
      }));
    });

  system.command("prune")
    .description("Remove unused data: stopped containers, dangling images (with -a, all unused images)")
    .option("-a, --all", "Remove all unused images not just dangling ones", false)
    .option("--filter <filter>", "Provide filter values (e.g. \"label=<key>=<value>\")", collect, [])
    .option("-f, --force", "Do not prompt for confirmation", false)
    .option("--volumes", "Prune volumes", false)
    .action(async (o: { all: boolean; filter: string[]; force: boolean; volumes: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { parsePruneFilters, pruneFilterMatches } = await import("./prune-filter.js");
      const filter = parsePruneFilters(o.filter);
      const matches = (c: { created: number; labels: Readonly<Record<string, string>> }): boolean => pruneFilterMatches(filter, c);
      if (!o.force) {
        const { confirm } = await import("./confirm.js");
        const warning = `WARNING! This will remove:\n  - all stopped containers\n${o.volumes ? "  - all volumes not used by at least one container\n" : ""}  - all ${o.all ? "images without at least one container associated to them" : "dangling images"}\n`;
        if (!(await confirm(`${warning}\nAre you sure you want to continue? [y/N] `))) return;
      }
      const { humanSize } = await import("../format.js");
      const { pruneContainers, pruneDebris } = await import("../runtime/prune.js");
      const { pruneImages } = await import("../image/index.js");
      const { imagesInUse } = await import("./images.js");
      const ctr = await pruneContainers(g.root, matches);
      pruneDebris(g.root);
      const { pruneVolumes } = await import("../runtime/volume/prune.js");
      const label = (t: { key: string; value?: string }): string => (t.value === undefined ? t.key : `${t.key}=${t.value}`);
      const vol = o.volumes
        ? pruneVolumes(g.root, {
          all: true, labels: filter.labels.filter((t) => !t.negate).map(label), notLabels: filter.labels.filter((t) => t.negate).map(label),
        })
        : { names: [], bytes: 0 };
      const inUse = imagesInUse(g.root);
      const img = await pruneImages(g.root, { all: o.all, inUse: (id) => inUse.has(id), filter: matches });
      let out = "";
      if (ctr.ids.length) out += `Deleted Containers:\n${ctr.ids.map((i) => `${i}\n`).join("")}\n`;
      if (vol.names.length) out += `Deleted Volumes:\n${vol.names.map((n) => `${n}\n`).join("")}\n`;
      if (img.lines.length) out += `Deleted Images:\n${img.lines.map((l) => `${l}\n`).join("")}\n`;
      out += `Total reclaimed space: ${humanSize(ctr.bytes + vol.bytes + img.reclaimed)}\n`;
      process.stdout.write(out);
    });
}

/** The "Local Volumes" row of `system df`: how many, how many in use (some container's records name it), their bytes, the unused ones'. */
async function volumeUsage(root: string): Promise<{ count: number; active: number; total: number; unused: number }> {
  const { listVolumeNames, volumeSize, volumeUsers } = await import("../state/volume-store.js");
  const users = volumeUsers(root);
  const names = listVolumeNames(root);
  const sizes = names.map((n) => ({ n, size: volumeSize(root, n) }));
  return {
    count: names.length, active: names.filter((n) => users.has(n)).length,
    total: sizes.reduce((a, v) => a + v.size, 0), unused: sizes.filter((v) => !users.has(v.n)).reduce((a, v) => a + v.size, 0),
  };
}
