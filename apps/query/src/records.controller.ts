import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { Access } from '@sync/platform';
import {
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { SyncError } from '@sync/platform';
import { ApiLibraryRoute, ApiListQuery } from './api-docs.decorators';
import { recordCursor } from './cursor';
import { ParamReader, type RawQuery, parseLibraryId } from './query-params';
import type { QueryConfig } from './query.config';
import { ErrorBodyDto, RecordDto, RecordPageDto } from './query.dto';
import { QUERY_CONFIG } from './query.tokens';
import { ReadYourWritesService } from './read-your-writes.service';
import { RecordsRepository } from './records.repository';

@ApiTags('records')
@Access({ role: 'read', libraryParam: 'libraryId' })
@Controller('libraries/:libraryId/records')
export class RecordsController {
  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly records: RecordsRepository,
    private readonly readYourWrites: ReadYourWritesService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Visible records, ordered by id' })
  @ApiLibraryRoute()
  @ApiListQuery()
  @ApiQuery({ name: 'model', required: false, description: 'Only records of this model' })
  @ApiOkResponse({ type: RecordPageDto })
  async list(
    @Param('libraryId') rawLibraryId: string,
    @Query() query: RawQuery,
  ): Promise<RecordPageDto> {
    const libraryId = parseLibraryId(rawLibraryId);
    const params = new ParamReader(query);
    const model = params.name('model', (name) => !!this.config.schema.model(name), 'model');
    const limit = params.limit();
    const after = params.cursor(recordCursor.decode);
    const consistency = params.consistency();
    params.done();
    await this.readYourWrites.ensureApplied(libraryId, consistency);
    return this.records.page(libraryId, model, after, limit);
  }

  @Get(':recordId')
  @ApiOperation({ summary: 'One visible record' })
  @ApiLibraryRoute()
  @ApiOkResponse({ type: RecordDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto, description: 'NOT_FOUND: no visible record' })
  async one(
    @Param('libraryId') rawLibraryId: string,
    @Param('recordId') rawRecordId: string,
    @Query() query: RawQuery,
  ): Promise<RecordDto> {
    const libraryId = parseLibraryId(rawLibraryId);
    const params = new ParamReader(query);
    const recordId = params.uuid('recordId', rawRecordId);
    const consistency = params.consistency();
    params.done();
    await this.readYourWrites.ensureApplied(libraryId, consistency);
    const record = await this.records.findVisible(libraryId, recordId!);
    if (!record) {
      throw new SyncError('NOT_FOUND', `no visible record ${recordId} in library ${libraryId}`);
    }
    return record;
  }
}
