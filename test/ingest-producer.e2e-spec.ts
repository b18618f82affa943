import { randomUUID } from 'node:crypto';
import { logLevel } from 'kafkajs';
import {
  OperationProducer,
  type OperationProducerOptions,
  type PublishResult,
  RECORD_BATCH_OVERHEAD,
  type SendInfo,
  partitionForLibrary,
  recordBytes,
} from '@sync/kafka';
import { canonicalJson, defaultSchema, validateBatch } from '@sync/protocol';
import { TopicReader, tagCreates, waitFor } from './ingest-fixtures';
import { KafkaProxy } from './support/kafka-proxy';
import { createTestTopics, eventually, kafkaBrokers } from './support/test-env';

const PARTITIONS = 3;

function producer(
  topic: string,
  options: Partial<OperationProducerOptions> & { brokers?: string[] } = {},
): OperationProducer {
  return new OperationProducer({
    client: {
      clientId: 'ingest-producer-test',
      brokers: options.brokers ?? kafkaBrokers(),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      // Bounded, so that a producer discarded mid-retry stops soon after the test.
      retry: { initialRetryTime: 100, retries: 3, maxRetryTime: 500 },
    },
    topic,
    transactionalIdPrefix: `test-producer-${randomUUID().slice(0, 8)}`,
    ...options,
  });
}

function validOps(count: number) {
  return validateBatch(tagCreates(count), defaultSchema()).ops;
}

/**
 * Every publish's ops are at the offsets it reported: the first and last exactly, all of them
 * in order in between, on the library's partition.
 */
function expectAtReportedOffsets(
  reader: TopicReader,
  libraryId: string,
  ops: ReturnType<typeof validOps>,
  result: PublishResult,
): void {
  const values = ops.map((op) => canonicalJson(op));
  const mine = new Set(values);
  const inRange = reader.messages.filter(
    (m) =>
      m.partition === result.partition &&
      BigInt(m.offset) >= BigInt(result.firstOffset) &&
      BigInt(m.offset) <= BigInt(result.lastOffset),
  );
  expect(result.partition).toBe(partitionForLibrary(libraryId, PARTITIONS));
  expect(result.count).toBe(ops.length);
  expect(inRange[0]).toMatchObject({ offset: result.firstOffset, value: values[0] });
  expect(inRange[inRange.length - 1]).toMatchObject({
    offset: result.lastOffset,
    value: values[values.length - 1],
  });
  expect(inRange.filter((m) => mine.has(m.value)).map((m) => m.value)).toEqual(values);
  // One record batch in one request: nothing else can lie between.
  if (result.kind === 'request') expect(inRange.map((m) => m.value)).toEqual(values);
  for (const m of inRange.filter((x) => mine.has(x.value))) expect(m.key).toBe(libraryId);
}

