import { admitDatabaseWork, admitWaiter, isPoolTimeout, serverBusy } from './query-overload';

describe('query overload bounds', () => {
  const limits = { poolSize: 4, maxQueue: 3 };

  it('runs database work at once while a connection is idle or can be opened', () => {
    expect(admitDatabaseWork({ totalCount: 4, idleCount: 1, waitingCount: 0 }, limits)).toEqual({
      admitted: true,
      queued: false,
    });
    expect(admitDatabaseWork({ totalCount: 2, idleCount: 0, waitingCount: 0 }, limits)).toEqual({
      admitted: true,
      queued: false,
    });
  });

  it('queues behind at most maxQueue others, then refuses', () => {
    const full = { totalCount: 4, idleCount: 0 };
    expect(admitDatabaseWork({ ...full, waitingCount: 0 }, limits)).toEqual({
      admitted: true,
      queued: true,
    });
    expect(admitDatabaseWork({ ...full, waitingCount: 2 }, limits)).toEqual({
      admitted: true,
      queued: true,
    });
    expect(admitDatabaseWork({ ...full, waitingCount: 3 }, limits)).toEqual({ admitted: false });
    // Others already queue (an idle connection is about to be handed to them): no jumping ahead.
    expect(
      admitDatabaseWork({ totalCount: 4, idleCount: 1, waitingCount: 3 }, limits).admitted,
    ).toBe(false);
  });

  it('admits minOffset waiters up to the bound', () => {
    expect(admitWaiter(0, 2)).toBe(true);
    expect(admitWaiter(1, 2)).toBe(true);
    expect(admitWaiter(2, 2)).toBe(false);
  });

  it("recognises pg-pool's timeout and answers 503 SERVER_BUSY with Retry-After", () => {
    expect(isPoolTimeout(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isPoolTimeout(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toBe(false);
    const error = serverBusy('database work');
    expect(error).toMatchObject({ code: 'SERVER_BUSY', status: 503 });
    expect(error.headers).toEqual({ 'Retry-After': '1' });
  });
});
