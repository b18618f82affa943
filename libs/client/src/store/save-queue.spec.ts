import { Mutex, SaveQueue } from './save-queue';

/** A write that stays open until the test releases it. */
function gatedWriter(read: () => number) {
  const written: number[] = [];
  const gates: (() => void)[] = [];
  const write = () =>
    new Promise<void>((resolve) => {
      const value = read();
      gates.push(() => {
        written.push(value);
        resolve();
      });
    });
  return { written, write, release: () => gates.shift()?.() };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('SaveQueue', () => {
  it('never runs two writes at once and reads the value when a write starts', async () => {
    let value = 1;
    const writer = gatedWriter(() => value);
    const queue = new SaveQueue(writer.write);
    const first = queue.save();
    await tick();
    value = 2;
    const second = queue.save();
    value = 3;
    const third = queue.save(); // joins the queued second write
    expect(third).toBe(second);
    await tick();
    writer.release();
    await first;
    await tick();
    writer.release();
    await Promise.all([second, third]);
    // The second write started after the first finished, and saw every change before it.
    expect(writer.written).toEqual([1, 3]);
  });

  it('keeps going after a failed write', async () => {
    let fail = true;
    const queue = new SaveQueue(() =>
      fail ? Promise.reject(new Error('disk full')) : Promise.resolve(),
    );
    await expect(queue.save()).rejects.toThrow('disk full');
    fail = false;
    await expect(queue.save()).resolves.toBeUndefined();
    await expect(queue.idle()).resolves.toBeUndefined();
  });
});

describe('Mutex', () => {
  it('runs tasks one at a time in call order, even after a failure', async () => {
    const mutex = new Mutex();
    const events: string[] = [];
    const task =
      (name: string, fail = false) =>
      async () => {
        events.push(`start ${name}`);
        await tick();
        events.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([
      mutex.run(task('a')),
      mutex.run(task('b', true)),
      mutex.run(task('c')),
    ]);
    expect(events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});