describe('OperationProducer against the real broker', () => {
  let topic: string;
  let reader: TopicReader;

  beforeAll(async () => {
    ({ operationsTopic: topic } = await createTestTopics('ingest-producer', PARTITIONS));
    reader = await TopicReader.start(topic, 'read_committed');
  });

  afterAll(async () => {
    await reader?.stop();
  });

  const variants = [
    { mode: 'transactional', maxRecordBatchBytes: 8192 },
    { mode: 'single-request', maxRecordBatchBytes: 1_000_000 },
    // Batches over 4 KB go in transactions, the others as single requests.
    { mode: 'single-request', maxRecordBatchBytes: 4096 },
  ] as const;

  for (const { mode, maxRecordBatchBytes } of variants) {
    it(`${mode} (record batches <= ${maxRecordBatchBytes} bytes): concurrent publishes of many libraries land whole, in order, at the reported offsets`, async () => {
      const sends: SendInfo[] = [];
      const publisher = producer(topic, {
        mode,
        producers: 2,
        maxRecordBatchBytes,
        onSend: (send) => sends.push(send),
      });
      try {
        const libraries = Array.from({ length: 5 }, () => randomUUID());
        const jobs = Array.from({ length: 40 }, (_, i) => ({
          libraryId: libraries[i % libraries.length],
          ops: validOps(1 + ((i * 7) % 60)),
        }));
        const results = await Promise.all(
          jobs.map((job) => publisher.publish(job.libraryId, job.ops)),
        );
        const total = jobs.reduce((sum, job) => sum + job.ops.length, 0);
        await waitFor(() => {
          const seen = new Set(reader.messages.map((m) => m.value));
          return jobs.every((job) => job.ops.every((op) => seen.has(canonicalJson(op))))
            ? true
            : undefined;
        });
        jobs.forEach((job, i) =>
          expectAtReportedOffsets(reader, job.libraryId, job.ops, results[i]),
        );
        expect(sends.every((send) => send.ok)).toBe(true);
        expect(sends.reduce((sum, send) => sum + send.messages, 0)).toBe(total);
        const transactions = sends.filter((send) => send.kind === 'transaction');
        const requests = sends.filter((send) => send.kind === 'request');
        expect(requests.every((send) => send.batches === 1)).toBe(true);
        if (mode === 'transactional') {
          expect(requests).toHaveLength(0);
          // 40 publishes on 2 producers: waiting publishes went out together.
          expect(transactions.length).toBeLessThan(jobs.length);
        } else if (maxRecordBatchBytes === 4096) {
          expect(requests.length).toBeGreaterThan(0);
          expect(transactions.length).toBeGreaterThan(0);
          jobs.forEach((job, i) => {
            const bytes = job.ops.reduce(
              (sum, op) => sum + recordBytes(job.libraryId, canonicalJson(op)),
              RECORD_BATCH_OVERHEAD,
            );
            expect(results[i].kind).toBe(bytes > 4096 ? 'transaction' : 'request');
          });
        } else {
          expect(transactions).toHaveLength(0);
        }
      } finally {
        await publisher.close();
      }
    });
  }

  it('single request: a batch whose answer is lost is, once the broker is reachable, there whole or not at all', async () => {
    const proxy = await KafkaProxy.start(kafkaBrokers()[0]);
    const publisher = producer(topic, {
      mode: 'single-request',
      producers: 1,
      publishTimeoutMs: 2000,
      brokers: [proxy.address],
    });
    const uncommitted = await TopicReader.start(topic, 'read_uncommitted');
    try {
      const libraryId = randomUUID();
      await publisher.publish(libraryId, validOps(1));
      proxy.onProduce(() => 'cut-response');
      const lost = validOps(300);
      await expect(publisher.publish(libraryId, lost)).rejects.toMatchObject({
        name: 'PublishError',
      });
      proxy.onProduce(null);
      await proxy.restore();
      const later = validOps(2);
      const result = await eventually(
        () => publisher.publish(libraryId, later).catch(() => undefined),
        20_000,
        200,
      );
      await waitFor(() =>
        uncommitted.messages.some((m) => m.offset === result.lastOffset && m.key === libraryId)
          ? true
          : undefined,
      );
      const lostValues = new Set(lost.map((op) => canonicalJson(op)));
      const landed = uncommitted.messages.filter((m) => lostValues.has(m.value)).length;
      expect([0, lost.length]).toContain(landed);
    } finally {
      await uncommitted.stop();
      await publisher.close();
      await proxy.close();
    }
  });

  it('single request: a batch abandoned at its deadline does not land later, when the broker is back', async () => {
    const proxy = await KafkaProxy.start(kafkaBrokers()[0]);
    const publisher = producer(topic, {
      mode: 'single-request',
      producers: 1,
      publishTimeoutMs: 1500,
      brokers: [proxy.address],
    });
    const uncommitted = await TopicReader.start(topic, 'read_uncommitted');
    try {
      const libraryId = randomUUID();
      await publisher.publish(libraryId, validOps(1));
      // The produce request goes into a connection that never answers...
      await proxy.cut('blackhole');
      const abandoned = validOps(20);
      await expect(publisher.publish(libraryId, abandoned)).rejects.toMatchObject({
        reason: 'timeout',
      });
      // ...and when the broker is reachable again, kafkajs' retry of it must not get through.
      await proxy.restore();
      const later = validOps(2);
      const result = await eventually(
        () => publisher.publish(libraryId, later).catch(() => undefined),
        20_000,
        200,
      );
      await waitFor(() =>
        uncommitted.messages.some((m) => m.offset === result.lastOffset && m.key === libraryId)
          ? true
          : undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const abandonedValues = new Set(abandoned.map((op) => canonicalJson(op)));
      expect(uncommitted.messages.filter((m) => abandonedValues.has(m.value))).toEqual([]);
    } finally {
      await uncommitted.stop();
      await publisher.close();
      await proxy.close();
    }
  });
});
