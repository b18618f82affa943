import { backoffDelay, retryPolicy } from '../../../libs/client/src/transport/retry';
import { INGEST_PUBLISH_CLIENT_TIMEOUT_MS } from '../../support/client-timeouts';
import type { WireOp } from '../../support/reference-model';
import { sleep } from './services';
import type { FaultWorkload } from './workload';

/*
 * Drives a workload into the ingest service over HTTP, like many devices at once: several
 * requests in flight, but one at a time per library, so a library's acknowledged batches are in
 * its log order. Records every answer; the ledger is what the checks compare the database with.
 */

export interface BatchRecord {
  library: string;
  ops: WireOp[];
  /** HTTP status, or 0 when no answer came (connection refused/reset, timeout). */
  status: number;
  /** Contract error code of a non-2xx answer. */
  code?: string;
  /** Its message (shortened). */
  message?: string;
  /** Its Retry-After header, when there was one. */
  retryAfter?: string;
  startedAt: number;
  endedAt: number;
  partition?: number;
  firstOffset?: bigint;
  lastOffset?: bigint;
}

const RETRY_POLICY = retryPolicy();

export class Ledger {
  readonly batches: BatchRecord[] = [];
  private readonly byLibrary = new Map<string, BatchRecord[]>();
  ackedOps = 0;
  failedOps = 0;

  record(batch: BatchRecord): void {
    this.batches.push(batch);
    const list = this.byLibrary.get(batch.library) ?? [];
    list.push(batch);
    this.byLibrary.set(batch.library, list);
    if (batch.status === 202) this.ackedOps += batch.ops.length;
    else this.failedOps += batch.ops.length;
  }

  get libraries(): string[] {
    return [...this.byLibrary.keys()];
  }

  /** The library's acknowledged ops, in log order. */
  acknowledged(library: string): WireOp[] {
    return (this.byLibrary.get(library) ?? [])
      .filter((b) => b.status === 202)
      .flatMap((b) => b.ops);
  }

  batchesOf(library: string): BatchRecord[] {
    return this.byLibrary.get(library) ?? [];
  }

  /** Count of answers by "status code" (e.g. "202", "503 BROKER_UNAVAILABLE", "0 no answer"). */
  answers(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const b of this.batches) {
      const key =
        b.status === 0 ? '0 no answer' : b.code ? `${b.status} ${b.code}` : String(b.status);
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }
}

export interface LoadOptions {
  ingestUrl: () => string;
  workload: FaultWorkload;
  /** Stop after this many ops were sent (acknowledged or not). */
  totalOps: number;
  /** Or after this long. */
  durationMs?: number;
  batchSize: [min: number, max: number];
  /** Requests in flight (at most one per library). */
  concurrency: number;
  /** Pace: at most this many ops per second (default: as fast as the service answers). */
  opsPerSecond?: number;
  requestTimeoutMs?: number;
  /** After a failed request, wait this long before that worker sends again. */
  backoffMs?: number;
  /**
   * After an answer with Retry-After, wait as the client library does (at least that long, plus
   * jitter) instead of backoffMs.
   */
  honourRetryAfter?: boolean;
  /**
   * Keep the last `fraction` of the ops until `until` settles, so that a scenario's faults land
   * while ops still stream in however slowly the machine restarts its services.
   */
  holdTail?: { fraction: number; until: Promise<unknown> };
  ledger?: Ledger;
}

export interface RunningLoad {
  ledger: Ledger;
  /** Ops sent so far. */
  readonly sent: number;
  /** Resolves when the load is over. */
  done: Promise<Ledger>;
  stop(): void;
}

