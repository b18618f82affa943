import { sha256Hex } from '../hash/sha256';
import { Operation } from './operation.types';

/*
 * Every op is hashed once when it is applied (D1), so this is on the projector's hot path: one
 * string built by concatenation, no intermediate arrays. The text must never change: stored
 * content hashes are compared with hashes of ops that arrive later.
 */

/** `"key":` of the names ops use over and over (field and model names), bounded in size. */
const quotedKeys = new Map<string, string>();
function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = `${JSON.stringify(key)}:`;
    if (key.length <= 64 && quotedKeys.size < 4096) quotedKeys.set(key, quoted);
  }
  return quoted;
}

function canonicalize(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      // As in join: holes and unserializable items (JSON.stringify gives undefined) add nothing.
      const item = canonicalize(value[i]) as string | undefined;
      if (item !== undefined) out += item;
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length > 1) keys.sort();
  let out = '{';
  for (const key of keys) {
    const item = obj[key];
    if (item === undefined) continue;
    if (out.length > 1) out += ',';
    out += quotedKey(key) + canonicalize(item);
  }
  return `${out}}`;
}

/** JSON with object keys sorted at every level; equal ops give equal text. */
export function canonicalJson(value: unknown): string {
  return canonicalize(value);
}

/** Every key an op can have, in code-unit order: the order canonical JSON writes them in. */
const OPERATION_KEYS = [
  'data',
  'field',
  'model',
  'node',
  'recordId',
  'relation',
  'relationGroup',
  'relationItem',
  'timestamp',
  'type',
  'value',
] as const;
const QUOTED_OPERATION_KEYS = OPERATION_KEYS.map((key) => `${JSON.stringify(key)}:`);
const OPERATION_KEY_SLOTS = new Map<string, number>(OPERATION_KEYS.map((key, slot) => [key, slot]));

/**
 * canonicalJson(op), faster for the one object every message and content hash starts with: its
 * keys are known, so they are written in their fixed order instead of sorted per op. Anything
 * with another key takes the general path, so the text is canonicalJson's for any input.
 */
export function operationJson(op: Operation): string {
  const obj = op as unknown as Record<string, unknown>;
  const keys = Object.keys(obj);
  let present = 0;
  for (let i = 0; i < keys.length; i++) {
    const slot = OPERATION_KEY_SLOTS.get(keys[i]);
    if (slot === undefined) return canonicalize(obj);
    present |= 1 << slot;
  }
  let out = '{';
  for (let slot = 0; slot < OPERATION_KEYS.length; slot++) {
    if ((present & (1 << slot)) === 0) continue;
    const item = obj[OPERATION_KEYS[slot]];
    if (item === undefined) continue;
    if (out.length > 1) out += ',';
    out += QUOTED_OPERATION_KEYS[slot] + canonicalize(item);
  }
  return `${out}}`;
}

/**
 * SHA-256 (hex) of the op's canonical JSON, used to tell duplicates from conflicts (D1).
 * A relation CREATE without `data` hashes like one with `data: {}`: they mean the same thing.
 */
export function contentHash(op: Operation): string {
  let subject = op;
  if ('relationItem' in op && op.type === 'CREATE' && op.data === undefined) {
    subject = { ...op, data: {} };
  }
  return sha256Hex(operationJson(subject));
}
