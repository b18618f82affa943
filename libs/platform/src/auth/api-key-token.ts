import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a key may do: `write` = ingest, `read` = query, `admin` = manage keys (needs an all-libraries key). */
export const API_KEY_ROLES = ['read', 'write', 'admin'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

const TOKEN_PATTERN = /^sk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface ParsedToken {
  keyId: string;
  secret: string;
}

/**
 * A new key: `sk_<keyId>_<secret>`. The key id is public (it names the key in lists and logs);
 * the secret is 32 random bytes, base64url, and only its SHA-256 is stored.
 */
export function generateApiKey(): { keyId: string; token: string; secretHash: Buffer } {
  const keyId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { keyId, token: `sk_${keyId}_${secret}`, secretHash: hashSecret(secret) };
}

export function parseApiKey(token: string): ParsedToken | null {
  const match = TOKEN_PATTERN.exec(token);
  return match ? { keyId: match[1], secret: match[2] } : null;
}

/** A 256-bit random secret needs no slow hash: SHA-256 of it cannot be inverted or guessed. */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function secretMatches(secret: string, storedHash: Buffer): boolean {
  const actual = hashSecret(secret);
  return actual.length === storedHash.length && timingSafeEqual(actual, storedHash);
}

/** Key id of a token-shaped string, for messages that must never echo the secret. */
export function describeToken(token: string): string {
  const parsed = parseApiKey(token);
  return parsed ? `key ${parsed.keyId}` : 'a malformed key';
}
