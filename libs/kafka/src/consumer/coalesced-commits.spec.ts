import fc from 'fast-check';
import { CoalescedCommits } from './coalesced-commits';

/** A sender whose commits the test completes (or fails) one by one. */
function manualSender() {
  const calls: { offsets: Map<number, bigint>; finish: (error?: Error) => void }[] = [];
  const send = (offsets: ReadonlyMap<number, bigint>) =>
    new Promise<void>((resolve, reject) => {
      calls.push({
        offsets: new Map(offsets),
        finish: (error) => (error ? reject(error) : resolve()),
      });
    });
  return { calls, send };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('CoalescedCommits', () => {
  it('sends at once, then merges what came meanwhile into one commit of the highest offsets', async () => {
    const { calls, send } = manualSender();
    const commits = new CoalescedCommits(send, () => undefined);
    commits.commit(0, 10n);
    expect(calls.map((c) => c.offsets)).toEqual([new Map([[0, 10n]])]);
    commits.commit(0, 20n);
    commits.commit(1, 5n);
    commits.commit(0, 15n);
    await flush();
    expect(calls).toHaveLength(1); // one in flight at a time
    calls[0].finish();
    await flush();
    expect(calls[1].offsets).toEqual(
      new Map([
        [0, 20n],
        [1, 5n],
      ]),
    );
    calls[1].finish();
    await commits.settled();
  });

  it('reports a failed commit and still sends the next ones', async () => {
    const { calls, send } = manualSender();
    const errors: unknown[] = [];
    const commits = new CoalescedCommits(send, (error) => errors.push(error));
    commits.commit(3, 7n);
    commits.commit(3, 9n);
    calls[0].finish(new Error('coordinator moved'));
    await flush();
    expect(errors).toEqual([new Error('coordinator moved')]);
    expect(calls[1].offsets).toEqual(new Map([[3, 9n]]));
    calls[1].finish();
    await commits.settled();
    commits.commit(3, 12n);
    expect(calls[2].offsets).toEqual(new Map([[3, 12n]]));
  });

  it('whatever the interleaving and failures, a partition is never committed backwards and its latest offset is sent', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant('commit' as const),
              partition: fc.integer({ min: 0, max: 2 }),
              // A partition's next offsets grow batch by batch.
              advance: fc.bigInt({ min: 1n, max: 50n }),
            }),
            fc.record({ kind: fc.constant('finish' as const), fail: fc.boolean() }),
          ),
          { maxLength: 40 },
        ),
        async (steps) => {
          const { calls, send } = manualSender();
          const commits = new CoalescedCommits(send, () => undefined);
          const highest = new Map<number, bigint>();
          let finished = 0;
          for (const step of steps) {
            if (step.kind === 'commit') {
              const offset = (highest.get(step.partition) ?? 0n) + step.advance;
              highest.set(step.partition, offset);
              commits.commit(step.partition, offset);
            } else if (finished < calls.length) {
              calls[finished++].finish(step.fail ? new Error('failed') : undefined);
            }
            await flush();
          }
          while (finished < calls.length) {
            calls[finished++].finish();
            await flush();
          }
          await commits.settled();
          const last = new Map<number, bigint>();
          for (const { offsets } of calls) {
            for (const [partition, offset] of offsets) {
              expect(offset).toBeGreaterThan(last.get(partition) ?? -1n);
              last.set(partition, offset);
            }
          }
          // Each partition's latest offset was sent (last, as nothing is sent backwards).
          expect(last).toEqual(highest);
        },
      ),
    );
  });
});
