import { type KafkaConfig, OffsetReservation, TopicAdmin } from '@sync/kafka';
import {
  APPLIED_CHANNEL,
  CUSTOM_PLANS_OPTION,
  TopicPartitionsRepository,
  quoteIdent,
} from '@sync/persistence';
import type { Schema } from '@sync/protocol';
import { Client, Pool } from 'pg';
import { ProjectionService } from '../projection.service';
import type { ProjectorConfig } from '../projector.config';
import { findCorrections, recordCorrections } from './change-corrections';
import { correctedPartitions, correctionOffsets } from './correction-offsets';
import { lockLiveTables } from './live-tables-lock';
import { type ProgressSnapshot, formatCount } from './rebuild-progress';
import { CatchUpTimedOut, ReplayConsumer } from './replay.consumer';
import {
  PROJECTION_TABLES,
  type TableDifference,
  checkLiveTables,
  compareTables,
  createShadowTables,
  externalForeignKeys,
  silenceNotifications,
  storedOffsets,
  swapTables,
  validateForeignKeys,
} from './shadow-tables';

export interface RebuildSettings {
  databaseUrl: string;
  topic: string;
  /** The live projector's group; the replay uses a group derived from it, never this one. */
  liveGroupId: string;
  schema: Schema;
  chunkOps: number;
  concurrency: number;
  maxBatchBytes: number;
  sessionTimeoutMs: number;
}

/** The rebuild's settings from the projector's configuration (it replays as the projector applies). */
export function rebuildSettings(config: ProjectorConfig): RebuildSettings {
  return {
    databaseUrl: config.databaseUrl,
    topic: config.kafka.operationsTopic,
    liveGroupId: config.groupId,
    schema: config.schema,
    chunkOps: config.chunkOps,
    concurrency: config.concurrency,
    maxBatchBytes: config.maxBatchBytes,
    sessionTimeoutMs: config.sessionTimeoutMs,
  };
}

export interface RebuildOptions {
  /** Build and compare with the live tables, then drop the new tables: no switch. */
  dryRun: boolean;
  /** Drop the retired tables once the switch committed. */
  dropOld: boolean;
  /** Offsets (summed over partitions) behind the live tables at which a switch is attempted. */
  maxLag: number;
  /** Longest wait for the lock on the live tables, per attempt. */
  lockTimeoutMs: number;
  /** Longest time the live tables stay locked while the new ones catch up, per attempt. */
  catchUpTimeoutMs: number;
  /** Switch attempts before giving up (a lock not granted, a catch-up too slow). */
  attempts: number;
  /**
   * The topic the live tables follow when it is not SYNC_TOPIC: the source `cli repartition`
   * copied into SYNC_TOPIC. The switch marks it replaced (no service starts on it again).
   */
  fromTopic?: string;
}

export const DEFAULT_REBUILD_OPTIONS: RebuildOptions = {
  dryRun: false,
  dropOld: false,
  maxLag: 1000,
  lockTimeoutMs: 5000,
  catchUpTimeoutMs: 10_000,
  attempts: 5,
};

export interface RebuildResult {
  switched: boolean;
  /** Schema the new tables were built in (dropped or emptied by the end). */
  shadowSchema: string;
  /** Schema holding the previous live tables, unless dropped. */
  retiredSchema: string | null;
  /** Offsets of the topic in the new tables, per partition. */
  offsets: Record<string, string>;
  /** Offsets applied by the replay (summed over partitions). */
  replayed: string;
  deadLetters: number;
  /** How long the live tables were locked for the switch (or the comparison), ms. */
  lockedMs: number | null;
  seconds: number;
  differences?: TableDifference[];
  /** Rows whose content the switch changed, filed for `/changes` followers (none on a dry run). */
  corrected: { records: number; relations: number };
}

export interface RebuildHooks {
  /** A line for the operator (progress reporter's message channel). */
  log(line: string): void;
  /** Called once the replay runs, with a live view of its progress. */
  onProgress?(snapshot: () => ProgressSnapshot): void;
  /** True once the operator asked to stop (SIGINT/SIGTERM). */
  interrupted(): boolean;
}

export class RebuildInterrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'RebuildInterrupted';
  }
}

