import { Kafka, Partitioners, type Producer, logLevel } from 'kafkajs';
import { partitionForLibrary } from '@sync/kafka';
import { formatHybrid, hybridFromMillis } from '@sync/protocol';
import type { WireOp } from '../support/reference-model';
import { createTestDatabase, kafkaBrokers } from '../support/test-env';
import {
  type FaultTopics,
  type InProcessQuery,
  createTopics,
  deleteTopics,
  ingestEnv,
  projectorEnv,
  startQuery,
} from './support/environment';
import {
  type PoisonMessage,
  hostileRequests,
  poisonMessages,
  rawRequest,
  statusOf,
} from './support/hostile';
import { Ledger, post } from './support/load';
import { ServiceProcess } from './support/services';
import {
  expectClean,
  listAll,
  readTopic,
  reportResult,
  topicMessageCount,
  verifyPipeline,
} from './support/verify';
import { FaultWorkload, prng, randomUuid } from './support/workload';

/*
 * Scenario 6a: generated hostile HTTP requests against a real ingest process. Every answer must
 * be a 4xx with a contract error body (a known code, its status, a message), never a 5xx, never
 * a hang; the process must stay up; nothing may reach the topic. A valid batch afterwards is
 * still accepted.
 */

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const KNOWN_CODES = new Set([
  'INVALID_JSON',
  'INVALID_LIBRARY_ID',
  'NOT_AN_ARRAY',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'VALIDATION_FAILED',
  'TIMESTAMP_DRIFT',
]);

describe('scenario 6a: hostile HTTP input to the ingest', () => {
  let ingest: ServiceProcess | undefined;
  let topics: FaultTopics;
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;

  afterAll(async () => {
    await ingest?.stop();
    await Promise.all([database?.drop(), topics && deleteTopics(kafkaBrokers(), topics)]);
  });

  it('at least 200 malformed requests: each a 4xx with a contract code, no crash, nothing published', async () => {
    const began = Date.now();
    const brokers = kafkaBrokers();
    topics = await createTopics(brokers, 'fault-hostile-http', 3);
    database = await createTestDatabase('fault_hostile_http');
    ingest = await ServiceProcess.start('ingest', {
      env: ingestEnv(brokers, topics, database.url),
    });
    await ingest.ready();
    const pid = ingest.pid;

    const cases = hostileRequests(606, MAX_BODY_BYTES);
    expect(cases.length).toBeGreaterThanOrEqual(200);
    const wrong: string[] = [];
    const byCategory = new Map<string, number>();
    const running = ingest;
    // A few at a time: enough to overlap slow (large) requests, not so many that they time out.
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = next++; i < cases.length; i = next++) {
          const c = cases[i];
          const answer = await rawRequest(running.url, c);
          byCategory.set(c.category, (byCategory.get(c.category) ?? 0) + 1);
          let body: { error?: unknown; message?: unknown } | undefined;
          try {
            body = JSON.parse(answer.body) as typeof body;
          } catch {
            body = undefined;
          }
          const code = typeof body?.error === 'string' ? body.error : undefined;
          const contract =
            code !== undefined &&
            KNOWN_CODES.has(code) &&
            statusOf(code) === answer.status &&
            typeof body?.message === 'string';
          if (!contract || !c.expect.includes(code)) {
            wrong.push(
              `[${c.category}] ${c.label}: ${answer.status} ${answer.body.slice(0, 160)} (expected ${c.expect.join(' or ')})`,
            );
          }
        }
      }),
    );

    // Still the same process, alive and ready.
    expect(ingest.running).toBe(true);
    expect(ingest.pid).toBe(pid);
    expect((await ingest.get('/health/ready')).status).toBe(200);
    const published = await topicMessageCount(brokers, topics.operationsTopic);
    reportResult({
      scenario: '6a hostile HTTP input',
      scale: 'any',
      load: `${cases.length} malformed requests (${[...byCategory].map(([k, v]) => `${k} ${v}`).join(', ')})`,
      faults:
        'fuzzed JSON, wrong types, huge strings, deep nesting, invalid UTF-8, content types, oversized, bad ids',
      counts: {
        acknowledged: 0,
        applied: published,
        duplicates: 0,
        losses: 0,
        phantoms: published,
      },
      seconds: (Date.now() - began) / 1000,
      extra: { wrongAnswers: wrong.length },
    });
    expect(wrong).toEqual([]);
    expect(published).toBe(0);

    // And a valid batch is still accepted.
    const workload = new FaultWorkload({ seed: 6, libraries: 1, recordsPerLibrary: 10 });
    const ok = await post(
      ingest.url,
      workload.libraries[0],
      workload.nextBatch(workload.libraries[0], 10),
    );
    expect(ok.status).toBe(202);
  }, 300_000);
});

/*
 * Scenario 6b: the same variety produced straight to Kafka, between good ops of the same
 * partitions, to a real projector process. Every message that is not an op must land in the
 * dead-letter topic with its reason and provenance (D3), bytes unchanged; schema-invalid ops
 * are rejected and listed (D2); the good ops around them are applied exactly as the reference
 * model says, and the projector never stops.
 */
