// Bundles the demo into dist/examples/web-tags: index.html, main.js, main.css, sw.js.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const outdir = join(here, '../../dist/examples/web-tags');

export async function buildWebTags() {
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: { main: join(here, 'src/main.tsx'), sw: join(here, 'src/sw.ts') },
    outdir,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    tsconfig: join(here, '../../tsconfig.json'),
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'main.css']) {
    await copyFile(join(here, 'src', file), join(outdir, file));
  }
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildWebTags();
