import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingHttpHeaders } from 'node:http';
import { SyncError } from '../errors/sync-error';
import { HealthController } from '../health/health.controller';
import { MetricsController } from '../metrics/metrics.controller';
import { type AccessRule, ACCESS_METADATA } from './auth.decorators';
import type { AuthSettings } from './auth.settings';
import { ApiKeyAuthenticator, type Principal } from './api-key-authenticator';
import { RateLimiter } from './rate-limiter';
import { AUTH_SETTINGS } from './auth.tokens';

/** Health probes and Prometheus scrapes stay open (they carry no library data). */
const OPEN_CONTROLLERS: unknown[] = [HealthController, MetricsController];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the guard reads of a request and adds to it, on either HTTP platform. */
export interface AuthenticatedRequest {
  headers: IncomingHttpHeaders;
  params: Record<string, string | undefined>;
  body?: unknown;
  principal?: Principal;
}

/**
 * The one place that decides access, for every route of the app: 401 without a valid key, 403
 * when the key does not cover the library or role (or a node-bound key writes another node's
 * ops), 429 over the key's rate limit. Routes say what they need with @Access.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTH_SETTINGS) private readonly settings: AuthSettings,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly rateLimiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.settings.enabled || context.getType() !== 'http') return true;
    if (OPEN_CONTROLLERS.includes(context.getClass())) return true;
    const rule =
      this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_METADATA, [
        context.getHandler(),
        context.getClass(),
      ]) ?? {};
    if (rule.public) return true;

    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal =
      request.principal ?? (await this.authenticator.authenticate(request.headers.authorization));
    request.principal = principal;
    authorize(principal, rule, request);
    if (rule.rateLimited) {
      const ops = Array.isArray(request.body) ? request.body.length : 0;
      const waitSeconds = this.rateLimiter.take(principal.keyId, ops);
      if (waitSeconds > 0) {
        throw new SyncError(
          'TOO_MANY_REQUESTS',
          `rate limit of this API key exceeded; retry in ${waitSeconds} s`,
          undefined,
          { 'Retry-After': String(waitSeconds) },
        );
      }
    }
    return true;
  }
}

/** Throws 403 unless the principal may do what the rule asks on this request. */
export function authorize(
  principal: Principal,
  rule: AccessRule,
  request: AuthenticatedRequest,
): void {
  if (rule.role !== undefined && !principal.roles.includes(rule.role)) {
    throw new SyncError('FORBIDDEN', `this API key lacks the ${rule.role} role`);
  }
  if (rule.allLibraries && principal.libraryId !== null) {
    throw new SyncError('FORBIDDEN', 'this route needs an API key for all libraries');
  }
  if (rule.libraryParam !== undefined && principal.libraryId !== null) {
    const raw = request.params[rule.libraryParam];
    const libraryId = typeof raw === 'string' ? raw.toLowerCase() : '';
    // A malformed id is left to the route, which answers 400 INVALID_LIBRARY_ID.
    if (UUID.test(libraryId) && libraryId !== principal.libraryId) {
      throw new SyncError('FORBIDDEN', 'this API key does not cover this library');
    }
  }
  if (rule.nodeBoundBody && principal.node !== null && Array.isArray(request.body)) {
    const mismatches: { index: number; path: string; message: string }[] = [];
    (request.body as unknown[]).forEach((op, index) => {
      const node = (op as { node?: unknown } | null)?.node;
      if (typeof node === 'string' && node.toLowerCase() !== principal.node) {
        mismatches.push({
          index,
          path: 'node',
          message: 'this API key may only write operations of its own node',
        });
      }
    });
    if (mismatches.length > 0) {
      throw new SyncError(
        'NODE_MISMATCH',
        `${mismatches.length} operations carry another node than the one this API key is bound to; nothing was accepted`,
        mismatches,
      );
    }
  }
}
