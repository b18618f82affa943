import { type BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import { AppliedOffsetWatcher } from './applied-offset-watcher.service';
import { type Change, ChangesRepository, type ChangeKey } from './changes.repository';
import { ReadYourWritesService } from './read-your-writes.service';
import { takeRawResponse, writeWithBackpressure } from './ndjson-response';

/** Comment line this often, so proxies and clients see a live connection. */
export const HEARTBEAT_MS = 15_000;
/** Changes per database round trip. */
const PAGE = 500;

export interface ChangeStreamOptions {
  heartbeatMs?: number;
}

/**
 * Live changes of one library as Server-Sent Events. Each event is one changed record or
 * relation with its state now; the event id is the offset of the change, written on the LAST
 * event of each offset only, so a client that reconnects with Last-Event-ID never skips the rest
 * of an offset it was cut off in. Wakes on the shared applied-offset watcher (one LISTEN
 * connection for the whole service), re-checks at every heartbeat in case a notification was
 * lost.
 */
@Injectable()
export class ChangesService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('ChangesService');
  private readonly open = new Set<ServerResponse>();
  heartbeatMs = HEARTBEAT_MS;

  constructor(
    private readonly changes: ChangesRepository,
    private readonly watcher: AppliedOffsetWatcher,
    private readonly readYourWrites: ReadYourWritesService,
  ) {}

  /** Open streams keep the HTTP server from closing: end them first. */
  beforeApplicationShutdown(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }

  get openStreams(): number {
    return this.open.size;
  }

  async stream(libraryId: string, after: bigint, reply: FastifyReply): Promise<void> {
    const partition = await this.readYourWrites.partitionOf(libraryId);
    const req = reply.request.raw;
    const res = takeRawResponse(reply);
    let closed = false;
    let dirty = true;
    let wake: (() => void) | undefined;
    const poke = (): void => {
      dirty = true;
      wake?.();
    };
    const onClose = (): void => {
      closed = true;
      wake?.();
    };
    req.on('close', onClose);
    res.on('close', onClose);
    const unsubscribe = this.watcher.subscribe(partition, poke);
    const heartbeat = setInterval(() => {
      if (!res.destroyed && !res.writableEnded) res.write(': heartbeat\n\n');
      poke();
    }, this.heartbeatMs);
    this.open.add(res);
    try {
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
      res.setHeader('Cache-Control', 'no-cache, no-transform');
      res.setHeader('Connection', 'keep-alive');
      res.setHeader('X-Accel-Buffering', 'no');
      res.flushHeaders();
      res.socket?.setNoDelay(true);
      if (!(await writeWithBackpressure(res, `retry: 2000\n: after ${after}\n\n`))) return;
      let cursor = after;
      while (!closed && !res.writableEnded) {
        if (!dirty) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        dirty = false;
        const upper = await this.changes.appliedOffset(partition);
        if (upper <= cursor) continue;
        if (!(await this.emitWindow(libraryId, cursor, upper, res))) return;
        cursor = upper;
      }
    } catch (error) {
      this.logger.warn(
        `change stream of ${libraryId} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      res.destroy();
    } finally {
      clearInterval(heartbeat);
      unsubscribe();
      this.open.delete(res);
      req.off('close', onClose);
      res.off('close', onClose);
      if (!res.writableEnded && !res.destroyed) res.end();
    }
  }

  /** Sends every change in (after, upper]; false once the client has gone. */
  private async emitWindow(
    libraryId: string,
    after: bigint,
    upper: bigint,
    res: ServerResponse,
  ): Promise<boolean> {
    let from: ChangeKey = ChangesRepository.start(after);
    // Events of the offset being read: its id goes on its last event, known only once a greater
    // offset (or the end of the window) shows up.
    let group: Change[] = [];
    for (;;) {
      const page = await this.changes.page(libraryId, after, upper, from, PAGE);
      let text = '';
      for (const change of page.changes) {
        if (group.length > 0 && group[0].offset !== change.offset) {
          text += formatGroup(group);
          group = [];
        }
        group.push(change);
      }
      if (page.changes.length < PAGE || page.last === undefined) {
        text += formatGroup(group);
        return text.length === 0 || writeWithBackpressure(res, text);
      }
      if (text.length > 0 && !(await writeWithBackpressure(res, text))) return false;
      from = page.last;
    }
  }
}

function formatGroup(group: readonly Change[]): string {
  let text = '';
  group.forEach((change, index) => {
    const id = index === group.length - 1 ? `id: ${change.offset}\n` : '';
    text += `${id}event: ${change.type}\ndata: ${JSON.stringify(change)}\n\n`;
  });
  return text;
}
