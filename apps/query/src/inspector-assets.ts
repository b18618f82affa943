import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type Response } from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

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
export function serveInspector(app: NestExpressApplication, directory: string): void {
  if (!existsSync(join(directory, 'index.html'))) {
    new Logger('inspector').warn(`no inspector build in ${directory} (npm run build makes it)`);
  }
  app.use('/inspector', (req: express.Request, res: Response, next: express.NextFunction) => {
    // "/inspector" -> "/inspector/", so the page's relative asset URLs resolve under it.
    const [path, query] = req.originalUrl.split('?', 2);
    if (path === '/inspector') {
      return res.redirect(301, query === undefined ? '/inspector/' : `/inspector/?${query}`);
    }
    next();
  });
  app.use(
    '/inspector',
    express.static(directory, {
      index: 'index.html',
      redirect: false,
      setHeaders: (res: Response) => {
        res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
        res.setHeader('Referrer-Policy', 'no-referrer');
        res.setHeader('X-Content-Type-Options', 'nosniff');
        // Rebuilt assets keep their names: revalidate instead of serving a stale bundle.
        res.setHeader('Cache-Control', 'no-cache');
      },
    }),
  );
}
