import { Controller, Get, Headers, Res } from '@nestjs/common';
import {
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Access } from '@sync/platform';
import { ApiLibraryRoute } from './api-docs.decorators';
import { ChangesService } from './changes.service';
import { Library, type LibraryRead } from './library-read';

@ApiTags('changes')
@Access({ role: 'read', libraryParam: 'libraryId' })
@Controller('libraries/:libraryId')
export class ChangesController {
  constructor(private readonly changes: ChangesService) {}

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
    @Library() read: LibraryRead,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    // Last-Event-ID is read like a query parameter so a bad one is a 400 naming it.
    const resume = read.params.offset('Last-Event-ID', true, lastEventId?.trim());
    const after = read.params.offset('after', true);
    await read.ready();
    await this.changes.stream(read.libraryId, resume ?? after ?? -1n, reply);
  }
}
