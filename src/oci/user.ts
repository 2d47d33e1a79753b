// Resolves `-u USER[:GROUP]` (or the image's User) against the image's own
// /etc/passwd and /etc/group, as Docker/runc do: names are looked up, numbers
// are taken as they are even without an entry, supplementary groups come from
// /etc/group membership, HOME from the passwd entry.

import { UsageError } from "../errors.js";

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

const isNumeric = (s: string): boolean => /^[0-9]+$/.test(s);

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (!text) return [];
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 7 || !isNumeric(f[2] ?? "") || !isNumeric(f[3] ?? "")) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? "/" });
  }
  return out;
}

export function parseGroup(text: string | undefined): GroupEntry[] {
  if (!text) return [];
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 4 || !isNumeric(f[2] ?? "")) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? "").split(",").filter(Boolean) });
  }
  return out;
}

const MAX_ID = 2 ** 31 - 1;

export function resolveUser(spec: string, passwdText: string | undefined, groupText: string | undefined): ResolvedUser {
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);
  const [userPart = "", groupPart] = spec.split(":", 2) as [string?, string?];
  const who = userPart === "" ? "0" : userPart;

  let entry: PasswdEntry | undefined;
  let uid: number;
  if (isNumeric(who)) {
    uid = Number(who);
    if (uid > MAX_ID) throw new UsageError(`uids and gids must be in range 0-${MAX_ID}`);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === who);
    if (!entry) throw new UsageError(`unable to find user ${who}: no matching entries in passwd file`);
    uid = entry.uid;
  }

  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined && groupPart !== "") {
    if (isNumeric(groupPart)) {
      gid = Number(groupPart);
      if (gid > MAX_ID) throw new UsageError(`uids and gids must be in range 0-${MAX_ID}`);
    } else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) throw new UsageError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = g.gid;
    }
  }

  // The primary group is a supplementary group too (Docker's `id` shows
  // groups=0(root)); memberships from /etc/group only when the group was not
  // forced, as runc resolves them.
  const members = entry && groupPart === undefined
    ? groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid)
    : [];
  return { uid, gid, additionalGids: [...new Set([gid, ...members])], home: entry?.home || "/" };
}
