import { ApiKeysRepository, DEFAULT_DATABASE_URL, migrateDatabase } from '@sync/persistence';
import { type ApiKeyRecord, checkApiKeyRequest, generateApiKey } from '@sync/platform';

export const KEYS_USAGE = `usage:
  keys create (--library <uuid> | --all) --role read[,write][,admin] [--node <uuid>] [--label <text>]
  keys list
  keys revoke <keyId>
Talks to the database in DATABASE_URL (default ${DEFAULT_DATABASE_URL}) directly, so it can
create the first admin key. The key is printed once, on stdout; only its hash is stored.`;

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

/** Runs the key CLI; returns the exit code. */
export async function runKeysCli(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: CliOutput,
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help') {
    io.out(KEYS_USAGE);
    return command === undefined ? 2 : 0;
  }
  const url = env.DATABASE_URL || DEFAULT_DATABASE_URL;
  let flags: Map<string, string | true>;
  let positional: string[];
  try {
    ({ flags, positional } = parseArgs(rest));
  } catch (error) {
    io.err(`${(error as Error).message}\n${KEYS_USAGE}`);
    return 2;
  }
  // The table may not exist yet on a fresh database; migrations are idempotent.
  await migrateDatabase(url);
  const store = new ApiKeysRepository(url, 1, 'sync-keys-cli');
  try {
    switch (command) {
      case 'create':
        return await create(store, flags, io);
      case 'list':
        for (const key of await store.list()) io.out(describe(key));
        return 0;
      case 'revoke': {
        const keyId = positional[0];
        if (keyId === undefined || !/^[0-9a-f]{16}$/.test(keyId)) {
          io.err('revoke needs a key id (16 hex digits, as shown by list)');
          return 2;
        }
        if (await store.revoke(keyId)) {
          io.out(`revoked key ${keyId}`);
          return 0;
        }
        const existing = await store.find(keyId);
        io.err(existing ? `key ${keyId} was already revoked` : `no key ${keyId}`);
        return existing ? 0 : 1;
      }
      default:
        io.err(`unknown command "${command}"\n${KEYS_USAGE}`);
        return 2;
    }
  } finally {
    await store.close();
  }
}

async function create(
  store: ApiKeysRepository,
  flags: Map<string, string | true>,
  io: CliOutput,
): Promise<number> {
  const library = flags.get('library');
  const all = flags.get('all') === true;
  if ((library === undefined) === !all) {
    io.err('create needs exactly one of --library <uuid> and --all');
    return 2;
  }
  const role = flags.get('role');
  const node = flags.get('node');
  const label = flags.get('label');
  const { request, issues } = await checkApiKeyRequest({
    libraryId: all ? null : library,
    roles: typeof role === 'string' ? role.split(',').map((r) => r.trim()) : [],
    ...(node === undefined ? {} : { node }),
    ...(label === undefined ? {} : { label }),
  });
  if (request === undefined) {
    for (const issue of issues) io.err(`${issue.path}: ${issue.message}`);
    return 2;
  }
  const { keyId, token, secretHash } = generateApiKey();
  const record = await store.create({ keyId, secretHash, ...request });
  io.err(`created ${describe(record)}`);
  io.err('the key below is shown only this once; store it now:');
  io.out(token);
  return 0;
}

function describe(key: ApiKeyRecord): string {
  return [
    key.keyId,
    `library=${key.libraryId ?? 'all'}`,
    `roles=${key.roles.join(',')}`,
    `node=${key.node ?? 'any'}`,
    `label=${JSON.stringify(key.label ?? '')}`,
    `created=${key.createdAt.toISOString()}`,
    key.revokedAt ? `revoked=${key.revokedAt.toISOString()}` : 'active',
  ].join('  ');
}

function parseArgs(args: string[]): { flags: Map<string, string | true>; positional: string[] } {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const name = arg.slice(2);
    if (!['library', 'all', 'role', 'node', 'label'].includes(name)) {
      throw new Error(`unknown option ${arg}`);
    }
    if (name === 'all') {
      flags.set(name, true);
      continue;
    }
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${arg} needs a value`);
    flags.set(name, value);
    i++;
  }
  return { flags, positional };
}