describe('scenario 6b: poison messages produced straight to Kafka', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  /** The test's topics, for afterAll. */
  let created: FaultTopics | undefined;
  let projector: ServiceProcess | undefined;
  let query: InProcessQuery | undefined;
  let producer: Producer | undefined;

  afterAll(async () => {
    await projector?.kill();
    await producer?.disconnect();
    await query?.close();
    await Promise.all([database?.drop(), created && deleteTopics(kafkaBrokers(), created)]);
  });

  it('every poison message in the dead-letter topic, rejections listed, good ops around them applied', async () => {
    const began = Date.now();
    const brokers = kafkaBrokers();
    database = await createTestDatabase('fault_poison');
    const topics = await createTopics(brokers, 'fault-poison', 3);
    created = topics;
    projector = await ServiceProcess.start('projector', {
      env: projectorEnv(brokers, topics, database.url),
    });
    const pid = projector.pid;
    producer = new Kafka({
      clientId: 'fault-poison',
      brokers,
      logLevel: logLevel.NOTHING,
    }).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const send = async (
      key: Buffer | string | null,
      value: Buffer | string | null,
      partition?: number,
    ) => {
      const [meta] = await producer!.send({
        topic: topics.operationsTopic,
        acks: -1,
        messages: [{ key, value, ...(partition === undefined ? {} : { partition }) }],
      });
      return { partition: meta.partition, offset: meta.baseOffset as string };
    };

    const sendOps = (library: string, ops: WireOp[]) =>
      producer!.send({
        topic: topics.operationsTopic,
        acks: -1,
        messages: ops.map((op) => ({ key: library, value: JSON.stringify(op) })),
      });

    // Good ops of six libraries, with poison messages between them on the same partitions.
    const workload = new FaultWorkload({ seed: 66, libraries: 6, recordsPerLibrary: 40 });
    const random = prng(67);
    const good = new Map<string, WireOp[]>(workload.libraries.map((l) => [l, []]));
    const poisons: (PoisonMessage & { partition: number; offset: string })[] = [];
    const queue = workload.libraries.flatMap((library) =>
      poisonMessages(600 + poisons.length + library.charCodeAt(0), library).map((p) => ({
        p,
        library,
      })),
    );
    // Rejected, not dead-lettered: valid shape, but the schema or the merge rules refuse them.
    const rejectsLibrary = libraryOnPartition(
      random,
      partitionForLibrary(workload.libraries[0], topics.partitions),
      topics.partitions,
    );
    const rejects = schemaInvalidOps(random);
    let deepAt = '';
    for (let round = 0; round < 20; round++) {
      for (const library of workload.libraries) {
        const ops = workload.nextBatch(library, 15);
        await sendOps(library, ops);
        good.get(library)!.push(...ops);
        const take = queue.splice(0, 1 + Math.floor(random() * 2));
        for (const { p, library: owner } of take) {
          const at = await send(p.key, p.value, partitionForLibrary(owner, topics.partitions));
          poisons.push({ ...p, ...at });
        }
      }
      if (round < rejects.texts.length) {
        const at = await send(rejectsLibrary, rejects.texts[round]);
        if (round === rejects.texts.length - 1) deepAt = `${at.partition}/${at.offset}`;
      }
    }
    for (const { p, library: owner } of queue) {
      poisons.push({
        ...p,
        ...(await send(p.key, p.value, partitionForLibrary(owner, topics.partitions))),
      });
    }
    // A last good op on every partition, after all the poison.
    for (const library of workload.libraries) {
      const ops = workload.nextBatch(library, 5);
      await sendOps(library, ops);
      good.get(library)!.push(...ops);
    }

    query = await startQuery(database.url, topics, brokers);
    const report = await verifyPipeline({
      scenario: 'poison messages',
      databaseUrl: database.url,
      brokers,
      topics,
      ledger: new Ledger(),
      extraLog: good,
      queryUrl: query.url,
      deadLetters: 'skip',
      ignoreLibraries: new Set([rejectsLibrary]),
    });

    // Dead letters: exactly the poison messages, each with its reason, provenance and bytes.
    const letters = await readTopic(brokers, topics.deadLetterTopic);
    const byOrigin = new Map(
      letters.map((m) => [`${m.headers['original-partition']}/${m.headers['original-offset']}`, m]),
    );
    const wrong: string[] = [];
    for (const poison of poisons) {
      const letter = byOrigin.get(`${poison.partition}/${poison.offset}`);
      if (letter === undefined) {
        wrong.push(`${poison.label}: not in the dead-letter topic`);
        continue;
      }
      byOrigin.delete(`${poison.partition}/${poison.offset}`);
      if (!poison.reasons.includes(letter.headers.reason))
        wrong.push(
          `${poison.label}: reason ${letter.headers.reason}, expected ${poison.reasons.join(' or ')}`,
        );
      if (letter.headers['original-topic'] !== topics.operationsTopic)
        wrong.push(`${poison.label}: original-topic ${letter.headers['original-topic']}`);
      if (!sameBytes(letter.value, poison.value))
        wrong.push(`${poison.label}: value changed in the dead-letter topic`);
      if (poison.key !== null && poison.key.length > 0 && !sameBytes(letter.key, poison.key))
        wrong.push(`${poison.label}: key changed`);
    }
    // The deeply nested value may go either way (see schemaInvalidOps); nothing else may.
    const deepDeadLettered = byOrigin.delete(deepAt);
    for (const extra of byOrigin.values()) {
      wrong.push(
        `unexpected dead letter ${extra.headers.reason} at ${extra.headers['original-partition']}/${extra.headers['original-offset']}`,
      );
    }

    // Rejections of the schema-invalid ops are stored and listed with their reasons.
    const listed = (await listAll(query.url, `/libraries/${rejectsLibrary}/rejected`)) as {
      reason: string;
    }[];
    const reasons = listed.map((r) => r.reason).sort();
    const expectedReasons = [
      ...rejects.reasons,
      ...(deepDeadLettered ? [] : ['INVALID_VALUE']),
    ].sort();

    reportResult({
      scenario: '6b poison to Kafka',
      scale: 'any',
      load: `${report.acknowledged} good ops / 6 libraries, ${poisons.length} poison messages, ${rejects.texts.length} schema-invalid ops`,
      faults:
        'bad/missing keys, bad JSON, non-ops, huge strings, deep nesting, NUL/surrogates, invalid UTF-8',
      counts: report,
      seconds: (Date.now() - began) / 1000,
      extra: {
        deadLetters: letters.length,
        poison: poisons.length,
        wrongDeadLetters: wrong.length,
        rejected: reasons,
      },
    });
    expectClean(report);
    expect(wrong).toEqual([]);
    expect(reasons).toEqual(expectedReasons);
    expect(projector.running).toBe(true);
    expect(projector.pid).toBe(pid);
  }, 300_000);
});

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return (a?.length ?? 0) === (b?.length ?? 0);
  return a.equals(b);
}

