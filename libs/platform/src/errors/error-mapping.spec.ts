import { NotFoundException } from '@nestjs/common';
import { toSyncError } from './error-mapping';
import { SyncError } from './sync-error';

describe('toSyncError', () => {
  const bodyError = (fields: Record<string, unknown>) => Object.assign(new Error('x'), fields);

  it.each([
    [{ type: 'entity.parse.failed', status: 400, expose: true }, 'INVALID_JSON', 400],
    [{ type: 'entity.too.large', status: 413, expose: true, limit: 10 }, 'PAYLOAD_TOO_LARGE', 413],
    [{ type: 'charset.unsupported', status: 415, expose: true }, 'UNSUPPORTED_MEDIA_TYPE', 415],
    [{ code: 'Z_DATA_ERROR', status: 400, expose: true }, 'INVALID_JSON', 400],
    [{ status: 415, expose: true }, 'UNSUPPORTED_MEDIA_TYPE', 415],
  ])('maps body-parser error %o to %s', (fields, code, status) => {
    const mapped = toSyncError(bodyError(fields));
    expect({ code: mapped.code, status: mapped.status }).toEqual({ code, status });
  });

  it('keeps a SyncError as it is', () => {
    const error = new SyncError('NOT_YET_APPLIED', 'wait');
    expect(toSyncError(error)).toBe(error);
  });

  it('answers SNAPSHOT_REQUIRED with 410 and its details', () => {
    const error = new SyncError('SNAPSHOT_REQUIRED', 'bootstrap', [{ horizon: '42' }]);
    expect(error.status).toBe(410);
    expect(toSyncError(error).toBody()).toEqual({
      error: 'SNAPSHOT_REQUIRED',
      message: 'bootstrap',
      details: [{ horizon: '42' }],
    });
  });

  it('maps an unknown route to NOT_FOUND', () => {
    expect(toSyncError(new NotFoundException()).code).toBe('NOT_FOUND');
  });

  it('never leaks internal errors', () => {
    const mapped = toSyncError(new Error('password=hunter2 at db'));
    expect(mapped.toBody()).toEqual({ error: 'INTERNAL_ERROR', message: 'internal error' });
    expect(toSyncError(bodyError({ status: 500, expose: false })).code).toBe('INTERNAL_ERROR');
  });
});
