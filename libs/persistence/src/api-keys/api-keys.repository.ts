import type { Pool } from 'pg';
import { createPgPool } from '../projection/sql-client';

/** A stored key (the shape @sync/platform's ApiKeyStore expects). */
export interface StoredApiKey {
  keyId: string;
  secretHash: Buffer;
  libraryId: string | null;
  roles: ('read' | 'write' | 'admin')[];
  node: string | null;
  label: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

interface ApiKeyRow {
  key_id: string;
  secret_hash: Buffer;
  library_id: string | null;
  roles: string[];
  node: string | null;
  label: string | null;
  created_at: Date;
  revoked_at: Date | null;
}

const COLUMNS = 'key_id, secret_hash, library_id, roles, node, label, created_at, revoked_at';

function toKey(row: ApiKeyRow): StoredApiKey {
  return {
    keyId: row.key_id,
    secretHash: row.secret_hash,
    libraryId: row.library_id,
    roles: row.roles as StoredApiKey['roles'],
    node: row.node,
    label: row.label,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/** API keys in Postgres; parameterised SQL only. */
export class ApiKeysRepository {
  private readonly pool: Pool;

  constructor(url: string, poolSize = 2, applicationName = 'sync-api-keys') {
    this.pool = createPgPool({ url, poolSize, applicationName, onIdleError: () => undefined });
  }

  async find(keyId: string): Promise<StoredApiKey | undefined> {
    const { rows } = await this.pool.query<ApiKeyRow>(
      `SELECT ${COLUMNS} FROM api_keys WHERE key_id = $1`,
      [keyId],
    );
    return rows[0] === undefined ? undefined : toKey(rows[0]);
  }

  async create(key: Omit<StoredApiKey, 'createdAt' | 'revokedAt'>): Promise<StoredApiKey> {
    const { rows } = await this.pool.query<ApiKeyRow>(
      `INSERT INTO api_keys (key_id, secret_hash, library_id, roles, node, label)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [key.keyId, key.secretHash, key.libraryId, key.roles, key.node, key.label],
    );
    return toKey(rows[0]);
  }

  async list(): Promise<StoredApiKey[]> {
    const { rows } = await this.pool.query<ApiKeyRow>(
      `SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, key_id`,
    );
    return rows.map(toKey);
  }

  async revoke(keyId: string): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL`,
      [keyId],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