/** A fresh library id whose key hashes to `partition`. */
function libraryOnPartition(random: () => number, partition: number, partitions: number): string {
  for (;;) {
    const id = randomUuid(random);
    if (partitionForLibrary(id, partitions) === partition) return id;
  }
}

/** Ops with a valid shape that the schema or the merge rules reject, in log order. */
function schemaInvalidOps(random: () => number) {
  const a = randomUuid(random);
  const b = randomUuid(random);
  // One clock reading for all: the last op repeats the first one's identity (node, hybrid(1)),
  // which a millisecond passing between the two would break (no DUPLICATE_CONFLICT then).
  const start = Date.now() - 10_000;
  const hybrid = (i: number) => ({ hybrid: formatHybrid(hybridFromMillis(start + i)) });
  const tag = randomUuid(random);
  const location = randomUuid(random);
  const ops: WireOp[] = [
    {
      type: 'CREATE',
      recordId: tag,
      model: 'Tag',
      data: { name: 't' },
      node: a,
      timestamp: hybrid(1),
    },
    {
      type: 'CREATE',
      recordId: location,
      model: 'Location',
      data: { name: 'l' },
      node: a,
      timestamp: hybrid(2),
    },
    {
      type: 'CREATE',
      recordId: randomUuid(random),
      model: 'Photo',
      data: {},
      node: a,
      timestamp: hybrid(3),
    },
    {
      type: 'UPDATE',
      recordId: tag,
      model: 'Tag',
      field: 'path',
      value: '/x',
      node: a,
      timestamp: hybrid(4),
    },
    {
      type: 'UPDATE',
      recordId: tag,
      model: 'Tag',
      field: 'is_hidden',
      value: 'yes',
      node: a,
      timestamp: hybrid(5),
    },
    { type: 'DELETE', recordId: tag, model: 'Album', node: a, timestamp: hybrid(6) },
    {
      type: 'UPDATE',
      recordId: location,
      field: 'name',
      value: 'mine',
      node: b,
      timestamp: hybrid(7),
    },
    {
      type: 'CREATE',
      recordId: tag,
      model: 'Tag',
      data: { name: 'other content' },
      node: a,
      timestamp: hybrid(1),
    },
  ];
  const texts = ops.map((op) => JSON.stringify(op));
  // A value nested 100,000 deep where a string belongs: rejected (INVALID_VALUE) or
  // dead-lettered, but it must not block the partition. (Built as text: JSON.stringify of it
  // would overflow the stack.)
  const deep = { ...ops[3], field: 'color', value: 0, timestamp: hybrid(9) };
  texts.push(
    JSON.stringify(deep).replace(
      '"value":0',
      `"value":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`,
    ),
  );
  return {
    texts,
    reasons: [
      'UNKNOWN_MODEL',
      'UNKNOWN_FIELD',
      'INVALID_VALUE',
      'MODEL_MISMATCH',
      'NOT_OWNER',
      'DUPLICATE_CONFLICT',
    ],
  };
}
