import { randomUUID } from 'node:crypto';
import {
  type JsonObject,
  type JsonValue,
  type Operation,
  type Schema,
  hybridFromMillis,
} from '@sync/protocol';

/** Deterministic PRNG (mulberry32). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NODES = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];

function sampleValue(type: string, random: () => number, ref: () => string): JsonValue {
  switch (type) {
    case 'string':
      return `value-${Math.floor(random() * 1e6)}`;
    case 'int':
      return Math.floor(random() * 1e9);
    case 'float':
      return Math.round(random() * 1e6) / 100;
    case 'bool':
      return random() < 0.5;
    case 'datetime':
      return new Date(1_700_000_000_000 + Math.floor(random() * 1e10)).toISOString();
    case 'ref':
      return ref();
    default:
      return { n: Math.floor(random() * 100) };
  }
}

/**
 * One library's ops in log order, the mix of a busy library: ~15% record creates, ~55% field
 * updates, ~5% deletes, ~25% relation adds/removes/updates, a few ops before their CREATE, a few
 * exact re-sends and non-owner writes (rejected). Hybrids increase, as a node's would.
 */
export function libraryWorkload(
  schema: Schema,
  seed: number,
  opsCount: number,
  recordCount: number,
): Operation[] {
  const random = seeded(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  let hybrid = hybridFromMillis(1_764_000_000_000 + seed * 1000);
  const tick = (): string => (hybrid += 16n).toString(10);
  const models = schema.models;
  const records = Array.from({ length: recordCount }, () => ({
    id: randomUUID(),
    model: pick(models),
    owner: pick(NODES),
    created: false,
  }));
  const byModel = new Map<string, string[]>();
  for (const r of records) byModel.set(r.model.name, [...(byModel.get(r.model.name) ?? []), r.id]);
  const refOf = (model?: string) => () => pick(byModel.get(model ?? '') ?? [randomUUID()]);

  const ops: Operation[] = [];
  while (ops.length < opsCount) {
    const roll = random();
    if (roll < 0.01 && ops.length > 0) {
      ops.push(pick(ops)); // exact re-send
      continue;
    }
    const record = pick(records);
    const owned = record.model.kind === 'owned';
    const node = owned ? (roll < 0.02 ? pick(NODES) : record.owner) : pick(NODES);
    const timestamp = { hybrid: tick() };
    if (!record.created && roll < 0.9) {
      record.created = true;
      const data: JsonObject = {};
      for (const name of record.model.fieldNames) {
        if (random() < 0.6) {
          const def = record.model.fields[name];
          data[name] = sampleValue(def.type, random, refOf(def.model));
        }
      }
      ops.push({
        type: 'CREATE',
        recordId: record.id,
        model: record.model.name,
        data,
        node: record.owner,
        timestamp,
      });
    } else if (roll < 0.7) {
      const field = pick(record.model.fieldNames);
      const def = record.model.fields[field];
      ops.push({
        type: 'UPDATE',
        recordId: record.id,
        field,
        value: sampleValue(def.type, random, refOf(def.model)),
        node,
        timestamp,
      });
    } else if (roll < 0.75) {
      ops.push({ type: 'DELETE', recordId: record.id, node, timestamp });
    } else {
      const relation = pick(schema.relations);
      const item = refOf(relation.item)();
      const group = refOf(relation.group)();
      const r = random();
      const keys = { relationItem: item, relationGroup: group, relation: relation.name };
      if (r < 0.6) {
        ops.push({
          type: 'CREATE',
          ...keys,
          data: { date_created: sampleValue('datetime', random, refOf()) },
          node,
          timestamp,
        });
      } else if (r < 0.8) {
        ops.push({ type: 'DELETE', ...keys, node, timestamp });
      } else {
        ops.push({
          type: 'UPDATE',
          ...keys,
          field: 'date_created',
          value: sampleValue('datetime', random, refOf()),
          node,
          timestamp,
        });
      }
    }
  }
  return ops;
}
