import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import type { ApiKeyAuthenticator, Principal } from './api-key-authenticator';

/**
 * Authenticates requests that carry a body before the body is read (a Fastify `onRequest`
 * hook), so a caller without a valid key cannot make the service parse megabytes of JSON.
 * Authorization (library, role, node, rate) stays with AuthGuard, which reuses the principal
 * found here. `authenticator` returns undefined when auth is off (or before the app exists).
 */
export function authenticateBeforeBody(
  authenticator: () => ApiKeyAuthenticator | undefined,
  applies: (request: FastifyRequest) => boolean = (request) =>
    !['GET', 'HEAD', 'OPTIONS'].includes(request.method),
): onRequestHookHandler {
  return (request, _reply, done) => {
    const auth = authenticator();
    if (auth === undefined || !applies(request)) return done();
    auth.authenticate(request.headers.authorization).then(
      (principal) => {
        (request as FastifyRequest & { principal?: Principal }).principal = principal;
        done();
      },
      (error: Error) => done(error),
    );
  };
}
