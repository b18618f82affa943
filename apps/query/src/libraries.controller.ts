import { Controller, Get, Query } from '@nestjs/common';
import { Access } from '@sync/platform';
import {
  ApiBadRequestResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { ApiLibraryRoute, ApiListQuery } from './api-docs.decorators';
import { libraryCursor } from './cursor';
import { LibrariesRepository } from './libraries.repository';
import { PartitionLocator } from './partition-locator.service';
import { Library, type LibraryRead } from './library-read';
import { BOOLEANS, ParamReader, type RawQuery } from './query-params';
import { ErrorBodyDto, LibraryPageDto, LibraryStatusDto } from './query.dto';
import { ReplicaLagService } from './replica-lag.service';

@ApiTags('libraries')
@Controller('libraries')
export class LibrariesController {
  constructor(
    private readonly libraries: LibrariesRepository,
    private readonly locator: PartitionLocator,
    private readonly replicaLag: ReplicaLagService,
  ) {}

  @Get()
  // The list spans libraries, so it needs a read key for all of them.
  @Access({ role: 'read', allLibraries: true })
  @ApiOperation({
    summary: 'Libraries the projector has seen, by id, with their counts',
    description:
      'Each item: {id, partition, operations (ops in the feed), records (visible), relations (visible), pending, rejected}.',
  })
  @ApiListQuery()
  @ApiOkResponse({ type: LibraryPageDto })
  @ApiBadRequestResponse({ type: ErrorBodyDto, description: 'INVALID_PARAMETER' })
  async list(@Query() query: RawQuery): Promise<LibraryPageDto> {
    const params = new ParamReader(query);
    const limit = params.limit();
    const after = params.cursor(libraryCursor.decode);
    params.done();
    return this.libraries.page(after, limit);
  }

  @Get(':libraryId/status')
  @Access({ role: 'read', libraryParam: 'libraryId' })
  @ApiOperation({
    summary: 'Partition, applied offset and counts of a library',
    description:
      'A library never seen gets the partition its ops would go to (default partitioner over the topic partition count) and zero counts.',
  })
  @ApiLibraryRoute()
  @ApiQuery({
    name: 'replica',
    required: false,
    enum: BOOLEANS,
    description: 'true: add `replica`, how far the database this instance reads trails the primary',
  })
  @ApiOkResponse({ type: LibraryStatusDto })
  async status(@Library() read: LibraryRead): Promise<LibraryStatusDto> {
    const { libraryId } = read;
    const replica = read.params.flag('replica');
    await read.ready();
    const status = await this.libraries.status(libraryId);
    let { partition, nextOffset } = status;
    if (partition === null) {
      partition = await this.locator.partitionOfUnseen(libraryId);
      nextOffset = await this.libraries.nextOffset(partition);
    }
    const next = nextOffset === null ? 0n : BigInt(nextOffset);
    return {
      partition,
      appliedOffset: next > 0n ? (next - 1n).toString() : null,
      records: status.records,
      relations: status.relations,
      pending: status.pending,
      rejected: status.rejected,
      ...(replica ? { replica: await this.replicaLag.ofPartition(partition, next) } : {}),
    };
  }
}
