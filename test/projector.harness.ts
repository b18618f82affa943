import { randomUUID } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Kafka, type Producer, type RecordMetadata, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import { readProjectorConfig, type ProjectorConfig } from '../apps/projector/src/projector.config';
import { createProjectorApp } from '../apps/projector/src/projector.app';
import {
  type JsonObject,
  type JsonValue,
  type Operation,
  type Schema,
  defaultSchema,
  hybridFromMillis,
} from '@sync/protocol';
import { type TestTopics, eventually, kafkaBrokers } from './support/test-env';

/*
 * Helpers shared by the projector e2e tests: op builders, a producer, a projector started
 * in-process on the test's own database/topics/group, and read helpers over the tables.
 */

export const schema: Schema = defaultSchema();

/** A projector config pointed at the test's database and topics (env defaults otherwise). */
export function projectorConfig(
  databaseUrl: string,
  topics: TestTopics,
  overrides: Partial<ProjectorConfig> = {},
): ProjectorConfig {
  const config = readProjectorConfig({
    KAFKA_BROKERS: kafkaBrokers().join(','),
    SYNC_TOPIC: topics.operationsTopic,
    SYNC_DLQ_TOPIC: topics.deadLetterTopic,
    PROJECTOR_GROUP: topics.consumerGroup,
    DATABASE_URL: databaseUrl,
    PROJECTOR_PORT: '0',
    PROJECTOR_HOST: '127.0.0.1',
    PROJECTOR_RETRY_INITIAL_MS: '200',
    PROJECTOR_RETRY_MAX_MS: '2000',
    PROJECTOR_SESSION_TIMEOUT_MS: '10000',
  });
  return { ...config, ...overrides };
}

export interface RunningProjector {
  app: NestExpressApplication;
  config: ProjectorConfig;
  stop(): Promise<void>;
}

export async function startProjector(
  databaseUrl: string,
  topics: TestTopics,
  overrides: Partial<ProjectorConfig> = {},
): Promise<RunningProjector> {
  const config = projectorConfig(databaseUrl, topics, overrides);
  const app = await createProjectorApp(config);
  app.useLogger(['error', 'warn']);
  await app.init();
  let stopped = false;
  return {
    app,
    config,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await app.close();
    },
  };
}

export function testKafka(clientId = 'projector-test'): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
}

export interface RawMessage {
  key: string | Buffer | null;
  value: string | Buffer | null;
  partition?: number;
}

/** Sends messages in order (one request per call, so they keep their order per partition). */
export async function produce(
  producer: Producer,
  topic: string,
  messages: readonly RawMessage[],
): Promise<void> {
  for (let i = 0; i < messages.length; i += 2000) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 2000) });
  }
}

/** Messages for ops of one library, keyed by the library id. */
export function opMessages(libraryId: string, ops: readonly Operation[]): RawMessage[] {
  return ops.map((op) => ({ key: libraryId, value: JSON.stringify(op) }));
}

/** Deterministic hybrids: each call returns a greater value. */
export class TestClock {
  private next: bigint;
  constructor(startMs = 1_764_000_000_000) {
    this.next = hybridFromMillis(startMs);
  }
  tick(): string {
    this.next += 16n;
    return this.next.toString(10);
  }
}

export const nodes = {
  a: '0a0a0a0a-0000-4000-8000-00000000000a',
  b: '0b0b0b0b-0000-4000-8000-00000000000b',
  c: '0c0c0c0c-0000-4000-8000-00000000000c',
};

