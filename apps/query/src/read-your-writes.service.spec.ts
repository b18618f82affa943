import { SyncError } from '@sync/platform';
import type { AppliedOffsetWatcher } from './applied-offset-watcher.service';
import type { LibrariesRepository } from './libraries.repository';
import type { PartitionLocator } from './partition-locator.service';
import { readQueryConfig } from './query.config';
import { ReadYourWritesService } from './read-your-writes.service';

/** A watcher whose waits last until the test releases them. */
function setup(maxWaiters: number, appliedNext?: bigint) {
  const pending: (() => void)[] = [];
  const watcher = {
    observedNextOffset: () => appliedNext,
    waitUntilApplied: jest.fn(() => new Promise<void>((resolve) => pending.push(resolve))),
  };
  const libraries = { recordedPartition: () => Promise.resolve(2) };
  const service = new ReadYourWritesService(
    readQueryConfig({ QUERY_MAX_OFFSET_WAITERS: String(maxWaiters) }),
    libraries as unknown as LibrariesRepository,
    {} as PartitionLocator,
    watcher as unknown as AppliedOffsetWatcher,
  );
  return { service, watcher, pending };
}

const lib = '6f1c2a9e-0b7d-4c8e-9a51-3d2f7e4b1c00';

describe('ReadYourWritesService', () => {
  it('bounds the requests waiting for minOffset and answers the excess 503 SERVER_BUSY at once', async () => {
    const { service, watcher, pending } = setup(2);
    const first = service.ensureApplied(lib, { minOffset: 10n, waitMs: 1000 });
    const second = service.ensureApplied(lib, { minOffset: 10n, waitMs: 1000 });
    const third = await service.ensureApplied(lib, { minOffset: 10n, waitMs: 1000 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(third).toBeInstanceOf(SyncError);
    expect(third).toMatchObject({ code: 'SERVER_BUSY', headers: { 'Retry-After': '1' } });
    expect(watcher.waitUntilApplied).toHaveBeenCalledTimes(2);

    pending.forEach((resolve) => resolve());
    await Promise.all([first, second]);
    // Room again once they are answered.
    const fourth = service.ensureApplied(lib, { minOffset: 10n, waitMs: 1000 });
    await new Promise(setImmediate);
    expect(watcher.waitUntilApplied).toHaveBeenCalledTimes(3);
    pending[2]();
    await fourth;
  });

  it('never refuses a read whose offset is already applied, nor one without minOffset', async () => {
    const { service, watcher } = setup(1, 11n);
    void service.ensureApplied(lib, { minOffset: 50n, waitMs: 1000 });
    await new Promise(setImmediate);
    await expect(service.ensureApplied(lib, { minOffset: 10n, waitMs: 1000 })).resolves.toBe(
      undefined,
    );
    await expect(service.ensureApplied(lib, { waitMs: 1000 })).resolves.toBe(undefined);
    expect(watcher.waitUntilApplied).toHaveBeenCalledTimes(1);
  });
});
