import { startEmbeddedPostgres } from './embedded-postgres';

/**
 * Runs an embedded Postgres in the foreground until SIGINT/SIGTERM, for machines without
 * a server of their own. Prints `DATABASE_URL=...` once it accepts connections.
 */
async function main(): Promise<void> {
  const server = await startEmbeddedPostgres();
  console.log(`DATABASE_URL=${server.url.replace(/\/postgres$/, '/sync')}`);
  const stop = () => {
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(
    `embedded postgres failed: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
