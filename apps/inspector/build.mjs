// Bundles the inspector into dist/apps/inspector: index.html, main.js, main.css, nothing else.
// Everything the page needs is in these files (no CDN), so it works offline and under a CSP of
// 'self'. Run by `npm run build` after the type check (esbuild strips types, it does not check).
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, '../../dist/apps/inspector');

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await build({
  entryPoints: { main: join(here, 'src/main.tsx') },
  outdir,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
await copyFile(join(here, 'src/index.html'), join(outdir, 'index.html'));
