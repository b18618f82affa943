import { normalizeUuid } from '@sync/protocol';

/**
 * Opaque keyset cursors: base64url of a small JSON array `[kind, ...key]` holding the last key
 * of the page. The kind keeps a cursor of one list from being replayed on another; decoding
 * checks every part, so a forged or truncated cursor is a 400, never a SQL error.
 */
export type CursorKind = 'lib' | 'rec' | 'rel' | 'op' | 'rej' | 'his';

function encode(kind: CursorKind, key: string[]): string {
  return Buffer.from(JSON.stringify([kind, ...key]), 'utf8').toString('base64url');
}

function decode(kind: CursorKind, cursor: string, parts: number): string[] | undefined {
  if (cursor.length === 0 || cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== parts + 1 || parsed[0] !== kind) return undefined;
  const key: unknown[] = parsed.slice(1);
  return key.every((part): part is string => typeof part === 'string') ? key : undefined;
}

// Schema names are plain identifiers (see the schema parser); nothing else can be a relation.
const RELATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const OFFSET = /^(0|[1-9]\d{0,18})$/;
const MAX_OFFSET = (1n << 63n) - 1n;

function uuidCursor(kind: CursorKind) {
  return {
    encode: (id: string): string => encode(kind, [id]),
    decode: (cursor: string): string | undefined => {
      const key = decode(kind, cursor, 1);
      return key ? (normalizeUuid(key[0]) ?? undefined) : undefined;
    },
  };
}

function offsetCursor(kind: CursorKind) {
  return {
    encode: (offset: string): string => encode(kind, [offset]),
    decode: (cursor: string): bigint | undefined => {
      const key = decode(kind, cursor, 1);
      if (!key || !OFFSET.test(key[0])) return undefined;
      const value = BigInt(key[0]);
      return value <= MAX_OFFSET ? value : undefined;
    },
  };
}

export interface RelationCursorKey {
  relation: string;
  item: string;
  group: string;
}

export const libraryCursor = uuidCursor('lib');
export const recordCursor = uuidCursor('rec');
export const operationCursor = offsetCursor('op');
export const rejectedCursor = offsetCursor('rej');
export const historyCursor = offsetCursor('his');

export const relationCursor = {
  encode: (key: RelationCursorKey): string => encode('rel', [key.relation, key.item, key.group]),
  decode: (cursor: string): RelationCursorKey | undefined => {
    const key = decode('rel', cursor, 3);
    if (!key) return undefined;
    const item = normalizeUuid(key[1]);
    const group = normalizeUuid(key[2]);
    if (item === null || group === null || !RELATION_NAME.test(key[0])) return undefined;
    return { relation: key[0], item, group };
  },
};
