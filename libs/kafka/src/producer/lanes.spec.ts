import fc from 'fast-check';
import {
  type EncodedMessage,
  GATHER_WAIT_MS,
  Lane,
  LanePool,
  MAX_MESSAGES_PER_GATHERED_REQUEST,
  type Pending,
  SMALL_PUBLISH_MESSAGES,
  gatherWait,
  takeGroup,
} from './lanes';
import { RECORD_BATCH_OVERHEAD } from './publish-plan';

/** A waiting batch of `count` messages of a library, `bytes` in all. */
function pending(library: number, count: number, bytes: number): Pending {
  const key = Buffer.from(`library-${library}`);
  const messages: EncodedMessage[] = Array.from({ length: count }, () => ({
    key,
    value: '',
  }));
  return {
    messages,
    bytes,
    queuedAt: 0,
    deadline: 0,
    timer: undefined,
    resolve: () => undefined,
    reject: () => undefined,
  };
}

const libraryOf = (p: Pending) => Number(p.messages[0].key.toString().slice('library-'.length));

const queueArbitrary = fc.array(
  fc.record({
    library: fc.integer({ min: 0, max: 7 }),
    count: fc.integer({ min: 1, max: 600 }),
    bytes: fc.integer({ min: RECORD_BATCH_OVERHEAD + 30, max: 3000 }),
  }),
  { minLength: 1, maxLength: 40 },
);

/** Libraries 0-7 on brokers 0-2, or unknown for library 7. */
const brokerOfLibrary = (library: number) => (library === 7 ? undefined : library % 3);

function poolOf(queue: Pending[]): LanePool {
  const pool = new LanePool([new Lane('request', undefined)]);
  pool.queue.push(...queue);
  return pool;
}

describe('takeGroup', () => {
  it('request: gathers the waiting batches of the oldest one`s broker, in order, within the limits', () => {
    fc.assert(
      fc.property(queueArbitrary, fc.integer({ min: 3000, max: 12000 }), (specs, maxBytes) => {
        const queue = specs.map((s) => pending(s.library, s.count, s.bytes));
        const pool = poolOf(queue);
        const brokerOf = (p: Pending) => brokerOfLibrary(libraryOf(p));
        const group = takeGroup(pool, 'request', maxBytes, brokerOf);

        expect(group[0]).toBe(queue[0]);
        // Nothing lost or duplicated; both parts keep the queue's order.
        expect(group).toEqual(queue.filter((p) => group.includes(p)));
        expect(pool.queue).toEqual(queue.filter((p) => !group.includes(p)));

        const broker = brokerOf(queue[0]);
        if (broker === undefined) expect(group).toHaveLength(1);
        for (const member of group) expect(brokerOf(member)).toBe(broker);

        const bytes = (ps: Pending[]) =>
          ps.reduce((sum, p) => sum + p.bytes - RECORD_BATCH_OVERHEAD, RECORD_BATCH_OVERHEAD);
        const messages = (ps: Pending[]) => ps.reduce((sum, p) => sum + p.messages.length, 0);
        if (group.length > 1) {
          expect(bytes(group)).toBeLessThanOrEqual(maxBytes);
          expect(messages(group)).toBeLessThanOrEqual(MAX_MESSAGES_PER_GATHERED_REQUEST);
        }

        // A library's batches leave in order: none left behind before one taken.
        for (const [index, p] of queue.entries()) {
          if (group.includes(p)) continue;
          const later = queue.slice(index + 1);
          expect(later.some((q) => group.includes(q) && libraryOf(q) === libraryOf(p))).toBe(false);
        }

        // It gathers all it may: the next waiting batch of that broker does not fit.
        const next = pool.queue.find((p) => broker !== undefined && brokerOf(p) === broker);
        if (next !== undefined) {
          const fits =
            bytes([...group, next]) <= maxBytes &&
            messages([...group, next]) <= MAX_MESSAGES_PER_GATHERED_REQUEST;
          expect(fits).toBe(false);
        }
      }),
    );
  });

  it('request: merges small batches of one broker into one send', () => {
    const queue = [pending(0, 1, 200), pending(3, 1, 200), pending(1, 1, 200), pending(0, 1, 200)];
    const pool = poolOf(queue);
    const group = takeGroup(pool, 'request', 1_000_000, (p) => brokerOfLibrary(libraryOf(p)));
    expect(group).toEqual([queue[0], queue[1], queue[3]]);
    expect(pool.queue).toEqual([queue[2]]);
  });

  it('transaction: takes the oldest batches while they fit in one record batch', () => {
    fc.assert(
      fc.property(queueArbitrary, fc.integer({ min: 3000, max: 12000 }), (specs, maxBytes) => {
        const queue = specs.map((s) => pending(s.library, s.count, s.bytes));
        const pool = poolOf(queue);
        const group = takeGroup(pool, 'transaction', maxBytes, () => 0);
        expect([...group, ...pool.queue]).toEqual(queue);
        const total = group.reduce((sum, p) => sum + p.bytes, 0);
        if (group.length > 1) expect(total).toBeLessThanOrEqual(maxBytes);
        if (pool.queue.length > 0) expect(total + pool.queue[0].bytes).toBeGreaterThan(maxBytes);
      }),
    );
  });
});

describe('gatherWait', () => {
  /** A pool of `lanes` lanes of `kind`, `busy` of them sending, with `queue` waiting. */
  function busyPool(
    kind: 'request' | 'transaction',
    lanes: number,
    busy: number,
    queue: Pending[],
  ) {
    const pool = new LanePool(Array.from({ length: lanes }, () => new Lane(kind, undefined)));
    pool.idle.splice(0, busy);
    pool.queue.push(...queue);
    return pool;
  }
  const queuedAt = (p: Pending, at: number) => Object.assign(p, { queuedAt: at });

  it('holds a small publish for a busy lane, at most GATHER_WAIT_MS after it was queued', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 1, max: SMALL_PUBLISH_MESSAGES }),
        fc.integer({ min: 0, max: 10 }),
        (lanes, count, elapsed) => {
          const head = queuedAt(pending(0, count, 500), 1000);
          const pool = busyPool('request', lanes, 1, [head]);
          expect(gatherWait(pool, 'request', 1000 + elapsed)).toBe(
            Math.max(0, GATHER_WAIT_MS - elapsed),
          );
        },
      ),
    );
  });

  it('sends at once: no lane busy, a large head, a transaction, or nothing queued', () => {
    const small = () => queuedAt(pending(0, 1, 500), 1000);
    expect(gatherWait(busyPool('request', 4, 0, [small()]), 'request', 1000)).toBe(0);
    const large = queuedAt(pending(0, SMALL_PUBLISH_MESSAGES + 1, 500), 1000);
    expect(gatherWait(busyPool('request', 4, 1, [large, small()]), 'request', 1000)).toBe(0);
    expect(gatherWait(busyPool('transaction', 4, 1, [small()]), 'transaction', 1000)).toBe(0);
    expect(gatherWait(busyPool('request', 4, 1, []), 'request', 1000)).toBe(0);
  });

  it('holds even when every lane is busy (nothing to take then anyway)', () => {
    const pool = busyPool('request', 2, 2, [queuedAt(pending(0, 1, 500), 1000)]);
    expect(gatherWait(pool, 'request', 1001)).toBe(GATHER_WAIT_MS - 1);
  });
});
