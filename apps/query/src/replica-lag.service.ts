import { Inject, Injectable, Logger } from '@nestjs/common';
import { STORED_OFFSET_SQL } from '@sync/persistence';
import { PrimaryDatabase } from './primary-database.service';
import type { QueryConfig } from './query.config';
import { QueryDatabase } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import {
  type LibraryReplicaLag,
  type PrimaryPosition,
  type ReadPosition,
  type ReplicaLag,
  libraryReplicaLag,
  replicaLag,
} from './replica-lag';

/**
 * Measures the read database against the projector's (DATABASE_URL). The standby is asked
 * first, then the primary, so a lag is never understated. The primary is only ever asked when
 * the read database is a standby; when it does not answer (in PrimaryDatabase's short timeouts)
 * the lag is unknown (null), and the read still answers.
 */
@Injectable()
export class ReplicaLagService {
  private readonly logger = new Logger('ReplicaLagService');

  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly database: QueryDatabase,
    private readonly primary: PrimaryDatabase,
  ) {}

  /** Lag of the whole database (GET /pipeline). */
  async lag(): Promise<ReplicaLag> {
    const read = await this.readPosition();
    return replicaLag(read, read.standby ? await this.primaryPosition(null) : null);
  }

  /** Lag as one library sees it: `readNextOffset` is its partition's position read here. */
  async ofPartition(partition: number, readNextOffset: bigint | null): Promise<LibraryReplicaLag> {
    const read = await this.readPosition();
    const primary = read.standby ? await this.primaryPosition(partition) : null;
    return libraryReplicaLag(replicaLag(read, primary), readNextOffset, primary);
  }

  private async readPosition(): Promise<ReadPosition> {
    const rows = await this.database.query<{
      standby: boolean;
      replay_lsn: string | null;
      since_replay: number | null;
    }>(
      `SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replay_lsn,
              EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
                AS since_replay`,
    );
    const row = rows[0];
    return {
      standby: row.standby,
      replayLsn: row.replay_lsn,
      secondsSinceReplay: row.since_replay,
    };
  }

  /** The primary's WAL position and the partition's applied position there; null if it failed. */
  private async primaryPosition(partition: number | null): Promise<PrimaryPosition | null> {
    try {
      const rows = await this.primary.query<{ lsn: string; next_offset: string | null }>(
        `SELECT pg_current_wal_lsn()::text AS lsn, (${STORED_OFFSET_SQL}) AS next_offset`,
        [this.config.kafka.operationsTopic, partition],
      );
      const row = rows[0];
      return {
        lsn: row.lsn,
        nextOffset: row.next_offset === null ? null : BigInt(row.next_offset),
      };
    } catch (error) {
      this.logger.warn(
        `asking the primary for its position failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return null;
    }
  }
}
