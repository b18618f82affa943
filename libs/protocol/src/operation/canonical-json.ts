import { createHash } from 'node:crypto';
import { Operation } from './operation.types';

function canonicalize(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalize(obj[k])}`).join(',')}}`;
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
  return createHash('sha256').update(canonicalize(subject)).digest('hex');
}
