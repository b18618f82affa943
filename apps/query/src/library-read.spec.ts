import { SyncError } from '@sync/platform';
import { LibraryRead } from './library-read';
import type { ConsistencyParams } from './query-params';
import type { ReadYourWritesService } from './read-your-writes.service';

const LIB = '6f1c2a9e-0b7d-4c8e-9a51-3d2f7e4b1c00';

function reader(query: Record<string, unknown>) {
  const waits: ConsistencyParams[] = [];
  const service = {
    ensureApplied: (_: string, params: ConsistencyParams) => {
      waits.push(params);
      return Promise.resolve();
    },
  } as unknown as ReadYourWritesService;
  return { read: new LibraryRead(LIB, query, service), waits };
}

describe('LibraryRead', () => {
  it('waits for the greater of minOffset and asOf', async () => {
    const { read, waits } = reader({ minOffset: '7', asOf: '12', waitMs: '100' });
    expect(read.asOf()).toBe(12n);
    await read.ready();
    expect(waits).toEqual([{ minOffset: 12n, waitMs: 100 }]);

    const other = reader({ minOffset: '30', asOf: '12' });
    other.read.asOf();
    await other.read.ready();
    expect(other.waits).toEqual([{ minOffset: 30n, waitMs: 5000 }]);
  });

  it('does not wait without minOffset or asOf', async () => {
    const { read, waits } = reader({});
    expect(read.asOf()).toBeUndefined();
    await read.ready();
    expect(waits).toEqual([{ minOffset: undefined, waitMs: 5000 }]);
  });

  it('answers one 400 naming every bad parameter, its own and the handler ones', async () => {
    const { read, waits } = reader({ asOf: '-1', minOffset: 'x', limit: '0' });
    read.params.limit();
    read.asOf();
    const error = (await read.ready().catch((e: unknown) => e)) as SyncError;
    expect(error).toBeInstanceOf(SyncError);
    expect(error.code).toBe('INVALID_PARAMETER');
    expect(error.details?.map((d) => (d as { path: string }).path)).toEqual([
      'limit',
      'asOf',
      'minOffset',
    ]);
    expect(waits).toEqual([]);
  });
});
