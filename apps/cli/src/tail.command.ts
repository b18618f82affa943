import { type Io, libraryArg } from './cli-args';
import { type SyncHttp, UsageError } from './cli-http';

export const TAIL_USAGE = `  tail <libraryId>               Print the library's feed as NDJSON ({"offset","operation"})
      --after <offset>           Start after this offset (default: from the start)
      --follow, -f               Keep waiting for new ops (long polls, no busy loop)`;

export const TAIL_OPTIONS = {
  after: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
} as const;

export interface TailValues {
  after?: string;
  follow?: boolean;
}

interface FeedPage {
  items: { offset: string; operation: unknown }[];
  nextCursor: string | null;
}

/** `tail`: the library's feed as NDJSON, optionally following it with long polls. */
export async function tail(
  http: SyncHttp,
  args: string[],
  values: TailValues,
  io: Io,
): Promise<void> {
  const libraryId = libraryArg(args, true);
  let after = values.after ?? '-1';
  if (!/^(-1|0|[1-9]\d{0,18})$/.test(after))
    throw new UsageError(`--after must be an offset, got ${after}`);
  // Ctrl-C ends a follow at once, also in the middle of a long poll.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  const feed = http.withSignal(interrupt.signal);
  try {
    for (;;) {
      const page = await feed.getQuery<FeedPage>(
        `/libraries/${libraryId}/operations?limit=1000&after=${after}`,
      );
      for (const entry of page.items) io.out(`${JSON.stringify(entry)}\n`);
      if (page.items.length > 0) after = page.items[page.items.length - 1].offset;
      if (page.nextCursor !== null) continue;
      if (!values.follow) return;
      // Long poll: wait until the partition is applied past what we have read, then read again.
      const state = await feed.getQuery<{ appliedOffset: string | null }>(
        `/libraries/${libraryId}/status`,
      );
      const applied = state.appliedOffset === null ? -1n : BigInt(state.appliedOffset);
      const next = (applied > BigInt(after) ? applied : BigInt(after)) + 1n;
      await feed.getQueryOrNotYet(`/libraries/${libraryId}/status?minOffset=${next}&waitMs=25000`);
    }
  } catch (error) {
    if (interrupt.signal.aborted) return;
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
