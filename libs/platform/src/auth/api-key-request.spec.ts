import { SyncError } from '../errors/sync-error';
import { ApiKeyRequestPipe, checkApiKeyRequest } from './api-key-request';

const LIBRARY = 'AAAAAAAA-0000-4000-8000-000000000001';
const NODE = 'BBBBBBBB-0000-4000-8000-000000000002';

/** The route's answer for a body: the request it hands on, or the 422's details. */
async function throughPipe(body: unknown) {
  try {
    const request = await new ApiKeyRequestPipe().transform(body, { type: 'body' });
    return { request, issues: [] };
  } catch (error) {
    expect(error).toBeInstanceOf(SyncError);
    const { code, message, details } = error as SyncError;
    expect({ code, message }).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'invalid key request',
    });
    return { issues: details };
  }
}

describe('key requests (admin route and keys CLI, one DTO)', () => {
  it('hands on a valid request with lowercase ids, each role once and null for what is absent', async () => {
    const body = { libraryId: LIBRARY, roles: ['read', 'write', 'read'], node: NODE };
    const expected = {
      request: {
        libraryId: LIBRARY.toLowerCase(),
        roles: ['read', 'write'],
        node: NODE.toLowerCase(),
        label: null,
      },
      issues: [],
    };
    expect(await checkApiKeyRequest(body)).toEqual(expected);
    expect(await throughPipe(body)).toEqual(expected);
    const admin = { libraryId: null, roles: ['admin'], node: null, label: 'ops' };
    expect((await throughPipe(admin)).request).toEqual({ ...admin, roles: ['admin'] });
  });

  it.each([
    [
      'a bad body, every problem with its path',
      { libraryId: LIBRARY, roles: ['admin', 'fly'], node: 'x', extra: 1 },
      [
        { path: 'extra', message: 'unknown property' },
        { path: 'roles.1', message: 'must be one of read, write, admin' },
        {
          path: 'roles',
          message: 'the admin role needs a key for all libraries (libraryId null)',
        },
        { path: 'node', message: 'must be a node UUID' },
      ],
    ],
    [
      'an empty body',
      {},
      [
        { path: 'libraryId', message: 'required: a library UUID, or null for all libraries' },
        { path: 'roles', message: 'must be a non-empty array of read, write, admin' },
      ],
    ],
    [
      'wrong types',
      { libraryId: 7, roles: [], label: 'x'.repeat(201) },
      [
        { path: 'libraryId', message: 'must be a UUID or null (all libraries)' },
        { path: 'roles', message: 'must be a non-empty array of read, write, admin' },
        { path: 'label', message: 'must be a string of at most 200 characters' },
      ],
    ],
    [
      'an array',
      [{ libraryId: null, roles: ['read'] }],
      [{ path: '', message: 'expected an object' }],
    ],
    ['null', null, [{ path: '', message: 'expected an object' }]],
  ])('refuses %s the same way on both paths', async (_, body, issues) => {
    expect(await checkApiKeyRequest(body)).toEqual({ issues });
    expect(await throughPipe(body)).toEqual({ issues });
  });
});
