// What a seccomp agent (linux.seccomp.listenerPath) is sent with the filter's
// listener, as runc sends it: the OCI ContainerProcessState (runtime-spec's
// seccomp-notify: ociVersion, fds naming the one fd, the process's pid, the
// spec's listenerMetadata, and the container's state). The pid is the
// launcher's to fill in (\x01: JSON never has that byte unescaped).

import type { SeccompAgent } from "../../oci/build-plan.js";
import { OCI_VERSION, type Spec } from "../../oci/spec.js";

const PID = "\u0001";

export function seccompAgent(spec: Spec, id: string, bundle: string, status: "creating" | "running"): SeccompAgent | undefined {
  const s = spec.linux.seccomp;
  if (!s?.listenerPath) return undefined;
  const j = JSON.stringify;
  const annotations = spec.annotations ? `,"annotations":${j(spec.annotations)}` : "";
  const state = `{"ociVersion":${j(spec.ociVersion)},"id":${j(id)},"status":${j(status)},"pid":${PID},"bundle":${j(bundle)}${annotations}}`;
  const message = `{"ociVersion":${j(OCI_VERSION)},"fds":["seccompFd"],"pid":${PID},"metadata":${j(s.listenerMetadata ?? "")},"state":${state}}`;
  return { path: s.listenerPath, message };
}
