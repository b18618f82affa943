import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { Access } from '@sync/platform';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiLibraryRoute, ApiListQuery } from './api-docs.decorators';
import { relationCursor } from './cursor';
import { ParamReader, type RawQuery, parseLibraryId } from './query-params';
import type { QueryConfig } from './query.config';
import { RelationPageDto } from './query.dto';
import { QUERY_CONFIG } from './query.tokens';
import { ReadYourWritesService } from './read-your-writes.service';
import { RelationsRepository } from './relations.repository';

@ApiTags('relations')
@Access({ role: 'read', libraryParam: 'libraryId' })
@Controller('libraries/:libraryId/relations')
export class RelationsController {
  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly relations: RelationsRepository,
    private readonly readYourWrites: ReadYourWritesService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Visible relations (rule L3), ordered by relation, item, group',
  })
  @ApiLibraryRoute()
  @ApiListQuery()
  @ApiQuery({ name: 'relation', required: false, description: 'Only this relation model' })
  @ApiQuery({ name: 'item', required: false, description: 'Only relations of this item record' })
  @ApiQuery({ name: 'group', required: false, description: 'Only relations of this group record' })
  @ApiOkResponse({ type: RelationPageDto })
  async list(
    @Param('libraryId') rawLibraryId: string,
    @Query() query: RawQuery,
  ): Promise<RelationPageDto> {
    const libraryId = parseLibraryId(rawLibraryId);
    const params = new ParamReader(query);
    const relation = params.name(
      'relation',
      (name) => !!this.config.schema.relation(name),
      'relation',
    );
    const item = params.uuid('item');
    const group = params.uuid('group');
    const limit = params.limit();
    const after = params.cursor(relationCursor.decode);
    const consistency = params.consistency();
    params.done();
    await this.readYourWrites.ensureApplied(libraryId, consistency);
    return this.relations.page(libraryId, { relation, item, group }, after, limit);
  }
}
