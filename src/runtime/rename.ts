// `tsbox rename`: the new name is reserved first (an exclusive create in
// <root>/names, so it cannot be taken twice), then the state switches under
// the container's lock, then the old name is released.

import { UsageError } from "../errors.js";
import { withLock } from "../util/lock.js";
import {
  containerLockFile, findContainer, readState, releaseName, reserveName, writeState,
} from "../state/container-store.js";
import { validateName } from "../state/names.js";
import { containerAttributes, recordEvent } from "../state/events.js";

export function renameContainer(root: string, ref: string, newName: string): void {
  const s = findContainer(root, ref);
  const name = validateName(newName);
  if (name === s.name) throw new UsageError("Renaming a container with the same name as its current name");
  reserveName(root, s.id, name);
  const old = withLock(containerLockFile(root, s.id), () => {
    const cur = readState(root, s.id);
    if (!cur) return undefined;
    writeState(root, { ...cur, name });
    return cur.name;
  });
  releaseName(root, old ?? name, s.id);
  if (old !== undefined) recordEvent(root, "container", "rename", s.id, containerAttributes({ ...s, name }, { oldName: `/${old}` }));
}
