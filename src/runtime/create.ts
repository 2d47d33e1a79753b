// `tsbox create`: everything `run` does before the launch, and no launch. The
// image (pulled when missing, as run does), the spec, the container's
// directory, its /etc files and its launch plan are written; no cgroup, no
// network, no process. `start` takes it from there, the path of a stopped
// container started again.

import { writeState } from "../state/container-store.js";
import { Undo } from "../util/undo.js";
import { writePlan } from "./monitor.js";
import { realHost, type Host } from "./host.js";
import { imageToRun, launchPlan, prepareContainer, writeCidfile, type RunRequest } from "./run.js";

/** Creates the container and returns its ID; it stays `created` until `start`. */
export async function createOnly(req: Omit<RunRequest, "detach" | "afterExit" | "output">, host: Host = realHost): Promise<string> {
  const image = await imageToRun(req);
  const undo = new Undo();
  try {
    const { id, paths, hierarchy, enforced, made, state } = prepareContainer(req, image, host, undo, false);
    writePlan(paths, launchPlan(req, image, id, paths, hierarchy, enforced, made));
    // No owner: nothing runs it until `start`, and crash recovery leaves it be.
    // Started, it is a monitor's, as `run -d` makes it.
    writeState(req.root, {
      ...state, owner: undefined, detached: true, restartPolicy: req.restartPolicy ?? { name: "no", maximumRetryCount: 0 },
    });
    writeCidfile(req, id);
    return id;
  } catch (e) {
    await undo.run();
    throw e;
  }
}
