import { Controller, Get, Headers, Param, Query, Req, Res } from '@nestjs/common';
import {
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Access } from '@sync/platform';
import { ApiLibraryRoute } from './api-docs.decorators';
import { ChangesService } from './changes.service';
import { ParamReader, type RawQuery, parseLibraryId } from './query-params';
import { ReadYourWritesService } from './read-your-writes.service';

@ApiTags('changes')
@Access({ role: 'read', libraryParam: 'libraryId' })
@Controller('libraries/:libraryId')
export class ChangesController {
  constructor(
    private readonly changes: ChangesService,
    private readonly readYourWrites: ReadYourWritesService,
  ) {}

  @Get('changes')
  @ApiOperation({
    summary: 'Live changes of records and relations, as Server-Sent Events',
    description:
      'Events `record` ({offset, id, model, deleted, data}) and `relation` ({offset, relation, item, ' +
      'group, visible, data}), each the row as it is now, in offset order. The event id is the ' +
      'offset, set on the last event of each offset: reconnect with `Last-Event-ID` (or `after`) ' +
      'to resume. Without either, starts from the beginning (every row once). Heartbeat comments ' +
      'every 15 s.',
  })
  @ApiLibraryRoute()
  @ApiQuery({
    name: 'after',
    required: false,
    type: String,
    description: 'Only changes at a greater offset (exclusive); -1 or absent: from the start',
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'Resume point sent by EventSource on reconnect; wins over `after`',
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'text/event-stream', schema: { type: 'string' } })
  async stream(
    @Param('libraryId') rawLibraryId: string,
    @Query() query: RawQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const libraryId = parseLibraryId(rawLibraryId);
    // Last-Event-ID is read like a query parameter so a bad one is a 400 naming it.
    const params = new ParamReader({
      ...query,
      ...(lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId.trim() }),
    });
    const resume = params.offset('Last-Event-ID', true);
    const after = params.offset('after', true);
    const consistency = params.consistency();
    params.done();
    await this.readYourWrites.ensureApplied(libraryId, consistency);
    await this.changes.stream(libraryId, resume ?? after ?? -1n, req, res);
  }
}
