// The undo of an operation that creates things in steps (a container's
// directory, cgroup and process in `run`; blobs, layers and records in the
// image store's commit): each step that creates something registers how to
// remove it, and on failure they run last first, every one of them even when
// one fails, so that the original error is what the user sees.

import { log } from "../log.js";

type Step = () => void | Promise<void>;

export class Undo {
  private readonly steps: Step[] = [];

  /** `onFailure`: what a failed step is worth; default a warning in the log. */
  constructor(private readonly onFailure: (e: unknown) => void = (e) => log().warn({ err: e }, "cleanup step failed")) {}

  push(step: Step): void {
    this.steps.push(step);
  }

  /** Runs the steps, last first, awaiting each; then there is nothing left to undo. */
  async run(): Promise<void> {
    for (const step of this.steps.reverse()) {
      try { await step(); } catch (e) { this.onFailure(e); }
    }
    this.steps.length = 0;
  }

  /** run() for synchronous steps (a commit under a lock held synchronously). */
  runSync(): void {
    for (const step of this.steps.reverse()) {
      try {
        const pending = step();
        if (pending instanceof Promise) pending.catch((e: unknown) => this.onFailure(e));
      } catch (e) {
        this.onFailure(e);
      }
    }
    this.steps.length = 0;
  }
}
