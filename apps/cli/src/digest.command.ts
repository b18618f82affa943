import { normalizeUuid } from '@sync/protocol';
import { type SyncHttp, UsageError } from './cli-http';

/*
 * `digest <libraryId> [--as-of N]`: GET .../digest (CONTRACT.md section 8), printed as the
 * service answers it, so a node's digest can be compared by eye or by script.
 */

export const DIGEST_USAGE = `  digest <libraryId>             State digest of the library: {"digest","appliedOffset",
                                 "records","relations"}; a node holding the feed through N
                                 with nothing unsent computes the same as --as-of N
      --as-of <offset>           The state as of this log offset (time travel)`;

export const DIGEST_OPTIONS = {
  'as-of': { type: 'string' },
} as const;

interface DigestIo {
  out: (text: string) => void;
}

export async function digest(
  http: SyncHttp,
  args: string[],
  values: { 'as-of'?: string },
  io: DigestIo,
): Promise<void> {
  const libraryId = args.length === 1 ? normalizeUuid(args[0]) : null;
  if (libraryId === null) throw new UsageError('digest needs one <libraryId> (a UUID)');
  const asOf = values['as-of'];
  if (asOf !== undefined && !/^(0|[1-9]\d{0,18})$/.test(asOf)) {
    throw new UsageError(`--as-of must be a log offset, got ${JSON.stringify(asOf)}`);
  }
  const query = asOf === undefined ? '' : `?asOf=${asOf}`;
  io.out(`${JSON.stringify(await http.getQuery(`/libraries/${libraryId}/digest${query}`))}\n`);
}
