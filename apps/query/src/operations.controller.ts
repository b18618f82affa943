import { Controller, Get, Req, UseInterceptors } from '@nestjs/common';
import { Access, type AuthenticatedRequest, SyncError } from '@sync/platform';
import {
  ApiForbiddenResponse,
  ApiGoneResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { ApiLibraryRoute, ApiListQuery } from './api-docs.decorators';
import { operationCursor, rejectedCursor } from './cursor';
import { OperationsRepository } from './operations.repository';
import { Library, type LibraryRead, LibraryReadInterceptor } from './library-read';
import { ErrorBodyDto, FeedPageDto, RejectedPageDto } from './query.dto';

@ApiTags('operations')
@Access({ role: 'read', libraryParam: 'libraryId' })
@UseInterceptors(LibraryReadInterceptor)
@Controller('libraries/:libraryId')
export class OperationsController {
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
      "after the snapshot's offset.",
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
    @Req() request: AuthenticatedRequest,
  ): Promise<FeedPageDto> {
    const { params, libraryId } = read;
    const after = params.offset('after', true) ?? -1n;
    const limit = params.limit();
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
    const [page] = await Promise.all([
      this.operations.feed(libraryId, from, limit),
      node === null ? undefined : this.operations.recordPosition(libraryId, node, from),
    ]);
    return page;
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
