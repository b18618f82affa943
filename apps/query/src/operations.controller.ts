import { Controller, Get, Param, Query } from '@nestjs/common';
import { Access } from '@sync/platform';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiLibraryRoute, ApiListQuery } from './api-docs.decorators';
import { operationCursor, rejectedCursor } from './cursor';
import { OperationsRepository } from './operations.repository';
import { ParamReader, type RawQuery, parseLibraryId } from './query-params';
import { FeedPageDto, RejectedPageDto } from './query.dto';
import { ReadYourWritesService } from './read-your-writes.service';

@ApiTags('operations')
@Access({ role: 'read', libraryParam: 'libraryId' })
@Controller('libraries/:libraryId')
export class OperationsController {
  constructor(
    private readonly operations: OperationsRepository,
    private readonly readYourWrites: ReadYourWritesService,
  ) {}

  @Get('operations')
  @ApiOperation({
    summary: "The library's accepted, non-duplicate, non-rejected ops in log order",
    description:
      'A node pulls from here to sync: pass the offset of the last op it has as `after`, or follow nextCursor. ' +
      '`after` and `cursor` are both exclusive lower bounds; when both are given, both apply.',
  })
  @ApiLibraryRoute()
  @ApiListQuery()
  @ApiQuery({
    name: 'after',
    required: false,
    type: String,
    description: 'Only ops with a greater offset (exclusive); -1 or absent: from the start',
  })
  @ApiOkResponse({ type: FeedPageDto })
  async feed(
    @Param('libraryId') rawLibraryId: string,
    @Query() query: RawQuery,
  ): Promise<FeedPageDto> {
    const libraryId = parseLibraryId(rawLibraryId);
    const params = new ParamReader(query);
    const after = params.offset('after', true) ?? -1n;
    const limit = params.limit();
    const cursor = params.cursor(operationCursor.decode) ?? -1n;
    const consistency = params.consistency();
    params.done();
    await this.readYourWrites.ensureApplied(libraryId, consistency);
    return this.operations.feed(libraryId, after > cursor ? after : cursor, limit);
  }

  @Get('rejected')
  @ApiOperation({ summary: 'Rejected ops with their reason, in log order' })
  @ApiLibraryRoute()
  @ApiListQuery()
  @ApiOkResponse({ type: RejectedPageDto })
  async rejected(
    @Param('libraryId') rawLibraryId: string,
    @Query() query: RawQuery,
  ): Promise<RejectedPageDto> {
    const libraryId = parseLibraryId(rawLibraryId);
    const params = new ParamReader(query);
    const limit = params.limit();
    const cursor = params.cursor(rejectedCursor.decode) ?? -1n;
    const consistency = params.consistency();
    params.done();
    await this.readYourWrites.ensureApplied(libraryId, consistency);
    return this.operations.rejected(libraryId, cursor, limit);
  }
}