export const op = {
  create(
    node: string,
    hybrid: string,
    recordId: string,
    model: string,
    data: JsonObject,
  ): Operation {
    return { type: 'CREATE', recordId, model, data, node, timestamp: { hybrid } };
  },
  update(
    node: string,
    hybrid: string,
    recordId: string,
    field: string,
    value: JsonValue,
    model?: string,
  ): Operation {
    return {
      type: 'UPDATE',
      recordId,
      ...(model === undefined ? {} : { model }),
      field,
      value,
      node,
      timestamp: { hybrid },
    };
  },
  delete(node: string, hybrid: string, recordId: string, model?: string): Operation {
    return {
      type: 'DELETE',
      recordId,
      ...(model === undefined ? {} : { model }),
      node,
      timestamp: { hybrid },
    };
  },
  relate(
    node: string,
    hybrid: string,
    relation: string,
    item: string,
    group: string,
    data?: JsonObject,
  ): Operation {
    return {
      type: 'CREATE',
      relationItem: item,
      relationGroup: group,
      relation,
      ...(data === undefined ? {} : { data }),
      node,
      timestamp: { hybrid },
    };
  },
  relationUpdate(
    node: string,
    hybrid: string,
    relation: string,
    item: string,
    group: string,
    field: string,
    value: JsonValue,
  ): Operation {
    return {
      type: 'UPDATE',
      relationItem: item,
      relationGroup: group,
      relation,
      field,
      value,
      node,
      timestamp: { hybrid },
    };
  },
  unrelate(node: string, hybrid: string, relation: string, item: string, group: string): Operation {
    return {
      type: 'DELETE',
      relationItem: item,
      relationGroup: group,
      relation,
      node,
      timestamp: { hybrid },
    };
  },
};

export const uuid = (): string => randomUUID();

/** Read access to one test database. */
export class Tables {
  readonly pool: Pool;

  constructor(url: string) {
    this.pool = new Pool({ connectionString: url, max: 3 });
    // Tests that take the database away terminate these connections too.
    this.pool.on('error', () => undefined);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async query<T extends object>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }

  /** next_offset per partition of `topic`. */
  async positions(topic: string): Promise<Map<number, bigint>> {
    const rows = await this.query<{ partition: number; next_offset: string }>(
      'SELECT partition, next_offset FROM partition_offsets WHERE topic = $1',
      [topic],
    );
    return new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]));
  }

  /** Visible records (R1) of a library as the query service shows them, ordered by id. */
  async visibleRecords(libraryId: string): Promise<{ id: string; model: string; data: unknown }[]> {
    return this.query(
      `SELECT record_id AS id, model, data FROM records
        WHERE library_id = $1 AND NOT deleted ORDER BY record_id`,
      [libraryId],
    );
  }

  /** Visible relations (L3) of a library, ordered by relation, item, group. */
  async visibleRelations(
    libraryId: string,
  ): Promise<{ relation: string; item: string; group: string; data: unknown }[]> {
    const declared = schema.relations
      .map((r) => `('${r.name}', '${r.item}', '${r.group}')`)
      .join(', ');
    return this.query(
      `SELECT r.relation, r.item_id AS item, r.group_id AS group, r.data
         FROM relations r
         JOIN records i ON i.library_id = r.library_id AND i.record_id = r.item_id AND NOT i.deleted
         JOIN records g ON g.library_id = r.library_id AND g.record_id = r.group_id AND NOT g.deleted
        WHERE r.library_id = $1 AND r.present AND (r.relation, i.model, g.model) IN (${declared})
        ORDER BY r.relation, r.item_id, r.group_id`,
      [libraryId],
    );
  }

  /** The op log (feed) of a library in log order. */
  async feed(libraryId: string): Promise<{ offset: string; operation: Operation }[]> {
    return this.query(
      `SELECT log_offset AS offset, operation FROM operations WHERE library_id = $1 ORDER BY log_offset`,
      [libraryId],
    );
  }

  async rejected(
    libraryId: string,
  ): Promise<{ offset: string; operation: Operation; reason: string }[]> {
    return this.query(
      `SELECT log_offset AS offset, operation, reason FROM rejected_operations
        WHERE library_id = $1 ORDER BY log_offset`,
      [libraryId],
    );
  }

  async pending(libraryId: string): Promise<{ offset: string; record_id: string }[]> {
    return this.query(
      `SELECT log_offset AS offset, record_id FROM pending_operations
        WHERE library_id = $1 ORDER BY log_offset`,
      [libraryId],
    );
  }

  async library(libraryId: string): Promise<
    | {
        partition: number;
        operations: string;
        rejected: string;
        first_offset: string;
        last_offset: string;
      }
    | undefined
  > {
    const rows = await this.query<{
      partition: number;
      operations: string;
      rejected: string;
      first_offset: string;
      last_offset: string;
    }>(
      `SELECT partition, operations, rejected, first_offset, last_offset FROM libraries
        WHERE library_id = $1`,
      [libraryId],
    );
    return rows[0];
  }

  /**
   * Everything the projector derived for a set of libraries, with log positions removed: equal
   * snapshots mean the same materialized state, feed contents, rejections and pending ops.
   */
  async libraryState(libraryId: string): Promise<unknown> {
    const [records, relations, allRecords, allRelations, feed, rejected, pending, library] =
      await Promise.all([
        this.visibleRecords(libraryId),
        this.visibleRelations(libraryId),
        this.query(
          `SELECT record_id, model, owner, deleted, data, clocks FROM records
            WHERE library_id = $1 ORDER BY record_id`,
          [libraryId],
        ),
        this.query(
          `SELECT relation, item_id, group_id, present, presence_clock, data, clocks FROM relations
            WHERE library_id = $1 ORDER BY relation, item_id, group_id`,
          [libraryId],
        ),
        this.query<{ operation: Operation }>(
          `SELECT operation FROM operations WHERE library_id = $1 ORDER BY node, hybrid`,
          [libraryId],
        ),
        this.query(
          `SELECT operation, reason FROM rejected_operations WHERE library_id = $1
            ORDER BY operation->>'node', (operation->'timestamp'->>'hybrid')::numeric, reason`,
          [libraryId],
        ),
        this.query(
          `SELECT operation FROM pending_operations WHERE library_id = $1
            ORDER BY operation->>'node', (operation->'timestamp'->>'hybrid')::numeric`,
          [libraryId],
        ),
        this.query(`SELECT operations, rejected FROM libraries WHERE library_id = $1`, [libraryId]),
      ]);
    return { records, relations, allRecords, allRelations, feed, rejected, pending, library };
  }
}

