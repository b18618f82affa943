import { isUtf8 } from 'node:buffer';
import {
  MAX_JSON_LIMITS,
  type Operation,
  checkJsonLimits,
  isStorableText,
  isUuid,
  validateOperation,
} from '@sync/protocol';

/** Why a Kafka message is not an op (contract D3); sent as the `reason` header of the dead letter. */
export type DeadLetterReason =
  | 'MISSING_KEY'
  | 'INVALID_KEY'
  | 'INVALID_JSON'
  | 'INVALID_OPERATION'
  /** A valid op the merge engine failed on (a bug): set aside so the partition moves on. */
  | 'UNPROCESSABLE';

export interface RawMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export type DecodedMessage =
  | {
      kind: 'op';
      offset: bigint;
      libraryId: string;
      op: Operation;
      key: Buffer | null;
      value: Buffer | null;
    }
  | {
      kind: 'dead';
      offset: bigint;
      reason: DeadLetterReason;
      detail: string;
      key: Buffer | null;
      value: Buffer | null;
    };

const MAX_DETAIL = 1000;

/**
 * Turns one message into an op of a library, or a dead letter. Only the wire shape is checked
 * here: schema problems (unknown model or field, bad value) are the merge engine's to turn into
 * stored rejections, since a valid-shaped op is part of the library's log (contract D2).
 */
export function decodeMessage(message: RawMessage): DecodedMessage {
  const offset = BigInt(message.offset);
  const dead = (reason: DeadLetterReason, detail: string): DecodedMessage => ({
    kind: 'dead',
    offset,
    reason,
    detail: detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL)}...` : detail,
    key: message.key,
    value: message.value,
  });

  if (message.key === null || message.key.length === 0) {
    return dead('MISSING_KEY', 'message has no key (the library id)');
  }
  const key = message.key.toString('utf8');
  // Partitioning hashes the key bytes: a differently cased id would put a library on two partitions.
  if (!isUuid(key) || key !== key.toLowerCase()) {
    return dead('INVALID_KEY', 'key must be the library id as a lowercase UUID');
  }
  if (message.value === null || message.value.length === 0) {
    return dead('INVALID_JSON', 'message has no value');
  }
  // Decoding would replace bad bytes with U+FFFD and silently change the op.
  if (!isUtf8(message.value)) return dead('INVALID_JSON', 'value is not valid UTF-8');
  const text = message.value.toString('utf8');
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    return dead('INVALID_JSON', error instanceof Error ? error.message : String(error));
  }
  // Validation, hashing and Postgres all recurse into values: a deep one would throw (or fail
  // in Postgres) on every retry and block the partition. The ingest's limits never exceed these.
  const beyondLimits = checkJsonLimits([input], MAX_JSON_LIMITS);
  if (beyondLimits.length > 0) {
    return dead(
      'INVALID_OPERATION',
      beyondLimits.map(({ path, message: text }) => (path ? `${path}: ${text}` : text)).join('; '),
    );
  }
  let result: ReturnType<typeof validateOperation>;
  try {
    result = validateOperation(input, null, { checkSchema: false });
  } catch (error) {
    return dead('INVALID_OPERATION', error instanceof Error ? error.message : String(error));
  }
  if (!result.ok) {
    const detail = result.errors
      .map(({ path, message: text }) => (path ? `${path}: ${text}` : text))
      .join('; ');
    return dead('INVALID_OPERATION', detail);
  }
  // Both can only come from \u escapes (decoding bytes never yields them), so most ops skip the walk.
  const unstorable = text.includes('\\u') ? findUnstorableString(result.op) : null;
  if (unstorable !== null) return dead('INVALID_OPERATION', unstorable);
  return {
    kind: 'op',
    offset,
    libraryId: key,
    op: result.op,
    key: message.key,
    value: message.value,
  };
}

/**
 * Postgres text and jsonb cannot hold U+0000 nor unpaired surrogates (JSON allows both as escapes).
 * Such an op could never be stored, so it would block its partition: it is not a valid op here.
 */
export function findUnstorableString(value: unknown, path = ''): string | null {
  if (typeof value === 'string') {
    // The protocol's own storability check (value-checks.ts); only the message is made here.
    if (isStorableText(value)) return null;
    return value.includes('\0')
      ? `${path || 'value'}: contains U+0000, which cannot be stored`
      : `${path || 'value'}: contains an unpaired surrogate`;
  }
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableString(value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    const found = findUnstorableString(key, `${at} (name)`) ?? findUnstorableString(item, at);
    if (found !== null) return found;
  }
  return null;
}
