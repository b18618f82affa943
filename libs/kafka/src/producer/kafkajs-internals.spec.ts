import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { Kafka, type Message, logLevel } from 'kafkajs';
import {
  KAFKAJS_VERSION_CHECKED,
  clusterFactory,
  coordinatorClient,
  linearlyGrouped,
} from './kafkajs-internals';

describe('coordinatorClient', () => {
  it("finds kafkajs' cluster factory and builds a client that can look up a coordinator", () => {
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
    const client = coordinatorClient(kafka);
    for (const method of ['connect', 'disconnect', 'findGroupCoordinator'] as const) {
      expect(typeof client[method]).toBe('function');
    }
  });

  it('refuses a client without one', () => {
    expect(() => clusterFactory({} as Kafka)).toThrow(/no cluster factory/);
  });
});

describe('the kafkajs this code was checked against', () => {
  it('is the installed one: re-check kafkajs-internals.ts before changing it', () => {
    // The cluster factory's private symbol and the copy of kafkajs' socket factory belong to one
    // kafkajs version; a different one must be checked (and this constant moved) on purpose.
    const manifest = readFileSync(require.resolve('kafkajs/package.json'), 'utf8');
    const { version } = JSON.parse(manifest) as { version: string };
    expect(version).toBe(KAFKAJS_VERSION_CHECKED);
  });
});

describe('linearlyGrouped', () => {
  // kafkajs' own grouping, as producer.send runs it (not part of its public API).
  const groupMessagesPerPartition = createRequire(__filename)(
    'kafkajs/src/producer/groupMessagesPerPartition',
  ) as (args: object) => Record<string, Message[]>;
  const partitionMetadata = Array.from({ length: 12 }, (_, partitionId) => ({ partitionId }));

  it("gives kafkajs' groups, in order, its partitioner placing each run of a key once", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 60 }), (partitions) => {
        const messages: Message[] = partitions.map((p, i) => ({ key: `${p}`, value: `${i}` }));
        let placed = 0;
        const partitioner = ({ message }: { message: Message }) => {
          placed++;
          return Number(message.key);
        };
        const args = { topic: 't', partitionMetadata, partitioner };
        const grouped = linearlyGrouped(messages);
        expect(grouped).toEqual(messages);
        const actual = groupMessagesPerPartition({ ...args, messages: grouped });
        const runs = partitions.filter((p, i) => i === 0 || partitions[i - 1] !== p).length;
        expect(placed).toBe(runs);
        placed = 0;
        const expected = groupMessagesPerPartition({ ...args, messages });
        expect(placed).toBe(messages.length);
        expect(actual).toEqual(expected);
        expect(Object.keys(actual)).toEqual(Object.keys(expected));
      }),
    );
  });

  it('leaves other reductions to Array', () => {
    const grouped = linearlyGrouped([1, 2, 3].map((n) => ({ key: 'k', n })));
    expect(grouped.reduce((sum, m) => ({ key: 'k', n: sum.n + m.n })).n).toBe(6);
    expect(grouped.reduce((sum, m) => sum + m.n, 10)).toBe(16);
    expect(grouped.reduce((seen: number[], m) => [...seen, m.n], [])).toEqual([1, 2, 3]);
    expect(grouped.reduce((acc, m) => Object.assign(acc, { [m.n]: m.n }), { 0: 0 })).toEqual({
      0: 0,
      1: 1,
      2: 2,
      3: 3,
    });
  });
});
