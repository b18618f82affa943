import { AppliedOffsets, WaitTimedOut, parseAppliedNotification } from './applied-offsets';

describe('AppliedOffsets', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('is applied through an offset only when the next offset is past it', () => {
    const offsets = new AppliedOffsets();
    expect(offsets.isApplied(0, 0n)).toBe(false);
    offsets.observe(0, 5n);
    expect(offsets.isApplied(0, 4n)).toBe(true);
    expect(offsets.isApplied(0, 5n)).toBe(false);
    expect(offsets.isApplied(1, 0n)).toBe(false);
  });

  it('is watched while anyone waits or follows a partition', () => {
    const offsets = new AppliedOffsets();
    expect(offsets.watched).toBe(false);
    const waiting = offsets.waitFor(0, 3n, 10_000);
    expect(offsets.watched).toBe(true);
    offsets.observe(0, 4n);
    expect(offsets.watched).toBe(false);
    const unsubscribe = offsets.subscribe(1, () => undefined);
    expect(offsets.watched).toBe(true);
    unsubscribe();
    expect(offsets.watched).toBe(false);
    return waiting;
  });

  it('never moves a position back', () => {
    const offsets = new AppliedOffsets();
    offsets.observe(2, 10n);
    offsets.observe(2, 3n);
    expect(offsets.nextOffset(2)).toBe(10n);
  });

  it('wakes exactly the waiters an observation satisfies, on their partition', async () => {
    const offsets = new AppliedOffsets();
    const woken: string[] = [];
    const track = (name: string, promise: Promise<void>) =>
      promise.then(
        () => woken.push(name),
        () => woken.push(`${name}:rejected`),
      );
    void track('p0@3', offsets.waitFor(0, 3n, 10_000));
    void track('p0@7', offsets.waitFor(0, 7n, 10_000));
    void track('p1@3', offsets.waitFor(1, 3n, 10_000));
    expect(offsets.waiting).toBe(3);

    offsets.observe(0, 4n);
    await Promise.resolve();
    await Promise.resolve();
    expect(woken).toEqual(['p0@3']);
    expect(offsets.waiting).toBe(2);

    offsets.observe(0, 7n); // 7 is the next offset to apply, so offset 7 is not applied yet
    await Promise.resolve();
    expect(woken).toEqual(['p0@3']);
    offsets.observe(0, 8n);
    offsets.observe(1, 100n);
    await Promise.resolve();
    await Promise.resolve();
    expect(woken.sort()).toEqual(['p0@3', 'p0@7', 'p1@3']);
    expect(offsets.waiting).toBe(0);
  });

  it('times a waiter out and forgets it', async () => {
    const offsets = new AppliedOffsets();
    const waiting = offsets.waitFor(4, 1n, 500);
    jest.advanceTimersByTime(499);
    expect(offsets.waiting).toBe(1);
    jest.advanceTimersByTime(1);
    await expect(waiting).rejects.toBeInstanceOf(WaitTimedOut);
    expect(offsets.waiting).toBe(0);
    offsets.observe(4, 2n); // a late observation must not touch the settled waiter
  });

  it('resolves at once when already applied, and fails every waiter on rejectAll', async () => {
    const offsets = new AppliedOffsets();
    offsets.observe(0, 1n);
    await expect(offsets.waitFor(0, 0n, 0)).resolves.toBeUndefined();
    const a = offsets.waitFor(0, 5n, 10_000);
    const b = offsets.waitFor(3, 5n, 10_000);
    offsets.rejectAll(new Error('closing'));
    await expect(a).rejects.toThrow('closing');
    await expect(b).rejects.toThrow('closing');
    expect(offsets.waiting).toBe(0);
  });
});

describe('parseAppliedNotification', () => {
  it('parses topic:partition:nextOffset', () => {
    expect(parseAppliedNotification('sync.operations:2:1234')).toEqual({
      topic: 'sync.operations',
      partition: 2,
      nextOffset: 1234n,
    });
    expect(parseAppliedNotification('t:0:9223372036854775807')?.nextOffset).toBe(
      9223372036854775807n,
    );
  });

  it.each([undefined, '', 'topic', 'topic:1', ':1:2', 'topic:x:2', 'topic:1:-2', 'topic:1:2.5'])(
    'rejects %p',
    (payload) => {
      expect(parseAppliedNotification(payload)).toBeNull();
    },
  );
});
