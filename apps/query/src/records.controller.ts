import { Controller, Get, Inject, Param } from '@nestjs/common';
import { Access, SyncError } from '@sync/platform';
import {
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { ApiAsOf, ApiLibraryRoute, ApiListQuery } from './api-docs.decorators';
import { AsOfRepository } from './as-of.repository';
import { historyCursor, recordCursor } from './cursor';
import { HistoryRepository } from './history.repository';
import { Library, type LibraryRead } from './library-read';
import { BOOLEANS } from './query-params';
import type { QueryConfig } from './query.config';
import { ErrorBodyDto, FieldWriteDto, HistoryPageDto, RecordDto, RecordPageDto } from './query.dto';
import { QUERY_CONFIG } from './query.tokens';
import { RecordsRepository } from './records.repository';

@ApiTags('records')
@ApiExtraModels(FieldWriteDto)
@Access({ role: 'read', libraryParam: 'libraryId' })
@Controller('libraries/:libraryId/records')
export class RecordsController {
  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly records: RecordsRepository,
    private readonly asOfState: AsOfRepository,
    private readonly history: HistoryRepository,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Visible records, ordered by id' })
  @ApiLibraryRoute()
  @ApiListQuery()
  @ApiAsOf()
  @ApiQuery({ name: 'model', required: false, description: 'Only records of this model' })
  @ApiOkResponse({ type: RecordPageDto })
  async list(@Library() read: LibraryRead): Promise<RecordPageDto> {
    const { params, libraryId } = read;
    const model = params.name('model', (name) => !!this.config.schema.model(name), 'model');
    const limit = params.limit();
    const after = params.cursor(recordCursor.decode);
    const asOf = read.asOf();
    await read.ready();
    if (asOf === undefined) return this.records.page(libraryId, model, after, limit);
    await this.asOfState.checkHorizon(libraryId, asOf);
    return this.asOfState.records(libraryId, asOf, model, after, limit);
  }

  @Get(':recordId')
  @ApiOperation({ summary: 'One visible record' })
  @ApiLibraryRoute()
  @ApiAsOf()
  @ApiQuery({
    name: 'explain',
    required: false,
    enum: BOOLEANS,
    description:
      'true: add `writes` {field: {node, hybrid, offset}}, for each written field the op whose write it holds',
  })
  @ApiOkResponse({ type: RecordDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto, description: 'NOT_FOUND: no visible record' })
  async one(
    @Library() read: LibraryRead,
    @Param('recordId') rawRecordId: string,
  ): Promise<RecordDto> {
    const { params, libraryId } = read;
    const recordId = params.uuid('recordId', rawRecordId) as string;
    const explain = params.flag('explain');
    const asOf = read.asOf();
    await read.ready();
    let record: RecordDto | undefined;
    if (asOf === undefined) {
      record = explain
        ? await this.records.findExplained(libraryId, recordId)
        : await this.records.findVisible(libraryId, recordId);
    } else {
      await this.asOfState.checkHorizon(libraryId, asOf);
      record = await this.asOfState.record(libraryId, asOf, recordId, explain);
    }
    if (!record) {
      throw new SyncError('NOT_FOUND', `no visible record ${recordId} in library ${libraryId}`);
    }
    return record;
  }

  @Get(':recordId/history')
  @ApiOperation({
    summary:
      "Every op the library's log holds for this record id, accepted and rejected, in log order",
    description:
      'Items {offset, operation, status: "accepted"|"rejected", reason?} (reason only when rejected, ' +
      'the code of GET .../rejected). Deleted records keep their history. Exact duplicates are not ' +
      'listed (the op is, once); ops whose body a compaction dropped are not listed.',
  })
  @ApiLibraryRoute()
  @ApiListQuery()
  @ApiOkResponse({ type: HistoryPageDto })
  @ApiNotFoundResponse({
    type: ErrorBodyDto,
    description: 'NOT_FOUND: the log holds no op for this id',
  })
  async recordHistory(
    @Library() read: LibraryRead,
    @Param('recordId') rawRecordId: string,
  ): Promise<HistoryPageDto> {
    const { params, libraryId } = read;
    const recordId = params.uuid('recordId', rawRecordId) as string;
    const limit = params.limit();
    const after = params.cursor(historyCursor.decode) ?? -1n;
    await read.ready();
    const page = await this.history.recordHistory(libraryId, recordId, after, limit);
    if (!page) {
      throw new SyncError(
        'NOT_FOUND',
        `the log of library ${libraryId} holds no op for record ${recordId}`,
      );
    }
    return page;
  }
}
