// npm run example:web: builds the demo and serves it with a config.json pointing at the stack.
//   WEB_TAGS_PORT (5173), SYNC_INGEST_URL (http://127.0.0.1:3001), SYNC_QUERY_URL
//   (http://127.0.0.1:3002), WEB_TAGS_LIBRARY (a fixed demo library), SYNC_API_KEY (optional).
// The services must allow this page's origin: SYNC_CORS_ORIGINS=http://localhost:5173.
import { createReadStream, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { buildWebTags } from './build.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
};

/** Serves `dir` and /config.json; resolves with the listening server. */
export function serveWebTags(dir, config, port = 0, host = '127.0.0.1') {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/config.json') {
      res.writeHead(200, { 'content-type': TYPES['.json'], 'cache-control': 'no-store' });
      res.end(JSON.stringify(config));
      return;
    }
    const file = normalize(join(dir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (process.argv[1]?.endsWith('serve.mjs')) {
  const dir = await buildWebTags();
  const port = Number(process.env.WEB_TAGS_PORT ?? 5173);
  const config = {
    ingestUrl: process.env.SYNC_INGEST_URL ?? 'http://127.0.0.1:3001',
    queryUrl: process.env.SYNC_QUERY_URL ?? 'http://127.0.0.1:3002',
    libraryId: process.env.WEB_TAGS_LIBRARY ?? '7e57da7a-0000-4000-8000-000000000001',
    ...(process.env.SYNC_API_KEY ? { apiKey: process.env.SYNC_API_KEY } : {}),
  };
  await serveWebTags(dir, config, port, 'localhost');
  console.log(`web-tags: http://localhost:${port}/ (library ${config.libraryId})`);
  console.log(`  start the stack with SYNC_CORS_ORIGINS=http://localhost:${port}`);
}
