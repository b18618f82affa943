import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/*
 * The import boundaries of eslint.config.mjs (docs/ARCHITECTURE.md), run through ESLint's Node
 * API with the project's real config on fixture text placed at real paths of the tree. ESLint
 * loads its ES-module config by dynamic import, which jest's sandbox refuses, so one child Node
 * process lints every fixture.
 */

jest.setTimeout(180_000);

const ROOT = join(__dirname, '..', '..');

const LINT_FIXTURES = `
const { ESLint } = require('eslint');
const { join } = require('node:path');
(async () => {
  const fixtures = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
  const eslint = new ESLint({ cwd: process.cwd() });
  const out = [];
  for (const { path, code } of fixtures) {
    const [result] = await eslint.lintText(code, { filePath: join(process.cwd(), path) });
    out.push(result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message));
  }
  process.stdout.write(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
`;

interface Fixture {
  path: string;
  code: string;
}

function importing(what: string, from: string): string {
  return `import * as imported from '${from}';\nexport const ${what} = imported;\n`;
}

const refused: (Fixture & { because: string })[] = [
  {
    path: 'apps/ingest/src/ingest.service.ts',
    code: importing('x', '../../query/src/query-database.service'),
    because: 'An app never imports another app',
  },
  {
    path: 'apps/cli/src/compact.command.ts',
    code: importing('x', '../../projector/src/batch-plan'),
    because: 'An app never imports another app',
  },
  ...['@nestjs/common', 'typeorm', 'kafkajs', 'pg'].map((framework) => ({
    path: 'libs/protocol/src/json.ts',
    code: importing('x', framework),
    because: 'libs/protocol and libs/config are framework-free',
  })),
  {
    path: 'libs/config/src/env-reader.ts',
    code: importing('x', '@nestjs/common'),
    because: 'libs/protocol and libs/config are framework-free',
  },
  ...['apps/query/src/query.app.ts', 'libs/client/src/sync-node.ts', 'test/ingest-fixtures.ts'].map(
    (path) => ({
      path,
      code: importing('x', '@sync/protocol/merge/merge-engine'),
      because: 'Import a lib through its index',
    }),
  ),
  ...['apps/ingest/src/ingest.service.ts', 'libs/persistence/src/migrate.ts'].map((path) => ({
    path,
    code: importing('x', 'kafkajs'),
    because: 'Only libs/kafka talks to kafkajs',
  })),
];

const allowed: Fixture[] = [
  { path: 'libs/kafka/src/index.ts', code: importing('x', 'kafkajs') },
  { path: 'apps/query/src/query.app.ts', code: importing('x', '@sync/protocol') },
  { path: 'libs/client/src/sync-node.ts', code: importing('x', '@sync/protocol/testing') },
  { path: 'apps/ingest/src/ingest.service.ts', code: importing('x', './ingest.config') },
  { path: 'test/ingest-fixtures.ts', code: importing('x', 'kafkajs') },
];

describe('import boundaries (eslint.config.mjs)', () => {
  let results: string[][];

  beforeAll(() => {
    const fixtures = [...refused, ...allowed].map(({ path, code }) => ({ path, code }));
    const stdout = execFileSync(process.execPath, ['-e', LINT_FIXTURES], {
      cwd: ROOT,
      input: JSON.stringify(fixtures),
      maxBuffer: 16 * 1024 * 1024,
    });
    results = JSON.parse(stdout.toString()) as string[][];
  });

  it.each(refused.map((fixture, index) => [fixture.because, fixture.path, index] as const))(
    'refuses (%s) in %s',
    (because, _path, index) => {
      expect(results[index]).toEqual([expect.stringContaining(because)]);
    },
  );

  it.each(
    allowed.map(
      (fixture, index) => [fixture.path, /from '([^']+)'/.exec(fixture.code)![1], index] as const,
    ),
  )('allows, in %s, an import of %s', (_path, _from, index) => {
    expect(results[refused.length + index]).toEqual([]);
  });
});
