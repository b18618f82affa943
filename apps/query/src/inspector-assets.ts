import { Logger } from '@nestjs/common';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathOf } from '@sync/platform';

/**
 * The page may talk to this origin only: no CDN, no inline script or style, no framing. The
 * API key lives in the page's session storage, so nothing else may run there.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Serves the built inspector (apps/inspector) at /inspector/. Before the auth guard on purpose:
 * the assets hold no data; every read the page makes goes through the API with the user's key.
 * Anything not found falls through to the API's contract 404.
 */
export function serveInspector(fastify: FastifyInstance, directory: string): void {
  if (!existsSync(join(directory, 'index.html'))) {
    new Logger('inspector').warn(`no inspector build in ${directory} (npm run build makes it)`);
  }
  void fastify.register(fastifyStatic, {
    root: directory,
    prefix: '/inspector/',
    index: 'index.html',
    redirect: false,
    setHeaders: (reply) => {
      reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      reply.header('Referrer-Policy', 'no-referrer');
      reply.header('X-Content-Type-Options', 'nosniff');
      // Rebuilt assets keep their names: revalidate instead of serving a stale bundle.
      reply.header('Cache-Control', 'no-cache');
    },
  });
  // With trailing slashes ignored, "/inspector" and "/inspector/" are this one route (the
  // wildcard above needs something after the slash): the page at "/inspector/", and
  // "/inspector" redirected there, so the page's relative asset URLs resolve under it.
  fastify.get('/inspector', (request, reply) => {
    const path = pathOf(request.url);
    if (path.endsWith('/')) return reply.sendFile('index.html');
    const query = request.url.slice(path.length);
    return reply.redirect(`/inspector/${query}`, 301);
  });
}