export function startLoad(options: LoadOptions): RunningLoad {
  const ledger = options.ledger ?? new Ledger();
  const libraries = [...options.workload.libraries];
  const busy = new Set<string>();
  const started = Date.now();
  let sent = 0;
  let stopped = false;
  let cursor = 0;
  const [minSize, maxSize] = options.batchSize;
  let sizeSeed = 0x9e3779b9;
  const nextSize = () => {
    sizeSeed = (Math.imul(sizeSeed ^ (sizeSeed >>> 15), 2246822507) + 0x6d2b79f5) >>> 0;
    return minSize + (sizeSeed % (maxSize - minSize + 1));
  };

  const over = () =>
    stopped ||
    sent >= options.totalOps ||
    (options.durationMs !== undefined && Date.now() - started >= options.durationMs);

  const nextLibrary = (): string | undefined => {
    for (let i = 0; i < libraries.length; i++) {
      const library = libraries[(cursor + i) % libraries.length];
      if (!busy.has(library)) {
        cursor = (cursor + i + 1) % libraries.length;
        return library;
      }
    }
    return undefined;
  };

  let tailReleased = options.holdTail === undefined;
  void options.holdTail?.until.finally(() => (tailReleased = true));
  const tailStart = options.totalOps * (1 - (options.holdTail?.fraction ?? 0));

  async function worker(): Promise<void> {
    while (!over()) {
      if (!tailReleased && sent >= tailStart) {
        await sleep(20);
        continue;
      }
      if (options.opsPerSecond !== undefined) {
        const allowed = ((Date.now() - started) / 1000) * options.opsPerSecond;
        if (sent > allowed) {
          await sleep(Math.min(200, ((sent - allowed) / options.opsPerSecond) * 1000));
          continue;
        }
      }
      const library = nextLibrary();
      if (library === undefined) {
        await sleep(5);
        continue;
      }
      busy.add(library);
      try {
        const size = Math.min(nextSize(), options.totalOps - sent);
        if (size <= 0) break;
        const ops = options.workload.nextBatch(library, size);
        sent += ops.length;
        const batch = await post(
          options.ingestUrl(),
          library,
          ops,
          options.requestTimeoutMs ?? INGEST_PUBLISH_CLIENT_TIMEOUT_MS,
        );
        ledger.record(batch);
        if (batch.status === 202) continue;
        const retryAfter = Number(batch.retryAfter);
        if (options.honourRetryAfter && retryAfter > 0) {
          await sleep(backoffDelay(RETRY_POLICY, 1, Math.random, retryAfter * 1000));
        } else if (options.backoffMs) await sleep(options.backoffMs);
      } finally {
        busy.delete(library);
      }
    }
  }

  const workers = Array.from({ length: Math.min(options.concurrency, libraries.length) }, () =>
    worker(),
  );
  const done = Promise.all(workers).then(() => ledger);
  return {
    ledger,
    get sent() {
      return sent;
    },
    done,
    stop: () => {
      stopped = true;
    },
  };
}

/** One POST of a batch; never throws. */
export async function post(
  baseUrl: string,
  library: string,
  ops: WireOp[],
  timeoutMs = INGEST_PUBLISH_CLIENT_TIMEOUT_MS,
): Promise<BatchRecord> {
  const startedAt = Date.now();
  const record: BatchRecord = { library, ops, status: 0, startedAt, endedAt: startedAt };
  try {
    const response = await fetch(`${baseUrl}/libraries/${library}/operations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ops),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    record.status = response.status;
    const body = parseJson(text) as Record<string, unknown> | undefined;
    if (response.status === 202 && body) {
      record.partition = body.partition as number;
      record.firstOffset = BigInt(body.firstOffset as string);
      record.lastOffset = BigInt(body.lastOffset as string);
    } else {
      record.code = typeof body?.error === 'string' ? body.error : `(body: ${text.slice(0, 80)})`;
      if (typeof body?.message === 'string') record.message = body.message.slice(0, 300);
      record.retryAfter = response.headers.get('retry-after') ?? undefined;
    }
  } catch {
    record.status = 0;
  }
  record.endedAt = Date.now();
  return record;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
