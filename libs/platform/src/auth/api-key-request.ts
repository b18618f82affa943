import { API_KEY_ROLES, type ApiKeyRole } from './api-key-token';

export interface ApiKeyRequest {
  /** null: every library. */
  libraryId: string | null;
  roles: ApiKeyRole[];
  node: string | null;
  label: string | null;
}

export interface RequestIssue {
  path: string;
  message: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks what a new key should be allowed to do (admin route body and CLI flags alike).
 * `libraryId` must be a UUID or null (all libraries); `admin` needs all libraries.
 */
export function checkApiKeyRequest(input: unknown): {
  request?: ApiKeyRequest;
  issues: RequestIssue[];
} {
  const issues: RequestIssue[] = [];
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { issues: [{ path: '', message: 'expected an object' }] };
  }
  const body = input as Record<string, unknown>;
  for (const key of Object.keys(body)) {
    if (!['libraryId', 'roles', 'node', 'label'].includes(key)) {
      issues.push({ path: key, message: 'unknown property' });
    }
  }
  let libraryId: string | null = null;
  if (!('libraryId' in body)) {
    issues.push({
      path: 'libraryId',
      message: 'required: a library UUID, or null for all libraries',
    });
  } else if (body.libraryId !== null) {
    if (typeof body.libraryId === 'string' && UUID.test(body.libraryId)) {
      libraryId = body.libraryId.toLowerCase();
    } else {
      issues.push({ path: 'libraryId', message: 'must be a UUID or null (all libraries)' });
    }
  }
  const roles: ApiKeyRole[] = [];
  if (!Array.isArray(body.roles) || body.roles.length === 0) {
    issues.push({
      path: 'roles',
      message: `must be a non-empty array of ${API_KEY_ROLES.join(', ')}`,
    });
  } else {
    body.roles.forEach((role, i) => {
      if (!(API_KEY_ROLES as readonly unknown[]).includes(role)) {
        issues.push({ path: `roles.${i}`, message: `must be one of ${API_KEY_ROLES.join(', ')}` });
      } else if (!roles.includes(role as ApiKeyRole)) {
        roles.push(role as ApiKeyRole);
      }
    });
  }
  if (roles.includes('admin') && libraryId !== null) {
    issues.push({
      path: 'roles',
      message: 'the admin role needs a key for all libraries (libraryId null)',
    });
  }
  let node: string | null = null;
  if (body.node !== undefined && body.node !== null) {
    if (typeof body.node === 'string' && UUID.test(body.node)) node = body.node.toLowerCase();
    else issues.push({ path: 'node', message: 'must be a node UUID' });
  }
  let label: string | null = null;
  if (body.label !== undefined && body.label !== null) {
    if (typeof body.label === 'string' && body.label.length <= 200) label = body.label;
    else issues.push({ path: 'label', message: 'must be a string of at most 200 characters' });
  }
  return issues.length > 0 ? { issues } : { request: { libraryId, roles, node, label }, issues };
}
