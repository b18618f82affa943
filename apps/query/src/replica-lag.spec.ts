import { libraryReplicaLag, parseLsn, replicaLag } from './replica-lag';

describe('replica lag', () => {
  it('reads WAL positions as Postgres prints them', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('0/3000148')).toBe(0x3000148n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(() => parseLsn('3000148')).toThrow(/WAL position/);
  });

  it('is nothing when the instance reads the primary itself', () => {
    const lag = replicaLag({ standby: false, replayLsn: null, secondsSinceReplay: null }, null);
    expect(lag).toEqual({
      standby: false,
      replayLsn: null,
      primaryLsn: null,
      lagBytes: 0,
      lagSeconds: 0,
    });
    expect(libraryReplicaLag(lag, 8n, null)).toMatchObject({
      primaryAppliedOffset: '7',
      offsetsBehind: 0,
    });
  });

  it('measures a standby against the primary, in bytes, seconds and offsets', () => {
    const read = { standby: true, replayLsn: '0/3000000', secondsSinceReplay: 2.5 };
    const primary = { lsn: '0/3000100', nextOffset: 42n };
    const lag = replicaLag(read, primary);
    expect(lag).toEqual({
      standby: true,
      replayLsn: '0/3000000',
      primaryLsn: '0/3000100',
      lagBytes: 256,
      lagSeconds: 2.5,
    });
    expect(libraryReplicaLag(lag, 40n, primary)).toMatchObject({
      primaryAppliedOffset: '41',
      offsetsBehind: 2,
    });
    expect(libraryReplicaLag(lag, null, { lsn: '0/3000100', nextOffset: null })).toMatchObject({
      primaryAppliedOffset: null,
      offsetsBehind: 0,
    });
  });

  it('is 0 once the standby replayed everything, whenever the last transaction was', () => {
    const lag = replicaLag(
      { standby: true, replayLsn: '0/3000100', secondsSinceReplay: 3600 },
      { lsn: '0/3000100', nextOffset: 5n },
    );
    expect(lag).toMatchObject({ lagBytes: 0, lagSeconds: 0 });
  });

  it('is unknown, not zero, when the primary does not answer', () => {
    const lag = replicaLag({ standby: true, replayLsn: '0/3000000', secondsSinceReplay: 1 }, null);
    expect(lag).toMatchObject({ standby: true, lagBytes: null, lagSeconds: null });
    expect(libraryReplicaLag(lag, 3n, null)).toMatchObject({
      primaryAppliedOffset: null,
      offsetsBehind: null,
    });
  });
});
