import { v4 as uuidV4 } from 'uuid';
import { DEFAULT_SCHEMA_JSON, hybridFromMillis } from '@sync/protocol';
import { type WireOp, identityOf } from '../../support/reference-model';

/*
 * The fault scenarios' load: many libraries, several nodes each, every shape of op (record and
 * relation CREATE/UPDATE/DELETE), UPDATEs and DELETEs logged before their CREATE, records that
 * never get one (pending ops), equal hybrids on different nodes, clocks that disagree with the
 * log order, and exact re-sends of earlier ops (D1). Every op is valid and none can be rejected
 * whichever subset of them gets through (a record keeps one model; owned records are written by
 * their owner only), so the expected state is a function of what was acknowledged alone.
 */

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A version-4 lowercase UUID whose 32 hex digits are drawn from `random`, one per draw. */
export function randomUuid(random: () => number): string {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    bytes[i] = (Math.floor(random() * 16) << 4) | Math.floor(random() * 16);
  }
  // uuid sets the version and variant bits over the drawn ones.
  return uuidV4({ random: bytes });
}

type FieldSpec = string | { type: string; model?: string };
const typeOf = (spec: FieldSpec) => (typeof spec === 'string' ? spec : spec.type);

/** Share of records per model (Objects are the items of every relation). */
const MODEL_WEIGHTS: [string, number][] = [
  ['Tag', 0.14],
  ['Label', 0.1],
  ['Album', 0.1],
  ['Object', 0.36],
  ['Location', 0.1],
  ['FilePath', 0.2],
];

interface RecordPlan {
  id: string;
  model: string;
  owner: string;
  /** Never created: its ops stay pending (R3). */
  ghost: boolean;
  created: boolean;
}

interface LibraryPlan {
  id: string;
  nodes: string[];
  records: RecordPlan[];
  byModel: Map<string, RecordPlan[]>;
  ops: WireOp[];
  identities: Set<string>;
  lastHybrid: bigint;
}

export interface WorkloadOptions {
  seed: number;
  libraries: number;
  recordsPerLibrary: number;
  nodesPerLibrary?: number;
  /** Wall clock (ms) the hybrids are drawn around; default Date.now. */
  now?: () => number;
  /** Hybrids are drawn from [now - jitterMs, now]: clock order differs from log order. */
  jitterMs?: number;
  /** Share of exact re-sends of an earlier op of the library (default 0.03). */
  resendShare?: number;
}

export class FaultWorkload {
  readonly libraries: string[];
  private readonly plans = new Map<string, LibraryPlan>();
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly jitterMs: number;
  private readonly resendShare: number;

  constructor(private readonly options: WorkloadOptions) {
    this.random = prng(options.seed);
    this.now = options.now ?? Date.now;
    this.jitterMs = options.jitterMs ?? 20_000;
    this.resendShare = options.resendShare ?? 0.03;
    this.libraries = [];
    for (let l = 0; l < options.libraries; l++) {
      const plan = this.planLibrary();
      this.plans.set(plan.id, plan);
      this.libraries.push(plan.id);
    }
  }

  /** Every op generated for a library so far, in generation order (re-sends included). */
  generated(library: string): WireOp[] {
    return this.plan(library).ops;
  }

  get totalGenerated(): number {
    let total = 0;
    for (const plan of this.plans.values()) total += plan.ops.length;
    return total;
  }

  /** The next `size` ops of a library. */
  nextBatch(library: string, size: number): WireOp[] {
    const plan = this.plan(library);
    const batch: WireOp[] = [];
    while (batch.length < size) {
      const op = this.nextOp(plan);
      plan.ops.push(op);
      batch.push(op);
    }
    return batch;
  }

  private plan(library: string): LibraryPlan {
    const plan = this.plans.get(library);
    if (plan === undefined) throw new Error(`unknown library ${library}`);
    return plan;
  }