interface SwitchOutcome {
  offsets: Map<number, bigint>;
  lockedMs: number;
  differences?: TableDifference[];
  corrected: { records: number; relations: number };
}

/** Switch attempts that may be retried: lock not granted in time, deadlock, catch-up too slow. */
function retryable(error: unknown): boolean {
  if (error instanceof CatchUpTimedOut) return true;
  const code = (error as { code?: string }).code;
  return code === '55P03' || code === '40P01';
}

/** Key of the session-level advisory lock that keeps two rebuilds of one database apart. */
const REBUILD_LOCK_KEY = 'sync-projection-rebuild';

/**
 * Rebuilds the projection from the topic without downtime: empty copies of the projection tables
 * in a schema of their own, a replay of the whole topic into them with the projector's own
 * ProjectionService (while the live tables keep serving and the live projector keeps applying),
 * then one transaction that locks the live tables, brings the copies to exactly the live position
 * and swaps the schemas. Before that commit nothing live changed; any failure drops the copies.
 */
export class ProjectionRebuild {
  private readonly stamp: string;
  /** Partition count of options.fromTopic, read by the preflight. */
  private fromTopicPartitions = 0;

  constructor(
    private readonly settings: RebuildSettings,
    private readonly kafka: KafkaConfig,
    private readonly options: RebuildOptions,
    private readonly hooks: RebuildHooks,
    now = new Date(),
  ) {
    this.stamp = now
      .toISOString()
      .replace(/[-:TZ]/g, '')
      .replace(/\..*$/, '');
  }

  get shadowSchema(): string {
    return `sync_rebuild_${this.stamp}`;
  }

  get retiredSchema(): string {
    return `sync_retired_${this.stamp}`;
  }

