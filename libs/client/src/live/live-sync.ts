import type { SyncNode, SyncReport } from '../sync-node';

/** What LiveSync needs of a node (any schema typing). */
export type SyncingNode = Pick<SyncNode, 'libraryId' | 'pulledThrough' | 'sync'>;
import { type ChangeStreamState, followChangeStream } from './change-stream';

export interface LiveSyncOptions {
  /** Base URL of the query service (the transport's queryUrl). */
  queryUrl: string;
  /** The transport's headers, e.g. the Bearer key. */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
  retryMs?: number;
  /**
   * Also sync this often whatever the stream says (ms; 0 = never, the default). A fallback where
   * a proxy buffers event streams: then the feed is simply polled.
   */
  pollMs?: number;
  onSync?(report: SyncReport): void;
  onError?(error: unknown): void;
  onState?(state: ChangeStreamState): void;
}

/**
 * Keeps a node in sync while it runs. The changes stream is only the signal: an event past the
 * node's position, or a (re)connection, triggers sync(), so the state still comes from the op
 * feed through the merge engine, the digest can be verified, and a missed event costs nothing
 * (the next sync pulls from the node's own cursor). Syncs never overlap; requests that arrive
 * during one are folded into one more. Call kick() after local edits to push them at once.
 */
export class LiveSync {
  private running = false;
  private again = false;
  private readonly stopStream: () => void;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;

  private constructor(
    private readonly node: SyncingNode,
    private readonly options: LiveSyncOptions,
  ) {
    this.stopStream = followChangeStream({
      queryUrl: options.queryUrl,
      libraryId: node.libraryId,
      after: node.pulledThrough,
      headers: options.headers,
      fetch: options.fetch,
      retryMs: options.retryMs,
      onEvent: (event) => {
        if (event.id !== undefined && isPast(event.id, this.node.pulledThrough)) this.kick();
      },
      onState: (state) => {
        // Back online: push what waited in the outbox and pull what was missed.
        if (state.state === 'live') this.kick();
        options.onState?.(state);
      },
    });
    const pollMs = options.pollMs ?? 0;
    this.timer = pollMs > 0 ? setInterval(() => this.kick(), pollMs) : undefined;
  }

  static start(node: SyncingNode, options: LiveSyncOptions): LiveSync {
    return new LiveSync(node, options);
  }

  /** Requests a sync (now, or right after the one running). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.stopStream();
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        // Not inside onSync?.(...): without a listener the call, sync included, would be skipped.
        const report = await this.node.sync();
        this.options.onSync?.(report);
      } catch (error) {
        this.options.onError?.(error);
      }
    } while (this.again && !this.stopped);
    this.running = false;
  }
}

function isPast(offset: string, position: string | null): boolean {
  return position === null || BigInt(offset) > BigInt(position);
}
