import { parseArgs } from 'node:util';
import { type Io, processIo } from './cli-args';
import { CliError, SyncHttp, UsageError } from './cli-http';
import { COMPACT_OPTIONS, COMPACT_USAGE, compact } from './compact.command';
import { DIGEST_OPTIONS, DIGEST_USAGE, digest } from './digest.command';
import { HISTORY_USAGE, history } from './history.command';
import { PRODUCE_OPTIONS, PRODUCE_USAGE, produce } from './produce.command';
import { REBUILD_USAGE, rebuildCommand } from './rebuild.command';
import { REPARTITION_OPTIONS, REPARTITION_USAGE, repartition } from './repartition.command';
import { SEED_DEMO_OPTIONS, SEED_DEMO_USAGE, seedDemo } from './seed-demo.command';
import { STATUS_OPTIONS, STATUS_USAGE, status } from './status.command';
import { TAIL_OPTIONS, TAIL_USAGE, tail } from './tail.command';

const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
${PRODUCE_USAGE}
${TAIL_USAGE}
${STATUS_USAGE}
${SEED_DEMO_USAGE}
${REBUILD_USAGE}
${COMPACT_USAGE}
${REPARTITION_USAGE}
${HISTORY_USAGE}
${DIGEST_USAGE}

Options (every command):
  --ingest-url <url>   default $SYNC_INGEST_URL or http://127.0.0.1:3001
  --query-url <url>    default $SYNC_QUERY_URL or http://127.0.0.1:3002
  --api-key <key>      default $SYNC_API_KEY (sent as Authorization: Bearer)
  -h, --help

Exit codes: 0 ok, 1 failure, 2 usage error.`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'ingest-url': { type: 'string' },
  'query-url': { type: 'string' },
  'api-key': { type: 'string' },
  ...PRODUCE_OPTIONS,
  ...TAIL_OPTIONS,
  ...STATUS_OPTIONS,
  ...SEED_DEMO_OPTIONS,
  ...COMPACT_OPTIONS,
  ...REPARTITION_OPTIONS,
  ...DIGEST_OPTIONS,
} as const;

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

export async function run(argv: string[], io: Io): Promise<number> {
  // Its options are the projector's: passed through unparsed.
  if (argv[0] === 'rebuild') return rebuildCommand(argv.slice(1), io);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || command === undefined || command === 'help') {
    (command === undefined && !values.help ? io.err : io.out)(`${USAGE}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  const http = new SyncHttp({
    ingestUrl: trimSlash(values['ingest-url'] ?? io.env.SYNC_INGEST_URL ?? 'http://127.0.0.1:3001'),
    queryUrl: trimSlash(values['query-url'] ?? io.env.SYNC_QUERY_URL ?? 'http://127.0.0.1:3002'),
    apiKey: values['api-key'] ?? io.env.SYNC_API_KEY,
  });
  try {
    switch (command) {
      case 'produce':
        await produce(http, args, values, io);
        break;
      case 'tail':
        await tail(http, args, values, io);
        break;
      case 'status':
        await status(http, args, values, io);
        break;
      case 'seed-demo':
        await seedDemo(http, args, values, io);
        break;
      case 'compact':
        await compact(args, values, io);
        break;
      case 'repartition':
        await repartition(args, values, io);
        break;
      case 'history':
        await history(http, args, values, io);
        break;
      case 'digest':
        await digest(http, args, values, io);
        break;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    io.err(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

if (require.main === module) {
  const io = processIo();
  run(process.argv.slice(2), io)
    .then((code) => {
      if (process.stderr.isTTY) process.stderr.write('\n');
      process.exitCode = code;
    })
    .catch((error: unknown) => {
      io.err(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    });
}
