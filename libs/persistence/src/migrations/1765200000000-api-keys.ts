import type { MigrationInterface, QueryRunner } from 'typeorm';

/** API keys: only a SHA-256 of each secret is stored; revoked keys stay for the audit trail. */
export class ApiKeys1765200000000 implements MigrationInterface {
  name = 'ApiKeys1765200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE api_keys (
        key_id      text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
        secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
        library_id  uuid,
        roles       text[] NOT NULL CHECK (roles <@ ARRAY['read', 'write', 'admin']::text[]),
        node        uuid,
        label       text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        revoked_at  timestamptz,
        CHECK (NOT ('admin' = ANY (roles)) OR library_id IS NULL)
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE api_keys`);
  }
}
