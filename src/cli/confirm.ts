// The prompt of image prune and system prune.

import { createInterface } from "node:readline/promises";

/** Docker's PromptForConfirmation: only "y" or "Y" (after trimming) confirms. */
export async function confirm(question: string): Promise<boolean> {
  process.stdout.write(question);
  const rl = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of rl) return line.trim().toLowerCase() === "y";
    return false;
  } finally {
    rl.close();
  }
}
