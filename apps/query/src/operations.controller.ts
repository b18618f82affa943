import { Controller, Get, Logger, Req, Res } from '@nestjs/common';
import accepts from 'accepts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Access, type AuthenticatedRequest, SyncError } from '@sync/platform';
import {
  ApiForbiddenResponse,
  ApiGoneResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { ApiLibraryRoute, ApiListQuery } from './api-docs.decorators';
import { operationCursor, rejectedCursor } from './cursor';
import { Library, type LibraryRead } from './library-read';
import { NdjsonResponse } from './ndjson-response';
import { OperationsRepository } from './operations.repository';
import { MAX_LIMIT } from './query-params';
import { ErrorBodyDto, FeedPageDto, RejectedPageDto } from './query.dto';
import { JSON_CONTENT_TYPE } from './views';

/** Most ops one NDJSON feed answer may carry (streamed, so memory does not grow with it). */
export const MAX_STREAM_LIMIT = 100_000;

@ApiTags('operations')
@Access({ role: 'read', libraryParam: 'libraryId' })
@Controller('libraries/:libraryId')
export class OperationsController {
  private readonly logger = new Logger('OperationsController');

  constructor(private readonly operations: OperationsRepository) {}

  @Get('operations')
  @ApiOperation({
    summary: "The library's accepted, non-duplicate, non-rejected ops in log order",
    description:
      'A node pulls from here to sync: pass the offset of the last op it has as `after`, or follow nextCursor. ' +
      '`after` and `cursor` are both exclusive lower bounds; when both are given, both apply. ' +
      'Where the op log has been compacted (docs/RETENTION.md), superseded ops below the ' +
      "library's compaction horizon are no longer listed, and a read starting below it answers " +
      '410 SNAPSHOT_REQUIRED: bootstrap from GET /libraries/{libraryId}/snapshot, then pull ' +
      "after the snapshot's offset. With `Accept: application/x-ndjson` the same ops come as " +
      'NDJSON lines `{"offset","operation"}` and a last line `{"type":"end","items","nextCursor"}`, ' +
      `and \`limit\` may go up to ${MAX_STREAM_LIMIT} (a bigger page for catching up; the JSON ` +
      'form keeps the list limit of 1000). A stream without its end line is incomplete.',
  })
  @ApiLibraryRoute()
  @ApiListQuery()
  @ApiQuery({
    name: 'after',
    required: false,
    type: String,
    description: 'Only ops with a greater offset (exclusive); -1 or absent: from the start',
  })
  @ApiQuery({
    name: 'node',
    required: false,
    type: String,
    description:
      'UUID of the pulling node: records that it holds the feed through `after`, so op-log ' +
      'compaction does not drop what it still needs. A node-bound API key implies it.',
  })
  @ApiProduces('application/json', 'application/x-ndjson')
  @ApiOkResponse({ type: FeedPageDto })
  @ApiForbiddenResponse({
    type: ErrorBodyDto,
    description: 'NODE_MISMATCH: `node` differs from the node this API key is bound to',
  })
  @ApiGoneResponse({
    type: ErrorBodyDto,
    description:
      'SNAPSHOT_REQUIRED: the feed was compacted past this position; details ' +
      '[{horizon, after, snapshot}]. Bootstrap from the snapshot, then pull after its offset.',
  })
  async feed(
    @Library() read: LibraryRead,
    @Req() request: FastifyRequest & AuthenticatedRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { params, libraryId } = read;
    // Express's negotiation (the `accepts` package), which clients were served by.
    const streamed =
      accepts(request.raw).type(['application/json', 'application/x-ndjson']) ===
      'application/x-ndjson';
    const after = params.offset('after', true) ?? -1n;
    const limit = params.limit(streamed ? MAX_STREAM_LIMIT : MAX_LIMIT);
    const cursor = params.cursor(operationCursor.decode) ?? -1n;
    const named = params.uuid('node');
    read.check();
    const bound = request.principal?.node ?? null;
    if (named !== undefined && bound !== null && named !== bound) {
      throw new SyncError('NODE_MISMATCH', 'this API key is bound to another node');
    }
    const node = named ?? bound;
    await read.ready();
    const from = after > cursor ? after : cursor;
    const position =
      node === null ? undefined : this.operations.recordPosition(libraryId, node, from);
    if (!streamed) {
      const [page] = await Promise.all([this.operations.feed(libraryId, from, limit), position]);
      void reply.type(JSON_CONTENT_TYPE).send(page);
      return;
    }
    await position;
    await this.streamFeed(libraryId, from, limit, reply);
  }

  /** The NDJSON form: lines as Postgres prints them, then the end line with the cursor. */
  private async streamFeed(
    libraryId: string,
    after: bigint,
    limit: number,
    reply: FastifyReply,
  ): Promise<void> {
    const feed = await this.operations.openFeed(libraryId, after, limit);
    const body = NdjsonResponse.start(reply);
    try {
      let items = 0;
      for await (const chunk of feed.chunks()) {
        items += chunk.count;
        if (!(await body.write(chunk.text))) return;
      }
      const end = { type: 'end', items, nextCursor: await feed.nextCursor() };
      await body.write(`${JSON.stringify(end)}\n`);
      await body.end();
    } catch (error) {
      // Mid-stream: only cutting the connection can tell the reader (no end line).
      this.logger.warn(
        `feed of ${libraryId} failed mid-stream: ${error instanceof Error ? error.message : String(error)}`,
      );
      body.abort();
    } finally {
      await feed.close();
    }
  }

  @Get('rejected')
  @ApiOperation({ summary: 'Rejected ops with their reason, in log order' })
  @ApiLibraryRoute()
  @ApiListQuery()
  @ApiOkResponse({ type: RejectedPageDto })
  async rejected(@Library() read: LibraryRead): Promise<RejectedPageDto> {
    const { params, libraryId } = read;
    const limit = params.limit();
    const cursor = params.cursor(rejectedCursor.decode) ?? -1n;
    await read.ready();
    return this.operations.rejected(libraryId, cursor, limit);
  }
}
