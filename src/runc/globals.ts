// tsbox-runc's global options (before the verb), as the verbs see them.

import type { LogFormat } from "./errors.js";

export const DEFAULT_ROOT = "/run/tsbox-runc";

export interface GlobalOptions {
  /** the state root: one directory per container */
  root: string;
  log?: string;
  logFormat: LogFormat;
  systemdCgroup: boolean;
  debug: boolean;
}
