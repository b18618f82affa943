import { redactUrl } from '@sync/persistence';
import { runKeysCli } from './keys-cli';

/** `node dist/scripts/keys.js create|list|revoke ...` (see KEYS_USAGE). */
runKeysCli(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const url = process.env.DATABASE_URL;
    process.stderr.write(
      `keys failed${url ? ` (database ${redactUrl(url)})` : ''}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
