import { DEFAULT_DATABASE_URL } from './data-source';
import { migrateDatabase, redactUrl } from './database-admin';

/** CLI: `node dist/libs/persistence/src/migrate.js` creates the database and runs migrations. */
async function main(): Promise<void> {
  const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const applied = await migrateDatabase(url);
  const summary = applied.length ? applied.join(', ') : 'none pending';
  console.log(`migrations on ${redactUrl(url)}: ${summary}`);
}

main().catch((error: unknown) => {
  console.error(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