  async run(): Promise<RebuildResult> {
    const started = Date.now();
    const admin = new Client({
      connectionString: this.settings.databaseUrl,
      application_name: 'sync-rebuild',
      connectionTimeoutMillis: 5000,
    });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_lock(hashtext($1)) AS locked`,
        [REBUILD_LOCK_KEY],
      );
      if (!rows[0].locked) throw new Error('another rebuild of this database is running');
      const partitions = await this.preflight(admin);
      let result: RebuildResult;
      try {
        await this.inTransaction(admin, async () => {
          await createShadowTables(admin, this.shadowSchema);
          await silenceNotifications(admin, this.shadowSchema);
        });
        result = await this.replayAndSwitch(admin, partitions, started);
      } catch (error) {
        await admin.query('ROLLBACK').catch(() => undefined);
        await this.dropSchema(admin, this.shadowSchema).catch((dropError: unknown) =>
          this.hooks.log(
            `rebuild: could not drop ${this.shadowSchema}: ${describe(dropError)}; drop it by hand`,
          ),
        );
        throw error;
      }
      // From here on the switch is done: a failure to tidy up is reported, not fatal.
      await this.finish(admin).catch((error: unknown) =>
        this.hooks.log(`rebuild: cleaning up after the switch failed: ${describe(error)}`),
      );
      return result;
    } finally {
      await admin.end().catch(() => undefined);
    }
  }

  /** Checks that a rebuild can reproduce the live tables; returns the topic's partitions. */
  private async preflight(admin: Client): Promise<number[]> {
    await checkLiveTables(admin);
    const { rows: leftovers } = await admin.query<{ nspname: string }>(
      `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sync\\_rebuild\\_%' ORDER BY 1`,
    );
    for (const { nspname } of leftovers) {
      // A rebuild killed outright (SIGKILL, a crash) cannot clean up. This one holds the
      // session-level lock, which a dead rebuild's connection no longer does: its copies are
      // no one's, and only ever new tables (the live ones are never moved into this schema).
      await this.dropSchema(admin, nspname);
      this.hooks.log(`rebuild: dropped schema ${nspname}, left by a rebuild that did not finish`);
    }
    const { rows: topics } = await admin.query<{ topic: string }>(
      `SELECT DISTINCT topic FROM public.partition_offsets WHERE topic <> ALL($1::text[])`,
      [
        [
          this.settings.topic,
          ...(this.options.fromTopic === undefined ? [] : [this.options.fromTopic]),
        ],
      ],
    );
    if (topics.length > 0) {
      throw new Error(
        `partition_offsets also holds topic(s) ${topics.map((t) => t.topic).join(', ')}; ` +
          `a rebuild replays only ${this.settings.topic}`,
      );
    }
    const kafkaAdmin = new TopicAdmin(this.kafka);
    try {
      if (this.options.fromTopic !== undefined) {
        // A projector still on the old topic would find no position for it after the switch
        // and apply that topic again into the new tables.
        const members = await kafkaAdmin.groupMembers(this.settings.liveGroupId);
        if (members > 0) {
          throw new Error(
            `consumer group ${this.settings.liveGroupId} has ${members} member(s): stop the ` +
              `projectors of ${this.options.fromTopic} before switching topics`,
          );
        }
        this.fromTopicPartitions = (
          await kafkaAdmin.partitionOffsets(this.options.fromTopic)
        ).length;
      }
      const offsets = await kafkaAdmin.partitionOffsets(this.settings.topic);
      // Retention already deleted the start of the log: a replay would lose those ops.
      const truncated = offsets.filter((p) => p.low > 0n);
      if (truncated.length > 0) {
        throw new Error(
          `the topic no longer starts at offset 0 (partition ${truncated[0].partition} starts at ${truncated[0].low}): ` +
            `a replay cannot reproduce the ops retention removed`,
        );
      }
      return offsets.map((p) => p.partition);
    } finally {
      await kafkaAdmin.close();
    }
  }

  private async replayAndSwitch(
    admin: Client,
    partitions: number[],
    started: number,
  ): Promise<RebuildResult> {
    const shadow = this.shadowSchema;
    const pool = new Pool({
      connectionString: this.settings.databaseUrl,
      max: this.settings.concurrency + 1,
      application_name: 'sync-rebuild-replay',
      connectionTimeoutMillis: 5000,
      // Only the new tables are visible (nothing can reach the live ones), and the no-op
      // pg_notify there comes before pg_catalog's. The tables fill from empty: custom plans.
      options: `-c search_path=${shadow},pg_catalog ${CUSTOM_PLANS_OPTION}`,
    });
    pool.on('error', () => undefined);
    const projection = new ProjectionService(
      pool,
      this.settings.schema,
      this.settings.chunkOps,
      (library, offset, error) =>
        this.hooks.log(
          `rebuild: merge failed on library ${library} offset ${offset}: ${describe(error)}`,
        ),
    );
    const replay = new ReplayConsumer(
      this.kafka,
      {
        topic: this.settings.topic,
        groupId: `${this.settings.liveGroupId}-rebuild-${this.stamp}`,
        partitions,
        concurrency: this.settings.concurrency,
        maxBatchBytes: this.settings.maxBatchBytes,
        sessionTimeoutMs: this.settings.sessionTimeoutMs,
      },
      projection,
      this.hooks.log,
    );
    let phase = 'replaying';
    /** Live positions as last read; the distance is taken against the replay's current ones. */
    let live: Map<number, bigint> | undefined;
    const behind = (): bigint => {
      let lag = 0n;
      for (const [partition, offset] of live ?? []) {
        const gap = offset - replay.position(partition);
        if (gap > 0n) lag += gap;
      }
      return lag;
    };
    const endsTimer = setInterval(() => {
      void this.readEnds(replay);
    }, 5000);
    await this.readEnds(replay);
    const endAtStart = replay.end;
    this.hooks.onProgress?.(() => ({
      phase,
      done: Number(replay.applied),
      total: Number(replay.end),
      behindLive: live === undefined ? undefined : Number(behind()),
    }));
    try {
      await replay.start();
      for (let attempt = 1; ; attempt++) {
        // Wait until the new tables are close behind the live ones.
        for (;;) {
          this.checkRunning(replay);
          live = await storedOffsets(admin, 'public', this.settings.topic);
          const lag = behind();
          // Also through the topic as it was at the start, so an idle or stopped live projector
          // does not make a half-built copy look ready.
          const replayedEnough = replay.applied + BigInt(this.options.maxLag) >= endAtStart;
          if (lag <= BigInt(this.options.maxLag) && replayedEnough) break;
          await sleep(200);
        }
        phase = this.options.dryRun ? 'comparing' : 'switching';
        try {
          const outcome = await this.switchOver(admin, replay, partitions);
          const result: RebuildResult = {
            switched: !this.options.dryRun,
            shadowSchema: shadow,
            retiredSchema: this.options.dryRun ? null : this.retiredSchema,
            offsets: Object.fromEntries(
              [...outcome.offsets].map(([partition, offset]) => [
                String(partition),
                offset.toString(),
              ]),
            ),
            replayed: replay.applied.toString(),
            deadLetters: replay.deadLetters,
            lockedMs: outcome.lockedMs,
            seconds: (Date.now() - started) / 1000,
            differences: outcome.differences,
            corrected: outcome.corrected,
          };
          phase = 'done';
          return result;
        } catch (error) {
          if (!retryable(error) || attempt >= this.options.attempts) throw error;
          this.hooks.log(
            `rebuild: switch attempt ${attempt} of ${this.options.attempts} did not go through (${describe(error)}); catching up again`,
          );
          phase = 'replaying';
          replay.resume();
        }
      }
    } finally {
      clearInterval(endsTimer);
      await replay.stop();
      await pool.end().catch(() => undefined);
      await this.deleteGroup(`${this.settings.liveGroupId}-rebuild-${this.stamp}`);
    }
  }

  /**
   * One transaction: lock the live tables (a projector batch in flight finishes first; new ones
   * and readers wait), bring the new tables to exactly the live offsets, swap, notify, commit.
   * A dry run locks in SHARE mode (readers go on, the projector waits), compares, rolls back.
   */
  private async switchOver(
    admin: Client,
    replay: ReplayConsumer,
    partitions: number[],
  ): Promise<SwitchOutcome> {
    const shadow = this.shadowSchema;
    await replay.hold();
    const external = this.options.dryRun ? [] : await externalForeignKeys(admin);
    // Connected before the lock, so taking offsets under it costs one transaction's round trips.
    const reservation = this.options.dryRun
      ? undefined
      : new OffsetReservation(
          this.kafka,
          this.settings.topic,
          `${this.settings.liveGroupId}-rebuild.${this.settings.topic}`,
        );
    await admin.query('BEGIN');
    let lockedAt: number | undefined;
    try {
      await reservation?.connect();
      // Tables whose foreign keys are re-pointed are altered too: lock them with the others.
      const tables = [
        ...PROJECTION_TABLES.map((table) => `public.${quoteIdent(table)}`),
        ...new Set(external.map((key) => `${quoteIdent(key.schema)}.${quoteIdent(key.table)}`)),
      ];
      await lockLiveTables(
        admin,
        tables,
        this.options.dryRun ? 'SHARE' : 'ACCESS EXCLUSIVE',
        this.options.lockTimeoutMs,
      );
      lockedAt = Date.now();
      // Everything needed is locked: what follows touches only the copies.
      await admin.query(`SET LOCAL lock_timeout = ${this.options.lockTimeoutMs}`);
      const live = await storedOffsets(admin, 'public', this.settings.topic);
      await replay.catchUpTo(live, this.options.catchUpTimeoutMs);
      const rebuilt = await storedOffsets(admin, shadow, this.settings.topic);
      for (const [partition, offset] of live) {
        const reached = rebuilt.get(partition) ?? 0n;
        if (reached < offset) {
          throw new Error(
            `partition ${partition}: the new tables stopped at ${reached}, the live ones are at ${offset}`,
          );
        }
      }
      if (this.options.dryRun) {
        const differences = await compareTables(admin, 'public', shadow);
        await admin.query('ROLLBACK');
        return {
          offsets: rebuilt,
          lockedMs: Date.now() - lockedAt,
          differences,
          corrected: { records: 0, relations: 0 },
        };
      }
      const corrected = await this.fileCorrections(admin, reservation, partitions.length);
      await swapTables(admin, shadow, this.retiredSchema, external);
      if (this.options.fromTopic !== undefined) {
        await new TopicPartitionsRepository(admin).markReplaced(
          this.options.fromTopic,
          this.fromTopicPartitions,
          this.settings.topic,
        );
      }
      // Query services learn the positions of the new tables (equal to or past the live ones).
      for (const partition of partitions) {
        const offset = rebuilt.get(partition);
        if (offset === undefined) continue;
        await admin.query(`SELECT pg_catalog.pg_notify($1, $2)`, [
          APPLIED_CHANNEL,
          `${this.settings.topic}:${partition}:${offset}`,
        ]);
      }
      await admin.query('COMMIT');
      const lockedMs = Date.now() - lockedAt;
      this.hooks.log(
        `rebuild: switched in one transaction; live tables locked for ${lockedMs} ms; previous tables in schema ${this.retiredSchema}`,
      );
      const problems = await validateForeignKeys(admin, external);
      for (const problem of problems) {
        this.hooks.log(`rebuild: foreign key not valid against the new tables: ${problem}`);
      }
      if (corrected.records + corrected.relations > 0) {
        this.hooks.log(
          `rebuild: ${corrected.records} record(s) and ${corrected.relations} relation(s) differed from the live tables; filed for /changes followers`,
        );
      }
      return { offsets: rebuilt, lockedMs, corrected };
    } catch (error) {
      await admin.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      await reservation?.close();
    }
  }

  /**
   * Inside the switch, live tables locked and both sets at the same position: the rows whose
   * content the switch changes are filed as corrections at an offset reserved now in their
   * partition. The live projector cannot have applied anything at or past it (it waits for the
   * lock), so it lies past every `/changes` cursor handed out before; the change stream emits
   * the rows there once the projector moves past the aborted record.
   */
  private async fileCorrections(
    admin: Client,
    reservation: OffsetReservation | undefined,
    partitionCount: number,
  ): Promise<{ records: number; relations: number }> {
    const libraries = await findCorrections(admin, 'public', this.shadowSchema);
    if (libraries.length === 0 || reservation === undefined) return { records: 0, relations: 0 };
    const reserved = await reservation.reserve(correctedPartitions(libraries, partitionCount));
    // The correction tables are not projection tables: the swap leaves them in place.
    return recordCorrections(
      admin,
      'public',
      correctionOffsets(libraries, partitionCount, reserved),
    );
  }

  /** After a switch or a dry run: drop the schema the copies were built in, and maybe the old. */
  private async finish(admin: Client): Promise<void> {
    await this.dropSchema(admin, this.shadowSchema);
    if (!this.options.dryRun && this.options.dropOld) {
      await this.dropSchema(admin, this.retiredSchema);
      this.hooks.log(`rebuild: dropped the previous tables (${this.retiredSchema})`);
    }
  }

  private async dropSchema(admin: Client, schema: string): Promise<void> {
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  }

  private checkRunning(replay: ReplayConsumer): void {
    if (this.hooks.interrupted()) throw new RebuildInterrupted();
    if (replay.failure) throw replay.failure;
  }

  private async readEnds(replay: ReplayConsumer): Promise<void> {
    const kafkaAdmin = new TopicAdmin(this.kafka);
    try {
      for (const p of await kafkaAdmin.partitionOffsets(this.settings.topic)) {
        replay.observeEnd(p.partition, p.high);
      }
    } catch {
      // Progress only: the fetches keep the ends current too.
    } finally {
      await kafkaAdmin.close();
    }
  }

  private async deleteGroup(groupId: string): Promise<void> {
    const kafkaAdmin = new TopicAdmin(this.kafka);
    try {
      await kafkaAdmin.deleteGroup(groupId);
    } catch {
      // An empty group of a finished replay expires by itself.
    } finally {
      await kafkaAdmin.close();
    }
  }

  private async inTransaction(admin: Client, work: () => Promise<void>): Promise<void> {
    await admin.query('BEGIN');
    try {
      await work();
      await admin.query('COMMIT');
    } catch (error) {
      await admin.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}

export function describeDifferences(differences: readonly TableDifference[]): string[] {
  return differences.map((d) => {
    const same = d.onlyLive === 0 && d.onlyRebuilt === 0;
    return `  ${d.table.padEnd(20)} live ${formatCount(d.liveRows).padStart(10)}  rebuilt ${formatCount(d.rebuiltRows).padStart(10)}  ${
      same
        ? 'identical'
        : `${formatCount(d.onlyLive)} only live, ${formatCount(d.onlyRebuilt)} only rebuilt`
    }`;
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
