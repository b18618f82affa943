import { SetMetadata } from '@nestjs/common';
import type { ApiKeyRole } from './api-key-token';

export const ACCESS_METADATA = 'sync:access';

export interface AccessRule {
  /** Open route: no key needed. */
  public?: boolean;
  /** Role the key must have; none = any valid key. */
  role?: ApiKeyRole;
  /** Route parameter holding the library id: the key must cover that library. */
  libraryParam?: string;
  /** The route needs a key for every library (library scope "all"). */
  allLibraries?: boolean;
  /** The body is an array of ops: a node-bound key must match every op's `node`. */
  nodeBoundBody?: boolean;
  /** Counts against the key's ingest rate limit (ops = body array length). */
  rateLimited?: boolean;
}

/** Access rule of a controller or route (a route's rule replaces its controller's). */
export const Access = (rule: AccessRule) => SetMetadata(ACCESS_METADATA, rule);
export const Public = () => Access({ public: true });
