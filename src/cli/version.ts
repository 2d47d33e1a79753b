// `tsbox version`: Docker's Client and Server sections, printed with Docker's
// own template (docker/cli system/version.go) through the same template
// engine `--format` uses; node's version where Docker shows Go's. tsbox has
// no Engine API: its API versions read "n/a".

import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { TsboxError } from "../errors.js";
import { packageRoot, packageVersion } from "../util/package.js";

/** The commit the bundle was built from (scripts/bundle.mjs defines it; unbundled, unknown). */
declare const __TSBOX_COMMIT__: string | undefined;

const DEFAULT_TEMPLATE = `{{with .Client -}}
Client:{{if ne .Platform nil}}{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}{{end}}
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Go version:\t{{.GoVersion}}
 Git commit:\t{{.GitCommit}}
 Built:\t{{.BuildTime}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- $detailsOrder := getDetailsOrder $component}}
  {{- range $key := $detailsOrder}}
  {{$key}}:\t{{index $component.Details $key}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}`;

/** Go's time.ANSIC, "Mon Jan _2 15:04:05 2006", in UTC. */
function ansic(d: Date): string {
  const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getUTCDay()]!;
  const month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getUTCMonth()]!;
  return `${day} ${month} ${String(d.getUTCDate()).padStart(2, " ")} ${d.toISOString().slice(11, 19)} ${d.getUTCFullYear()}`;
}

/** A Go struct for the template: its fields by Go name, its JSON (omitempty and json tags) by toJSON. */
async function struct(type: string, fields: Record<string, unknown>, json: () => unknown): Promise<Record<string, unknown>> {
  const { STRUCT_TYPE } = await import("../util/go-template.js");
  const o: Record<string | symbol, unknown> = { ...fields, [STRUCT_TYPE]: type };
  Object.defineProperty(o, "toJSON", { value: json, enumerable: false });
  return o as Record<string, unknown>;
}

/** The init of `--init` (tini) and its version, if there is one. */
async function initComponent(): Promise<{ Name: string; Version: string; Details: Record<string, string> } | undefined> {
  try {
    const { findInit } = await import("../runtime/init-binary.js");
    const r = spawnSync(findInit(process.env), ["--version"], { encoding: "utf8", timeout: 5000 });
    const m = /version ([^\s]+)(?: - git\.([0-9a-f]+))?/.exec(r.stdout ?? "");
    return m ? { Name: "tini", Version: m[1]!, Details: { GitCommit: m[2] ?? "" } } : undefined;
  } catch {
    return undefined;
  }
}

async function versionInfo(): Promise<Record<string, unknown>> {
  const version = packageVersion();
  const commit = typeof __TSBOX_COMMIT__ === "string" ? __TSBOX_COMMIT__ : "unknown";
  let built = "";
  try {
    built = ansic(statSync(join(packageRoot(), "dist", "tsbox.cjs")).mtime);
  } catch { /* not built: no date */ }
  const goArch = process.arch === "x64" ? "amd64" : process.arch === "ia32" ? "386" : process.arch;
  const nodeVersion = `node${process.versions.node}`;
  const api = "n/a";
  const client = {
    Platform: null, Version: version, APIVersion: api, DefaultAPIVersion: api, GitCommit: commit, GoVersion: nodeVersion,
    Os: "linux", Arch: goArch, BuildTime: built, Context: "default",
  };
  const engine = {
    Name: "Engine", Version: version,
    Details: {
      ApiVersion: api, Arch: goArch, BuildTime: built, Experimental: "false", GitCommit: commit, GoVersion: nodeVersion,
      KernelVersion: os.release(), MinAPIVersion: api, Os: "linux",
    },
  };
  const init = await initComponent();
  const components = [engine, { Name: "tsbox-shim", Version: version, Details: { GitCommit: commit } }, ...(init ? [init] : [])];
  const server = {
    Platform: { Name: "" }, Components: components, Version: version, APIVersion: api, MinAPIVersion: api, GitCommit: commit,
    GoVersion: nodeVersion, Os: "linux", Arch: goArch, KernelVersion: os.release(), Experimental: false, BuildTime: built,
  };
  const omitEmpty = (o: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== "" && v !== null && v !== false));
  const clientJson = (): unknown => omitEmpty({
    Version: client.Version, ApiVersion: client.APIVersion, DefaultAPIVersion: client.DefaultAPIVersion, GitCommit: client.GitCommit,
    GoVersion: client.GoVersion, Os: client.Os, Arch: client.Arch, BuildTime: client.BuildTime, Context: client.Context,
  });
  const serverJson = (): unknown => ({
    Platform: server.Platform, Components: components, Version: server.Version, ApiVersion: server.APIVersion,
    ...omitEmpty({ MinAPIVersion: server.MinAPIVersion, GitCommit: server.GitCommit, GoVersion: server.GoVersion }),
    Os: server.Os, Arch: server.Arch,
    ...omitEmpty({ KernelVersion: server.KernelVersion, Experimental: server.Experimental, BuildTime: server.BuildTime }),
  });
  const c = await struct("system.clientVersion", client, clientJson);
  const s = await struct("*system.serverVersion", server, serverJson);
  return struct("system.versionInfo", { Client: c, Server: s }, () => ({ Client: clientJson(), Server: serverJson() }));
}

export function registerVersionCommand(program: Command): void {
  program.command("version")
    .description("Show the tsbox version information")
    .option("-f, --format <format>", "Format output using a custom template: 'json', or a Go template ({{.Server.Version}})")
    .action(async (o: { format?: string }) => {
      const { DOCKER_FUNCS, templateFailure } = await import("../util/docker-format.js");
      const { Template } = await import("../util/go-template.js");
      const { tabwrite } = await import("../util/tabwriter.js");
      const text = o.format === undefined || o.format === "" ? DEFAULT_TEMPLATE : o.format === "json" ? "{{json .}}" : o.format;
      let tmpl: ReturnType<typeof Template.parse>;
      try {
        tmpl = Template.parse(text, {
          ...DOCKER_FUNCS,
          getDetailsOrder: { fn: (c) => Object.keys((c as { Details: Record<string, string> }).Details).sort(), params: ["any"] },
        }, "version");
      } catch (e) {
        return templateFailure(e, "template parsing error", 64);
      }
      const data = await versionInfo();
      // As Docker: what the template wrote (up to an error), a newline, through the tabwriter; then the error.
      const { output, error } = tmpl.executePartial(data);
      process.stdout.write(tabwrite(`${output}\n`, 20, 1));
      if (error) throw new TsboxError(error.message, 1);
    });
}
