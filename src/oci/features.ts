// `tsbox-runc features`: runc's JSON (runtime-spec features.md), saying what
// this runtime honours here and no more: the namespaces, hooks (those run
// inside the container are refused) and cgroup modes tsbox-runc refuses are left out, and the seccomp lists are what the
// compiler understands. Docker reads it at start-up.

import { KNOWN_CAPABILITIES } from "../native/capabilities.js";
import { seccompFeatures } from "../native/seccomp-compiler.js";
import { knownMountOptions } from "./mount-options.js";
import { OCI_VERSION_MIN } from "./bundle.js";
import { OCI_VERSION } from "./spec.js";

export interface FeaturesContext {
  version: string;
  cgroupVersion: "v1" | "v2";
}

export function runtimeFeatures(ctx: FeaturesContext): Record<string, unknown> {
  const seccomp = seccompFeatures();
  return {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_VERSION,
    hooks: ["prestart", "createRuntime", "poststart", "poststop"],
    mountOptions: knownMountOptions(),
    linux: {
      namespaces: ["cgroup", "ipc", "mount", "network", "pid", "uts"],
      capabilities: [...KNOWN_CAPABILITIES],
      cgroup: { v1: ctx.cgroupVersion === "v1", v2: ctx.cgroupVersion === "v2", systemd: false, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: seccomp.actions,
        operators: seccomp.operators,
        archs: seccomp.archs,
        knownFlags: seccomp.flags,
        supportedFlags: seccomp.flags,
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
    },
    annotations: { "org.tsbox.version": ctx.version },
  };
}
