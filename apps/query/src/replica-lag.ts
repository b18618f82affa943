/**
 * How far the database this query instance reads trails the projector's (its primary). Served
 * by `GET /libraries/{id}/status?replica=true` and `GET /pipeline`.
 */
export interface ReplicaLag {
  /** True when reads go to a streaming standby; false: to the primary itself, never behind. */
  standby: boolean;
  /** WAL position the standby has replayed (null on the primary). */
  replayLsn: string | null;
  /** WAL position the primary has written (null on the primary, or when it could not be asked). */
  primaryLsn: string | null;
  /** WAL bytes written on the primary and not yet replayed here; null when unknown. */
  lagBytes: number | null;
  /**
   * 0 when nothing is left to replay; else seconds since the primary committed the last
   * transaction replayed here (an upper bound of how old what this instance serves is).
   */
  lagSeconds: number | null;
}

/** A library's view of the lag: its partition's applied offset on the primary and the gap. */
export interface LibraryReplicaLag extends ReplicaLag {
  /** The partition's applied offset on the primary (null: nothing applied, or primary unknown). */
  primaryAppliedOffset: string | null;
  /** Offsets of the partition applied on the primary and not yet visible here; null when unknown. */
  offsetsBehind: number | null;
}

/** What the read database says about itself. */
export interface ReadPosition {
  standby: boolean;
  replayLsn: string | null;
  secondsSinceReplay: number | null;
}

/** What the primary says (null: not asked, or it did not answer). */
export interface PrimaryPosition {
  lsn: string;
  nextOffset: bigint | null;
}

/** A WAL position as Postgres prints it ("16/B374D848") in bytes. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text);
  if (!match) throw new Error(`not a WAL position: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

export function replicaLag(read: ReadPosition, primary: PrimaryPosition | null): ReplicaLag {
  if (!read.standby) {
    return { standby: false, replayLsn: null, primaryLsn: null, lagBytes: 0, lagSeconds: 0 };
  }
  if (primary === null || read.replayLsn === null) {
    return {
      standby: true,
      replayLsn: read.replayLsn,
      primaryLsn: primary?.lsn ?? null,
      lagBytes: null,
      lagSeconds: null,
    };
  }
  // The standby was asked first, so a difference is never understated; it cannot be negative
  // unless the primary changed (failover): then it is 0.
  const behind = parseLsn(primary.lsn) - parseLsn(read.replayLsn);
  const lagBytes = behind > 0n ? Number(behind) : 0;
  return {
    standby: true,
    replayLsn: read.replayLsn,
    primaryLsn: primary.lsn,
    lagBytes,
    lagSeconds: lagBytes === 0 ? 0 : Math.max(0, read.secondsSinceReplay ?? 0),
  };
}

/** The lag seen by one library whose partition is applied here up to `readNextOffset`. */
export function libraryReplicaLag(
  lag: ReplicaLag,
  readNextOffset: bigint | null,
  primary: PrimaryPosition | null,
): LibraryReplicaLag {
  const here = readNextOffset ?? 0n;
  // On the primary itself the offsets are the ones just read.
  const there = lag.standby ? (primary === null ? null : (primary.nextOffset ?? 0n)) : here;
  return {
    ...lag,
    primaryAppliedOffset: there === null || there === 0n ? null : (there - 1n).toString(),
    offsetsBehind: there === null ? null : there > here ? Number(there - here) : 0,
  };
}
