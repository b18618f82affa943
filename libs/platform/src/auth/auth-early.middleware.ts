import type { NextFunction, RequestHandler, Response } from 'express';
import type { ApiKeyAuthenticator } from './api-key-authenticator';
import type { AuthenticatedRequest } from './auth.guard';

/**
 * Authenticates requests that carry a body before the body is read, so a caller without a valid
 * key cannot make the service parse megabytes of JSON. Authorization (library, role, node, rate)
 * stays with AuthGuard, which reuses the principal found here.
 * `authenticator` returns undefined when auth is off (or before the app exists).
 */
export function authenticateBeforeBody(
  authenticator: () => ApiKeyAuthenticator | undefined,
  applies: (req: AuthenticatedRequest) => boolean = (req) =>
    !['GET', 'HEAD', 'OPTIONS'].includes(req.method),
): RequestHandler {
  return (req: AuthenticatedRequest, _res: Response, next: NextFunction): void => {
    const auth = authenticator();
    if (auth === undefined || !applies(req)) return next();
    auth.authenticate(req.headers.authorization).then(
      (principal) => {
        req.principal = principal;
        next();
      },
      (error: unknown) => next(error),
    );
  };
}
