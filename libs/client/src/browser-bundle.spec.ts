import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Plugin, build } from 'esbuild';

/** What the README promises for the bundled browser entry. */
const GZIP_BUDGET_BYTES = 60 * 1024;

const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** Records every import of a Node built-in instead of letting the bundle fail or shim it. */
function nodeBuiltinWatch(found: string[]): Plugin {
  return {
    name: 'node-builtin-watch',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.startsWith('node:') ? args.path : args.path.split('/')[0];
        if (!NODE_BUILTINS.has(bare) && !NODE_BUILTINS.has(args.path)) return undefined;
        found.push(`${args.path} (from ${args.importer.replace(/.*\/libs\//, 'libs/')})`);
        return { path: args.path, external: true };
      });
    },
  };
}

function bundle(entry: string, found: string[]) {
  return build({
    entryPoints: [join(__dirname, entry)],
    tsconfig: join(__dirname, '../../../tsconfig.json'),
    bundle: true,
    write: false,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [nodeBuiltinWatch(found)],
  });
}

describe('the browser entry point', () => {
  it('bundles for the browser without any Node built-in, under 60 KB gzipped', async () => {
    const found: string[] = [];
    const result = await bundle('browser.ts', found);
    expect(found).toEqual([]);
    // Only our own sources: no npm package rides along (class-validator, Nest, ...).
    const packages = Object.keys(result.metafile.inputs).filter((input) =>
      input.includes('node_modules'),
    );
    expect(packages).toEqual([]);
    const code = result.outputFiles[0].contents;
    const gzipped = gzipSync(code, { level: 9 }).length;
    // Shown in the test output; recorded in libs/client/README.md.
    console.log(`browser bundle: ${code.length} bytes, ${gzipped} bytes gzipped`);
    expect(gzipped).toBeLessThan(GZIP_BUDGET_BYTES);
  });

  it('is checked by a watch that does see Node built-ins (the ./node entry has them)', async () => {
    const found: string[] = [];
    await bundle('node.ts', found);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^node:fs/),
        expect.stringMatching(/^node:path/),
      ]),
    );
  });
});