/** High watermark per partition of a topic. */
export async function highWatermarks(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until the transaction that `sent` belongs to is settled on every partition it wrote.
 * `commit()` returns once the coordinator has decided; the markers reach the partitions a little
 * later, and until then the stable offset (what a read_committed reader, and `highWatermarks`,
 * sees) stays at the transaction's first record.
 */
export async function waitForTransactionMarkers(
  kafka: Kafka,
  topic: string,
  sent: readonly RecordMetadata[],
): Promise<void> {
  const firsts = sent.map((s) => {
    if (s.baseOffset === undefined) throw new Error(`no base offset for partition ${s.partition}`);
    return { partition: s.partition, offset: BigInt(s.baseOffset) };
  });
  await eventually(async () => {
    const stable = await highWatermarks(kafka, topic);
    const settled = firsts.every((f) => (stable.get(f.partition) ?? 0n) > f.offset);
    return settled ? true : undefined;
  });
}

/** Waits until every partition of `topic` is applied through its current high watermark. */
export async function waitForCatchUp(
  kafka: Kafka,
  tables: Tables,
  topic: string,
  timeoutMs = 60000,
): Promise<void> {
  const high = await highWatermarks(kafka, topic);
  await eventually(async () => {
    const positions = await tables.positions(topic);
    for (const [partition, end] of high) {
      if (end === 0n) continue;
      if ((positions.get(partition) ?? 0n) < end) return undefined;
    }
    return true;
  }, timeoutMs);
}

/** Deterministic PRNG (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export interface WorkloadOptions {
  records: number;
  ops: number;
  /** Share of ops that are sure to be rejected (non-owner writes, wrong model, unknown field). */
  rejectShare?: number;
  /** Share of ops that are exact re-sends of an earlier op. */
  duplicateShare?: number;
}

const SAMPLE_VALUES: Record<string, (random: () => number, pick: () => string) => JsonValue> = {
  string: (random) => `s${Math.floor(random() * 1000)}`,
  int: (random) => Math.floor(random() * 1_000_000),
  float: (random) => Math.round(random() * 1e6) / 100,
  bool: (random) => random() < 0.5,
  datetime: (random) => new Date(1_700_000_000_000 + Math.floor(random() * 1e10)).toISOString(),
  json: (random) => ({ n: Math.floor(random() * 10) }),
  ref: (_random, pick) => pick(),
};

/**
 * A random multi-node workload over the default schema: creates, updates and deletes of shared
 * and owned records (including ops sent before their CREATE), relation adds/removes/updates, LWW
 * ties across nodes, exact duplicates, and ops that are rejected whatever the order. Which ops are
 * accepted does not depend on their order (each record is only ever created with one model, owned
 * records only by their owner), so every order of it must converge to the same state.
 */
