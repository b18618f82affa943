import { settleAll } from './sql-client';

/** A promise settled from outside, to control the order in which statements answer. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('settleAll', () => {
  it('returns the results in the order the statements were queued', async () => {
    const first = deferred<string>();
    const second = deferred<number>();
    const all = settleAll<[string, number]>([first.promise, second.promise]);
    second.resolve(2);
    first.resolve('one');
    await expect(all).resolves.toEqual(['one', 2]);
  });

  it('throws the first failure only once every statement has settled', async () => {
    const failed = deferred<void>();
    const running = deferred<void>();
    const later = deferred<void>();
    let settled = false;
    const all = settleAll([failed.promise, running.promise, later.promise]).finally(() => {
      settled = true;
    });
    failed.reject(new Error('first'));
    later.reject(new Error('aborted transaction'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    running.resolve();
    await expect(all).rejects.toThrow('first');
  });
});
