// The layers of a pull or a load are ingested a few at a time, by one pool:
// the same limit by default, and the same cancellation, whichever command
// brought them.

/**
 * Layers ingested at once by default: Docker's DefaultMaxConcurrentDownloads
 * (what `pull --max-concurrent-downloads` overrides). On 2 cores a third
 * worker still helps a load: its layers are mostly bound by the filesystem's
 * create path, not the CPU.
 */
export const DEFAULT_LAYER_CONCURRENCY = 3;

export interface LayerPoolHooks<R> {
  /** Called once, on the first failure: cancels the jobs still running. */
  stop(): void;
  /** Given each result of a job that succeeded when another failed; absent: they are the caller's to clean. */
  discard?(result: R): void;
}

/**
 * Runs `jobs` at most `limit` at a time, results in the jobs' order. On the
 * first failure no new job starts, `hooks.stop` cancels the running ones,
 * every started job is awaited, what succeeded goes to `hooks.discard`, and
 * the first error is rethrown.
 */
export async function runLayerPool<J, R>(
  jobs: readonly J[], limit: number, run: (job: J) => Promise<R>, hooks: LayerPoolHooks<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(jobs.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < jobs.length) {
      const i = next++;
      try {
        results[i] = await run(jobs[i] as J);
      } catch (e) {
        if (failure === undefined) {
          failure = { error: e };
          hooks.stop();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, jobs.length)) }, lane));
  if (failure !== undefined) {
    if (hooks.discard !== undefined) for (const r of results) if (r !== undefined) hooks.discard(r);
    throw failure.error;
  }
  return results;
}