export function randomWorkload(seed: number, options: WorkloadOptions): Operation[] {
  const random = seededRandom(seed);
  const pickOf = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const nodeIds = Object.values(nodes);
  const clock = new TestClock(1_764_000_000_000 + seed);
  const used = new Set<string>();
  let lastHybrid = clock.tick();
  const stamp = (node: string): string => {
    // Now and then reuse the last hybrid on another node: a tie broken by node id.
    const hybrid =
      random() < 0.15 && !used.has(`${node}@${lastHybrid}`) ? lastHybrid : clock.tick();
    used.add(`${node}@${hybrid}`);
    lastHybrid = hybrid;
    return hybrid;
  };

  const models = schema.models;
  const records = Array.from({ length: options.records }, () => {
    const model = pickOf(models);
    return { id: uuid(), model, owner: pickOf(nodeIds) };
  });
  const ofModel = (name: string) => records.filter((r) => r.model.name === name);
  const refTarget = (field: { model?: string }) => () => {
    const candidates = field.model ? ofModel(field.model) : [];
    return candidates.length ? pickOf(candidates).id : uuid();
  };
  const valueFor = (
    model: { fields: Record<string, { type: string; model?: string }> },
    name: string,
  ) => SAMPLE_VALUES[model.fields[name].type](random, refTarget(model.fields[name]));

  const ops: Operation[] = [];
  const rejectShare = options.rejectShare ?? 0.05;
  const duplicateShare = options.duplicateShare ?? 0.03;
  while (ops.length < options.ops) {
    const roll = random();
    if (ops.length > 0 && roll < duplicateShare) {
      ops.push(structuredClone(pickOf(ops)));
      continue;
    }
    const record = pickOf(records);
    const owned = record.model.kind === 'owned';
    const writer = owned ? record.owner : pickOf(nodeIds);
    const fieldNames = record.model.fieldNames;
    if (roll < duplicateShare + rejectShare) {
      const other = pickOf(models.filter((m) => m.name !== record.model.name));
      const intruder = nodeIds.find((n) => n !== record.owner) as string;
      const choice = random();
      if (owned && choice < 0.4) {
        const field = pickOf(fieldNames);
        ops.push(
          op.update(intruder, stamp(intruder), record.id, field, valueFor(record.model, field)),
        );
      } else if (choice < 0.7) {
        // A field the record's model lacks (and no model-less ambiguity: the model is named).
        const field = other.fieldNames.find((f) => !fieldNames.includes(f));
        if (field === undefined) continue;
        ops.push(
          op.update(
            writer,
            stamp(writer),
            record.id,
            field,
            valueFor(other, field),
            record.model.name,
          ),
        );
      } else {
        ops.push(op.delete(writer, stamp(writer), record.id, other.name));
      }
      continue;
    }
    const kind = random();
    if (kind < 0.25) {
      const data: JsonObject = {};
      for (const field of fieldNames)
        if (random() < 0.5) data[field] = valueFor(record.model, field);
      ops.push(op.create(writer, stamp(writer), record.id, record.model.name, data));
    } else if (kind < 0.65) {
      const field = pickOf(fieldNames);
      const named = random() < 0.5 ? record.model.name : undefined;
      ops.push(
        op.update(writer, stamp(writer), record.id, field, valueFor(record.model, field), named),
      );
    } else if (kind < 0.7) {
      ops.push(op.delete(writer, stamp(writer), record.id));
    } else {
      const relation = pickOf(schema.relations);
      const items = ofModel(relation.item);
      // Mostly the declared group model; sometimes another model (never visible).
      const groups = random() < 0.9 ? ofModel(relation.group) : records;
      if (items.length === 0 || groups.length === 0) continue;
      const item = pickOf(items).id;
      const group = pickOf(groups).id;
      const node = pickOf(nodeIds);
      const r = random();
      if (r < 0.5) {
        const data =
          random() < 0.5 ? { date_created: valueFor(relation, 'date_created') } : undefined;
        ops.push(op.relate(node, stamp(node), relation.name, item, group, data));
      } else if (r < 0.75) {
        ops.push(op.unrelate(node, stamp(node), relation.name, item, group));
      } else {
        ops.push(
          op.relationUpdate(
            node,
            stamp(node),
            relation.name,
            item,
            group,
            'date_created',
            valueFor(relation, 'date_created'),
          ),
        );
      }
    }
  }
  return ops;
}
