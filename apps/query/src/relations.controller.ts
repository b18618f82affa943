import { Controller, Get, Inject } from '@nestjs/common';
import { Access, SyncError } from '@sync/platform';
import {
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { relationKey } from '@sync/protocol';
import { ApiAsOf, ApiLibraryRoute, ApiListQuery } from './api-docs.decorators';
import { AsOfRepository } from './as-of.repository';
import { historyCursor, relationCursor } from './cursor';
import { HistoryRepository } from './history.repository';
import { Library, type LibraryRead } from './library-read';
import type { QueryConfig } from './query.config';
import { ErrorBodyDto, HistoryPageDto, RelationPageDto } from './query.dto';
import { QUERY_CONFIG } from './query.tokens';
import { RelationsRepository } from './relations.repository';

@ApiTags('relations')
@Access({ role: 'read', libraryParam: 'libraryId' })
@Controller('libraries/:libraryId/relations')
export class RelationsController {
  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly relations: RelationsRepository,
    private readonly asOfState: AsOfRepository,
    private readonly history: HistoryRepository,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Visible relations (rule L3), ordered by relation, item, group',
  })
  @ApiLibraryRoute()
  @ApiListQuery()
  @ApiAsOf()
  @ApiQuery({ name: 'relation', required: false, description: 'Only this relation model' })
  @ApiQuery({ name: 'item', required: false, description: 'Only relations of this item record' })
  @ApiQuery({ name: 'group', required: false, description: 'Only relations of this group record' })
  @ApiOkResponse({ type: RelationPageDto })
  async list(@Library() read: LibraryRead): Promise<RelationPageDto> {
    const { params, libraryId } = read;
    const relation = params.name(
      'relation',
      (name) => !!this.config.schema.relation(name),
      'relation',
    );
    const item = params.uuid('item');
    const group = params.uuid('group');
    const limit = params.limit();
    const after = params.cursor(relationCursor.decode);
    const asOf = read.asOf();
    await read.ready();
    const filter = { relation, item, group };
    if (asOf === undefined) return this.relations.page(libraryId, filter, after, limit);
    await this.asOfState.checkHorizon(libraryId, asOf);
    return this.asOfState.relations(libraryId, asOf, filter, after, limit);
  }

  @Get('history')
  @ApiOperation({
    summary:
      "Every op the library's log holds for one relation key, accepted and rejected, in log order",
    description:
      'Items {offset, operation, status: "accepted"|"rejected", reason?} as for a record\'s history. ' +
      'relation, item and group are all required.',
  })
  @ApiLibraryRoute()
  @ApiListQuery()
  @ApiQuery({ name: 'relation', required: true, description: 'Relation name' })
  @ApiQuery({ name: 'item', required: true, description: 'relationItem (UUID)' })
  @ApiQuery({ name: 'group', required: true, description: 'relationGroup (UUID)' })
  @ApiOkResponse({ type: HistoryPageDto })
  @ApiNotFoundResponse({
    type: ErrorBodyDto,
    description: 'NOT_FOUND: the log holds no op for this key',
  })
  async relationHistory(@Library() read: LibraryRead): Promise<HistoryPageDto> {
    const { params, libraryId } = read;
    // Any name: ops naming an unknown relation are rejected, and their history is still asked for.
    const relation = params.name('relation', (name) => name.length > 0, 'relation');
    const item = params.uuid('item');
    const group = params.uuid('group');
    for (const [name, value] of Object.entries({ relation, item, group })) {
      if (value === undefined && params.absent(name)) params.fail(name, 'is required');
    }
    const limit = params.limit();
    const after = params.cursor(historyCursor.decode) ?? -1n;
    await read.ready();
    const key = relationKey(relation as string, item as string, group as string);
    const page = await this.history.relationHistory(libraryId, key, after, limit);
    if (!page) {
      throw new SyncError(
        'NOT_FOUND',
        `the log of library ${libraryId} holds no op for ${relation} ${item} ${group}`,
      );
    }
    return page;
  }
}
