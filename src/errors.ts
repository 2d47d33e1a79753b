// Typed errors that carry the one-line message the user sees and the exit code
// the CLI returns (Docker's conventions: 125 for tsbox's own failures, 126 not
// executable, 127 not found).

export class TsboxError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 125, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** The user asked for something malformed (flag value, reference, archive). */
export class UsageError extends TsboxError {}

/** A flag's value the client itself refuses (Docker's CLI exits 125 for these, whatever the command). */
export class FlagError extends UsageError {}

/** A seccomp profile (--security-opt seccomp=…) that cannot be used as written. */
export class SeccompProfileError extends UsageError {}

/** Something named by the user does not exist (image, container). */
export class NotFoundError extends TsboxError {}

/** A failure inside the container's setup before exec (from the shim). */
export class LaunchError extends TsboxError {}

/** The image or archive content is unsafe or corrupt. */
export class ImageError extends TsboxError {}

export function errnoCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

/**
 * A container's file (state.json, monitor.json, config.json) that cannot be
 * read back: truncated, not JSON, or of the wrong shape. Names the file, so
 * the user knows what to remove; `rm -f` still removes such a container.
 */
export class CorruptContainerError extends TsboxError {
  constructor(readonly id: string, readonly file: string, reason: string) {
    super(`container ${id}: corrupt ${file}: ${reason}`);
  }
}
