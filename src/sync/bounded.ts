/**
 * Runs `work` over `items` with at most `limit` running at once, for I/O
 * that waits on the disk's latency rather than on the processor (reading
 * files at enrollment, writing notes). Results come back in the items'
 * order; a rejected item rejects the whole call once the running ones end.
 */
export async function atOnce<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const at = next++;
      try {
        results[at] = await work(items[at]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw (failure as { error: unknown }).error;
  return results;
}
