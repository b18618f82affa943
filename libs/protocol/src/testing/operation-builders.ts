/**
 * Terse builders for ops in specs (import from '@sync/protocol/testing'). `tick` is milliseconds
 * after BASE_MS; ops built here are already in normalised form (lowercase UUIDs).
 */
import { formatHybrid, hybridFromMillis } from '../hlc/ntp64';
import { JsonObject, JsonValue } from '../json';
import { LoggedOperation } from '../merge/merge.types';
import {
  Operation,
  RecordCreate,
  RecordDelete,
  RecordUpdate,
  RelationCreate,
  RelationDelete,
  RelationUpdate,
} from '../operation/operation.types';

export const BASE_MS = 1_700_000_000_000;

export const NODE_A = '0a000000-0000-4000-8000-00000000000a';
export const NODE_B = '0b000000-0000-4000-8000-00000000000b';
export const NODE_C = '0c000000-0000-4000-8000-00000000000c';

/** Deterministic record id number n (lowercase UUID). */
export function rid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** Hybrid wire string `tick` ms after BASE_MS, with a logical counter. */
export function hyb(tick: number, counter = 0): string {
  return formatHybrid(hybridFromMillis(BASE_MS + tick, counter));
}

export function createOp(
  recordId: string,
  model: string,
  data: JsonObject,
  node: string,
  tick: number,
): RecordCreate {
  return { type: 'CREATE', recordId, model, data, node, timestamp: { hybrid: hyb(tick) } };
}

export function updateOp(
  recordId: string,
  field: string,
  value: JsonValue,
  node: string,
  tick: number,
  model?: string,
): RecordUpdate {
  return {
    type: 'UPDATE',
    recordId,
    ...(model !== undefined ? { model } : {}),
    field,
    value,
    node,
    timestamp: { hybrid: hyb(tick) },
  };
}

export function deleteOp(
  recordId: string,
  node: string,
  tick: number,
  model?: string,
): RecordDelete {
  return {
    type: 'DELETE',
    recordId,
    ...(model !== undefined ? { model } : {}),
    node,
    timestamp: { hybrid: hyb(tick) },
  };
}

export function relCreateOp(
  relation: string,
  item: string,
  group: string,
  node: string,
  tick: number,
  data?: JsonObject,
): RelationCreate {
  return {
    type: 'CREATE',
    relationItem: item,
    relationGroup: group,
    relation,
    ...(data !== undefined ? { data } : {}),
    node,
    timestamp: { hybrid: hyb(tick) },
  };
}

export function relUpdateOp(
  relation: string,
  item: string,
  group: string,
  field: string,
  value: JsonValue,
  node: string,
  tick: number,
): RelationUpdate {
  return {
    type: 'UPDATE',
    relationItem: item,
    relationGroup: group,
    relation,
    field,
    value,
    node,
    timestamp: { hybrid: hyb(tick) },
  };
}

export function relDeleteOp(
  relation: string,
  item: string,
  group: string,
  node: string,
  tick: number,
): RelationDelete {
  return {
    type: 'DELETE',
    relationItem: item,
    relationGroup: group,
    relation,
    node,
    timestamp: { hybrid: hyb(tick) },
  };
}

/** Assigns consecutive offsets, starting at `first`, in array order (= log order). */
export function logged(ops: readonly Operation[], first = 0n): LoggedOperation[] {
  return ops.map((op, i) => ({ offset: first + BigInt(i), op }));
}

/** Deterministic text of any value holding Maps and bigints (e.g. a LibrarySlice), for equality checks. */
export function snapshot(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v instanceof Map) return { __map: [...v.entries()] };
    return v;
  });
}
