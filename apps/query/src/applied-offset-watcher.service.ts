import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APPLIED_CHANNEL, STORED_OFFSET_SQL, storedOffsetsSql } from '@sync/persistence';
import { METRICS_REGISTRY, SyncError } from '@sync/platform';
import { Client, type Notification } from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { AppliedOffsets, WaitTimedOut, parseAppliedNotification } from './applied-offsets';
import type { QueryConfig } from './query.config';
import { QueryDatabase } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

/**
 * Read-your-writes without polling per request: one dedicated connection to the read database
 * wakes in-memory waiters. On a primary it LISTENs on the projector's commit notifications. On a
 * streaming standby (pg_is_in_recovery(), asked at every connect) NOTIFY never fires, so it reads
 * the standby's own partition_offsets every QUERY_STANDBY_POLL_MS while anyone waits or follows:
 * one statement for all waiters, and only offsets the standby has replayed ever let a read
 * through (see the README, "Read-your-writes on a standby"). A slow re-read (only while someone
 * waits) and a full re-read after every reconnect cover notifications that were missed.
 */
@Injectable()
export class AppliedOffsetWatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('AppliedOffsetWatcher');
  private readonly offsets = new AppliedOffsets();
  private client?: Client;
  private listening = false;
  /** The connected read database is a standby: its offsets are polled. */
  private standby = false;
  private pollTimer?: NodeJS.Timeout;
  private polling = false;
  private closed = false;
  private reconnectDelayMs = RECONNECT_MIN_MS;
  private reconnectTimer?: NodeJS.Timeout;
  private recheckTimer?: NodeJS.Timeout;
  private rechecking = false;
  private readonly waitSeconds: Histogram<'outcome'>;
  private readonly notifications: Counter;

  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly database: QueryDatabase,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.waitSeconds = new Histogram({
      name: 'query_min_offset_wait_seconds',
      help: 'Time requests with minOffset waited for their partition to be applied',
      labelNames: ['outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.notifications = new Counter({
      name: 'query_applied_notifications_total',
      help: 'sync_applied notifications received for the configured topic',
      registers: [registry],
    });
    const offsets = this.offsets;
    const isListening = (): boolean => this.listening;
    const isStandby = (): boolean => this.standby;
    new Gauge({
      name: 'query_min_offset_waiters',
      help: 'Requests currently waiting for their minOffset to be applied',
      registers: [registry],
      collect() {
        this.set(offsets.waiting);
      },
    });
    new Gauge({
      name: 'query_applied_listener_connected',
      help: '1 while the LISTEN connection for applied offsets is up',
      registers: [registry],
      collect() {
        this.set(isListening() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'query_read_database_standby',
      help: '1 while the read database is a streaming standby (applied offsets are polled)',
      registers: [registry],
      collect() {
        this.set(isStandby() ? 1 : 0);
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.recheckTimer = setInterval(() => this.recheck(), this.config.offsetRecheckMs);
    this.recheckTimer.unref();
    this.pollTimer = setInterval(() => this.poll(), this.config.standbyPollMs);
    this.pollTimer.unref();
    try {
      await this.connect();
    } catch (error) {
      this.logger.warn(`applied-offset connection failed, retrying: ${describe(error)}`);
      this.scheduleReconnect();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.recheckTimer);
    clearInterval(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    this.offsets.rejectAll(new SyncError('NOT_YET_APPLIED', 'the query service is shutting down'));
    const client = this.client;
    this.client = undefined;
    this.listening = false;
    this.standby = false;
    if (client) await client.end().catch(() => undefined);
  }

  /** Next offset to apply on `partition` as last observed (undefined: none seen yet). */
  observedNextOffset(partition: number): bigint | undefined {
    return this.offsets.nextOffset(partition);
  }

  /**
   * Calls `listener` whenever the observed applied position of `partition` rises (from the one
   * watcher connection, no connection per subscriber); returns the unsubscribe function.
   */
  subscribe(partition: number, listener: (nextOffset: bigint) => void): () => void {
    return this.offsets.subscribe(partition, listener);
  }

  /**
   * Returns once `partition` has been applied through `minOffset` (next_offset > minOffset);
   * throws 503 NOT_YET_APPLIED after `waitMs`.
   */
  async waitUntilApplied(partition: number, minOffset: bigint, waitMs: number): Promise<void> {
    if (this.offsets.isApplied(partition, minOffset)) return;
    const started = process.hrtime.bigint();
    // Register first, then read: an update committed in between still wakes us.
    const waiting = this.offsets.waitFor(partition, minOffset, waitMs);
    this.refreshPartition(partition).catch((error: unknown) =>
      this.logger.warn(`reading applied offset failed: ${describe(error)}`),
    );
    try {
      await waiting;
      this.observeWait(started, 'applied');
    } catch (error) {
      if (!(error instanceof WaitTimedOut)) throw error;
      // Last look at the table itself before answering 503, in case a notification was lost.
      await this.refreshPartition(partition).catch(() => undefined);
      if (this.offsets.isApplied(partition, minOffset)) {
        this.observeWait(started, 'applied');
        return;
      }
      this.observeWait(started, 'timeout');
      const next = this.offsets.nextOffset(partition);
      const applied = next === undefined || next === 0n ? null : (next - 1n).toString();
      throw new SyncError(
        'NOT_YET_APPLIED',
        `partition ${partition} is applied through ${applied ?? 'nothing yet'}, not yet through offset ${minOffset} (waited ${waitMs} ms)`,
        [{ partition, appliedOffset: applied, minOffset: minOffset.toString(), waitMs }],
        { 'Retry-After': '1' },
      );
    }
  }

  private observeWait(started: bigint, outcome: 'applied' | 'timeout'): void {
    this.waitSeconds.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
  }

  private async refreshPartition(partition: number): Promise<void> {
    const rows = await this.database.query<{ next_offset: string }>(STORED_OFFSET_SQL, [
      this.config.kafka.operationsTopic,
      partition,
    ]);
    if (rows[0]) this.offsets.observe(partition, BigInt(rows[0].next_offset));
  }

  private async refreshAll(): Promise<void> {
    const rows = await this.database.query<{ partition: number; next_offset: string }>(
      storedOffsetsSql(),
      [this.config.kafka.operationsTopic],
    );
    for (const row of rows) this.offsets.observe(row.partition, BigInt(row.next_offset));
  }

  /** On a standby: the replayed offsets, on the dedicated connection (never queued behind reads). */
  private poll(): void {
    const client = this.client;
    if (!this.standby || !client || this.polling || !this.offsets.watched) return;
    this.polling = true;
    client
      .query<{ partition: number; next_offset: string }>(storedOffsetsSql(), [
        this.config.kafka.operationsTopic,
      ])
      .then(({ rows }) => {
        for (const row of rows) this.offsets.observe(row.partition, BigInt(row.next_offset));
      })
      .catch((error: unknown) => this.logger.warn(`polling the standby failed: ${describe(error)}`))
      .finally(() => (this.polling = false));
  }

  private recheck(): void {
    if (this.closed || this.rechecking || this.offsets.waiting === 0) return;
    this.rechecking = true;
    this.refreshAll()
      .catch((error: unknown) => this.logger.warn(`safety re-read failed: ${describe(error)}`))
      .finally(() => (this.rechecking = false));
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: this.config.databaseUrl,
      application_name: 'sync-query-watcher',
      connectionTimeoutMillis: 5000,
      keepAlive: true,
    });
    client.on('notification', (message: Notification) => this.onNotification(message));
    client.on('error', (error: Error) => this.onLost(client, error));
    client.on('end', () => this.onLost(client));
    this.client = client;
    let standby: boolean;
    try {
      await client.connect();
      const { rows } = await client.query<{ standby: boolean }>(
        'SELECT pg_is_in_recovery() AS standby',
      );
      standby = rows[0].standby;
      if (!standby) await client.query(`LISTEN ${APPLIED_CHANNEL}`);
    } catch (error) {
      this.client = undefined;
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    if (standby !== this.standby) {
      this.logger.log(
        standby
          ? `the read database is a standby: polling its applied offsets every ${this.config.standbyPollMs} ms while requests wait`
          : 'the read database is a primary: listening for applied offsets',
      );
    }
    this.standby = standby;
    this.listening = !standby;
    this.reconnectDelayMs = RECONNECT_MIN_MS;
    // Anything committed before LISTEN took effect was not notified to us.
    await this.refreshAll().catch((error: unknown) =>
      this.logger.warn(`reading applied offsets failed: ${describe(error)}`),
    );
  }

  private onNotification(message: Notification): void {
    if (message.channel !== APPLIED_CHANNEL) return;
    const parsed = parseAppliedNotification(message.payload);
    if (parsed === null) {
      this.logger.warn(`ignoring malformed ${APPLIED_CHANNEL} payload ${message.payload ?? ''}`);
      return;
    }
    if (parsed.topic !== this.config.kafka.operationsTopic) return;
    this.notifications.inc();
    this.offsets.observe(parsed.partition, parsed.nextOffset);
  }

  private onLost(client: Client, error?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.listening = false;
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.logger.warn(
      `applied-offset connection lost${error ? `: ${error.message}` : ''}; reconnecting`,
    );
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((error: unknown) => {
        this.logger.warn(`applied-offset reconnect failed: ${describe(error)}`);
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
