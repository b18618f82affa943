import { SyncError } from '../errors/sync-error';
import type { ApiKeyRecord, ApiKeyStore } from './api-key-store';
import { type ApiKeyRole, parseApiKey, secretMatches } from './api-key-token';

/** The caller behind a valid key. */
export interface Principal {
  keyId: string;
  libraryId: string | null;
  roles: readonly ApiKeyRole[];
  node: string | null;
}

const MAX_CACHED = 10_000;

export function unauthorized(message: string): SyncError {
  return new SyncError('UNAUTHORIZED', message, undefined, { 'WWW-Authenticate': 'Bearer' });
}

/**
 * Turns an Authorization header into a Principal. Lookups (hits and misses) are cached for
 * `ttlMs`, so a revocation made anywhere takes effect here within that time; changes made
 * through this instance take effect at once.
 */
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, { record: ApiKeyRecord | undefined; until: number }>();

  constructor(
    private readonly store: ApiKeyStore,
    private readonly ttlMs: number,
  ) {}

  async authenticate(header: string | undefined): Promise<Principal> {
    if (header === undefined || header === '') {
      throw unauthorized('missing API key: send Authorization: Bearer <key>');
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (match === null) throw unauthorized('Authorization header must be "Bearer <key>"');
    const parsed = parseApiKey(match[1]);
    if (parsed === null) throw unauthorized('invalid API key');
    const record = await this.lookup(parsed.keyId);
    if (record === undefined || !secretMatches(parsed.secret, record.secretHash)) {
      throw unauthorized('invalid API key');
    }
    if (record.revokedAt !== null) throw unauthorized('API key has been revoked');
    return {
      keyId: record.keyId,
      libraryId: record.libraryId,
      roles: record.roles,
      node: record.node,
    };
  }

  forget(keyId: string): void {
    this.cache.delete(keyId);
  }

  private async lookup(keyId: string): Promise<ApiKeyRecord | undefined> {
    const now = Date.now();
    const cached = this.cache.get(keyId);
    if (cached !== undefined && cached.until > now) return cached.record;
    let record: ApiKeyRecord | undefined;
    try {
      record = await this.store.find(keyId);
    } catch {
      throw new SyncError('NOT_READY', 'the key store is unavailable', undefined, {
        'Retry-After': '1',
      });
    }
    if (this.ttlMs > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(keyId, { record, until: now + this.ttlMs });
    }
    return record;
  }
}
