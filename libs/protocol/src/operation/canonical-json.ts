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

/**
 * SHA-256 (hex) of the op's canonical JSON, used to tell duplicates from conflicts (D1).
 * A relation CREATE without `data` hashes like one with `data: {}`: they mean the same thing.
 */
export function contentHash(op: Operation): string {
  let subject: unknown = op;
  if ('relationItem' in op && op.type === 'CREATE' && op.data === undefined) {
    subject = { ...op, data: {} };
  }
  return sha256Hex(canonicalize(subject));
}
