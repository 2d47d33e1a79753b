// The container's own image-level config, as Docker keeps it (Config in
// `inspect`): the image's config with the run's flags over it. `commit` makes
// the new image's config from it; the spec (what the executor reads) is made
// from the same inputs by specconv.ts.
import type { ImageConfigBody } from "../image/config.js";
import type { RunFlags } from "./specconv.js";

export interface ContainerConfig {
  Entrypoint: string[] | null;
  Cmd: string[] | null;
  /** the user's -e first, then the image's variables they do not set (moby's merge) */
  Env: string[];
  WorkingDir: string;
  User: string;
}

const key = (e: string): string => e.split("=", 1)[0] ?? "";

/** Pure: image config + flags → the container's Config. `hostEnv` fills a bare `-e NAME`. */
export function containerConfig(image: ImageConfigBody, flags: Pick<RunFlags, "cmd" | "entrypoint" | "env" | "workdir" | "user">,
  hostEnv: Record<string, string | undefined>): ContainerConfig {
  const user: string[] = [];
  for (const e of flags.env) {
    if (e.includes("=")) user.push(e);
    else if (hostEnv[e] !== undefined) user.push(`${e}=${hostEnv[e]}`);
  }
  const env = [...user, ...(image.Env ?? []).filter((e) => !user.some((u) => key(u) === key(e)))];
  let entrypoint: string[] | null;
  let cmd: string[] | null;
  if (flags.entrypoint !== undefined) {
    entrypoint = flags.entrypoint === "" ? null : [flags.entrypoint];
    cmd = flags.cmd.length > 0 ? flags.cmd : null;
  } else {
    entrypoint = image.Entrypoint ?? null;
    cmd = flags.cmd.length > 0 ? flags.cmd : image.Cmd ?? null;
  }
  return { Entrypoint: entrypoint, Cmd: cmd, Env: env, WorkingDir: flags.workdir ?? image.WorkingDir ?? "", User: flags.user ?? image.User ?? "" };
}
