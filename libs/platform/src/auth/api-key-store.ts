import type { ApiKeyRole } from './api-key-token';

/** A stored key, as the guard and the admin routes see it; the secret itself is never stored. */
export interface ApiKeyRecord {
  keyId: string;
  secretHash: Buffer;
  /** null: every library. */
  libraryId: string | null;
  roles: ApiKeyRole[];
  /** When set, every op written with this key must carry this node id. */
  node: string | null;
  label: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export type NewApiKey = Pick<
  ApiKeyRecord,
  'keyId' | 'secretHash' | 'libraryId' | 'roles' | 'node' | 'label'
>;

/** Where keys live (Postgres in the services: `ApiKeysRepository` in @sync/persistence). */
export interface ApiKeyStore {
  find(keyId: string): Promise<ApiKeyRecord | undefined>;
  create(key: NewApiKey): Promise<ApiKeyRecord>;
  list(): Promise<ApiKeyRecord[]>;
  /** True when the key existed and was not revoked yet. */
  revoke(keyId: string): Promise<boolean>;
  close(): Promise<void>;
}

export const API_KEY_STORE = Symbol('API_KEY_STORE');
