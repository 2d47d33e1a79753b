// What registries say when they refuse: the distribution spec's error body
// `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"…","detail":…}]}`, turned
// into Docker's wording (errcode's "<code in words>: <message>", and the
// pull errors of moby's distribution/errors.go), so messages are searchable.
import { ImageError } from "../../errors.js";

export interface RegistryErrorEntry {
  code: string;
  message: string;
}

/** A response the registry gave instead of what was asked for. */
export class RegistryError extends ImageError {
  readonly status: number;
  readonly entries: RegistryErrorEntry[];
  constructor(message: string, status: number, entries: RegistryErrorEntry[]) {
    super(message);
    this.status = status;
    this.entries = entries;
  }
  get code(): string | undefined {
    return this.entries[0]?.code;
  }
}

/** `MANIFEST_UNKNOWN` → `manifest unknown`, as errcode's descriptions read. */
function codeWords(code: string): string {
  return code.toLowerCase().replace(/_/g, " ");
}

export function parseErrorBody(body: Buffer): RegistryErrorEntry[] {
  try {
    const v = JSON.parse(body.toString("utf8")) as { errors?: unknown };
    if (!Array.isArray(v.errors)) return [];
    return v.errors.flatMap((e: unknown) => {
      if (typeof e !== "object" || e === null) return [];
      const { code, message } = e as { code?: unknown; message?: unknown };
      if (typeof code !== "string") return [];
      return [{ code: code.toUpperCase(), message: typeof message === "string" ? message : "" }];
    });
  } catch {
    return [];
  }
}

/** errcode.Error's text: `manifest unknown: manifest unknown`. */
export function entryText(e: RegistryErrorEntry): string {
  const words = codeWords(e.code);
  return e.message === "" ? words : `${words}: ${e.message}`;
}

/** A short form of the HTTP status for bodies without registry errors. */
export function statusText(status: number, reason: string | undefined): string {
  return `${status} ${reason ?? ""}`.trim();
}

/**
 * The registry's refusal of a request, in words. Docker prefixes most with the
 * request (`Get "…": …`); the common ones below keep the registry's own text.
 */
export function registryError(method: string, url: URL, status: number, reason: string | undefined, body: Buffer): RegistryError {
  const entries = parseErrorBody(body);
  const first = entries[0];
  if (first !== undefined) return new RegistryError(entryText(first), status, entries);
  if (status === 401) return new RegistryError("unauthorized: authentication required", status, [{ code: "UNAUTHORIZED", message: "authentication required" }]);
  if (status === 429) return new RegistryError("toomanyrequests: too many requests", status, [{ code: "TOOMANYREQUESTS", message: "too many requests" }]);
  const verb = method.charAt(0) + method.slice(1).toLowerCase();
  return new RegistryError(`${verb} "${url.href}": unexpected status from registry: ${statusText(status, reason)}`, status, []);
}