  private planLibrary(): LibraryPlan {
    const random = this.random;
    const nodes = Array.from({ length: this.options.nodesPerLibrary ?? 3 }, () =>
      randomUuid(random),
    );
    const records: RecordPlan[] = [];
    const byModel = new Map<string, RecordPlan[]>();
    for (let i = 0; i < this.options.recordsPerLibrary; i++) {
      let roll = random();
      let model = MODEL_WEIGHTS[MODEL_WEIGHTS.length - 1][0];
      for (const [name, weight] of MODEL_WEIGHTS) {
        if (roll < weight) {
          model = name;
          break;
        }
        roll -= weight;
      }
      const record: RecordPlan = {
        id: randomUuid(random),
        model,
        owner: nodes[Math.floor(random() * nodes.length)],
        ghost: random() < 0.04,
        created: false,
      };
      records.push(record);
      byModel.set(model, [...(byModel.get(model) ?? []), record]);
    }
    return {
      id: randomUuid(random),
      nodes,
      records,
      byModel,
      ops: [],
      identities: new Set(),
      lastHybrid: 0n,
    };
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  private stamp(plan: LibraryPlan, node: string): { hybrid: string } {
    // Sometimes the previous op's hybrid again, on another node: a tie broken by node id.
    if (plan.lastHybrid !== 0n && this.random() < 0.08) {
      const identity = `${node}@${plan.lastHybrid}`;
      if (!plan.identities.has(identity)) {
        plan.identities.add(identity);
        return { hybrid: plan.lastHybrid.toString() };
      }
    }
    for (;;) {
      const ms = this.now() - Math.floor(this.random() * this.jitterMs);
      const hybrid =
        hybridFromMillis(ms, Math.floor(this.random() * 16)) +
        BigInt(Math.floor(this.random() * 2 ** 20)) * 16n;
      const identity = `${node}@${hybrid}`;
      if (plan.identities.has(identity)) continue;
      plan.identities.add(identity);
      plan.lastHybrid = hybrid;
      return { hybrid: hybrid.toString() };
    }
  }

  private value(plan: LibraryPlan, spec: FieldSpec): unknown {
    const random = this.random;
    switch (typeOf(spec)) {
      case 'string':
        return random() < 0.05 ? null : `v${Math.floor(random() * 100000)}`;
      case 'int':
        return Math.floor(random() * 1_000_000_000);
      case 'float':
        return Math.round(random() * 1e6) / 100;
      case 'bool':
        return random() < 0.5;
      case 'datetime':
        return new Date(1_700_000_000_000 + Math.floor(random() * 1e10)).toISOString();
      case 'json':
        return { n: Math.floor(random() * 10), tags: ['a', 'b'] };
      case 'ref': {
        const target = plan.byModel.get((spec as { model: string }).model) ?? [];
        return target.length > 0 ? this.pick(target).id : null;
      }
      default:
        return null;
    }
  }

  private fieldsOf(model: string): Record<string, FieldSpec> {
    return DEFAULT_SCHEMA_JSON.models[model].fields;
  }

  private nextOp(plan: LibraryPlan): WireOp {
    const random = this.random;
    if (plan.ops.length > 10 && random() < this.resendShare) {
      // An exact re-send of a recent op (a client retrying): a duplicate, never an error.
      const recent = plan.ops.slice(-500);
      return structuredClone(this.pick(recent));
    }
    const roll = random();
    if (roll < 0.22) {
      const op = this.relationOp(plan);
      if (op !== undefined) return op;
    }
    const record = this.pick(plan.records);
    const writer = this.writer(plan, record);
    const fields = this.fieldsOf(record.model);
    const names = Object.keys(fields);
    if (!record.ghost && (!record.created ? random() < 0.75 : random() < 0.04)) {
      record.created = true;
      const data: Record<string, unknown> = {};
      for (const name of names) if (random() < 0.6) data[name] = this.value(plan, fields[name]);
      return {
        type: 'CREATE',
        recordId: record.id,
        model: record.model,
        data,
        node: writer,
        timestamp: this.stamp(plan, writer),
      };
    }
    if (random() < 0.02) {
      return {
        type: 'DELETE',
        recordId: record.id,
        ...(random() < 0.5 ? { model: record.model } : {}),
        node: writer,
        timestamp: this.stamp(plan, writer),
      };
    }
    const field = this.pick(names);
    return {
      type: 'UPDATE',
      recordId: record.id,
      ...(random() < 0.5 ? { model: record.model } : {}),
      field,
      value: this.value(plan, fields[field]),
      node: writer,
      timestamp: this.stamp(plan, writer),
    };
  }

  private writer(plan: LibraryPlan, record: RecordPlan): string {
    return DEFAULT_SCHEMA_JSON.models[record.model].kind === 'owned'
      ? record.owner
      : this.pick(plan.nodes);
  }

  private relationOp(plan: LibraryPlan): WireOp | undefined {
    const random = this.random;
    const relations = Object.entries(DEFAULT_SCHEMA_JSON.relations ?? {});
    const [relation, spec] = this.pick(relations);
    const items = plan.byModel.get(spec.item) ?? [];
    const groups = plan.byModel.get(spec.group) ?? [];
    const node = this.pick(plan.nodes);
    if (items.length === 0 || groups.length === 0) return undefined;
    // A small set of pairs per relation, so adds, removes and updates meet on the same keys.
    const item = items[Math.floor(random() * Math.min(items.length, 12))].id;
    const group = groups[Math.floor(random() * Math.min(groups.length, 6))].id;
    const keys = { relationItem: item, relationGroup: group, relation };
    const kind = random();
    if (kind < 0.55) {
      const data = random() < 0.5 ? { date_created: this.value(plan, 'datetime') } : undefined;
      return {
        type: 'CREATE',
        ...keys,
        ...(data ? { data } : {}),
        node,
        timestamp: this.stamp(plan, node),
      };
    }
    if (kind < 0.8) return { type: 'DELETE', ...keys, node, timestamp: this.stamp(plan, node) };
    return {
      type: 'UPDATE',
      ...keys,
      field: 'date_created',
      value: this.value(plan, 'datetime'),
      node,
      timestamp: this.stamp(plan, node),
    };
  }
}

/** Distinct identities among ops. */
export function distinctIdentities(ops: Iterable<WireOp>): Set<string> {
  const out = new Set<string>();
  for (const op of ops) out.add(identityOf(op));
  return out;
}
