import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Kafka, logLevel } from 'kafkajs';
import { formatHybrid, hybridFromMillis } from '@sync/protocol';
import { createIngestApp } from '../apps/ingest/src/ingest.app';
import { type IngestConfig, readIngestConfig } from '../apps/ingest/src/ingest.config';
import { eventually, kafkaBrokers } from './support/test-env';

/** Helpers of the ingest e2e tests: a real app in-process, ops, and readers of the topic. */

export interface RunningIngest {
  app: NestFastifyApplication;
  config: IngestConfig;
  /** http://127.0.0.1:port */
  url: string;
  close(): Promise<void>;
}

export async function startIngest(env: Record<string, string>): Promise<RunningIngest> {
  const config = readIngestConfig({
    KAFKA_BROKERS: kafkaBrokers().join(','),
    INGEST_TRANSACTIONAL_ID: `test-ingest-${randomUUID().slice(0, 8)}`,
    ...env,
  });
  const app = await createIngestApp(config);
  app.useLogger(process.env.INGEST_TEST_LOGS ? ['error', 'warn', 'log'] : false);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, config, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** Hybrid of the wall clock plus offsetMs; `counter` keeps ops of one millisecond apart. */
export function hybridAt(offsetMs = 0, counter = 0): string {
  return formatHybrid(hybridFromMillis(Date.now() + offsetMs, counter));
}

type Op = Record<string, unknown>;

/** One op of each of the six shapes (contract section 3), in wire form. */
export function sixShapes(node: string = randomUUID()): Op[] {
  const tag = randomUUID();
  const object = randomUUID();
  const ts = (i: number) => ({ hybrid: hybridAt(0, i) });
  const keys = { relationItem: object, relationGroup: tag, relation: 'TagOnObject' };
  return [
    {
      type: 'CREATE',
      recordId: tag,
      model: 'Tag',
      data: { name: 'red', color: '#f00' },
      node,
      timestamp: ts(0),
    },
    { type: 'UPDATE', recordId: tag, field: 'name', value: 'crimson', node, timestamp: ts(1) },
    { type: 'DELETE', recordId: object, model: 'Object', node, timestamp: ts(2) },
    {
      type: 'CREATE',
      ...keys,
      data: { date_created: '2024-01-02T03:04:05Z' },
      node,
      timestamp: ts(3),
    },
    { type: 'UPDATE', ...keys, field: 'date_created', value: null, node, timestamp: ts(4) },
    { type: 'DELETE', ...keys, node, timestamp: ts(5) },
  ];
}

/** `count` valid Tag CREATEs, each with its index in data.name. */
export function tagCreates(count: number, node: string = randomUUID()): Op[] {
  const hybrid = hybridAt();
  return Array.from({ length: count }, (_, i) => ({
    type: 'CREATE',
    recordId: randomUUID(),
    model: 'Tag',
    data: { name: `tag ${i}` },
    node,
    timestamp: { hybrid },
  }));
}

/** Response bodies, asserted field by field in the tests. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** Polls until `probe` returns something other than undefined (see eventually). */
export function waitFor<T>(probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  return eventually(() => Promise.resolve(probe()), timeoutMs);
}

/** GET a JSON document from the service. */
export async function getJson(url: string): Promise<Json> {
  return (await fetch(url)).json();
}

export async function postOps(
  url: string,
  libraryId: string,
  body: unknown,
  init: { contentType?: string; raw?: string } = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const response = await fetch(`${url}/libraries/${libraryId}/operations`, {
    method: 'POST',
    headers: { 'content-type': init.contentType ?? 'application/json' },
    body: init.raw ?? JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: left as text for the assertion to show
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export interface ConsumedMessage {
  partition: number;
  offset: string;
  key: string | null;
  value: string;
}

/** Collects every message of a topic from the beginning, as one consumer group member. */
export class TopicReader {
  readonly messages: ConsumedMessage[] = [];
  private readonly kafka = new Kafka({
    clientId: 'ingest-test-reader',
    brokers: kafkaBrokers(),
    logLevel: logLevel.NOTHING,
  });
  private readonly consumer;

  private constructor(
    readonly topic: string,
    readCommitted: boolean,
  ) {
    this.consumer = this.kafka.consumer({
      groupId: `ingest-test-${randomUUID()}`,
      readUncommitted: !readCommitted,
      maxWaitTimeInMs: 100,
    });
  }

  static async start(topic: string, isolation: 'read_committed' | 'read_uncommitted') {
    const reader = new TopicReader(topic, isolation === 'read_committed');
    await reader.consumer.connect();
    await reader.consumer.subscribe({ topic, fromBeginning: true });
    await reader.consumer.run({
      eachMessage: ({ partition, message }) => {
        reader.messages.push({
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? '',
        });
        return Promise.resolve();
      },
    });
    return reader;
  }

  /** Messages of one library (by key), in the order consumed. */
  ofLibrary(libraryId: string): ConsumedMessage[] {
    return this.messages.filter((m) => m.key === libraryId.toLowerCase());
  }

  /** The parsed ops of one library, in the order consumed. */
  opsOf(libraryId: string): { recordId: string; data: Record<string, unknown> }[] {
    return this.ofLibrary(libraryId).map(
      (m) => JSON.parse(m.value) as { recordId: string; data: Record<string, unknown> },
    );
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

/** End offset (high watermark) of every partition, straight from the broker. */
export async function endOffsets(topic: string): Promise<Record<number, string>> {
  const admin = new Kafka({
    clientId: 'ingest-test-admin',
    brokers: kafkaBrokers(),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return Object.fromEntries(offsets.map((o) => [o.partition, o.high]));
  } finally {
    await admin.disconnect();
  }
}
