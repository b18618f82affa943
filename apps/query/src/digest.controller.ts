import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '@sync/platform';
import { ApiAsOf, ApiLibraryRoute } from './api-docs.decorators';
import { AsOfRepository } from './as-of.repository';
import { DigestService } from './digest.service';
import { Library, type LibraryRead } from './library-read';
import { DigestDto } from './query.dto';

@ApiTags('digest')
@Access({ role: 'read', libraryParam: 'libraryId' })
@Controller('libraries/:libraryId')
export class DigestController {
  constructor(
    private readonly digests: DigestService,
    private readonly asOfState: AsOfRepository,
  ) {}

  @Get('digest')
  @ApiOperation({
    summary: "SHA-256 over the library's visible state, to check that a node holds the same",
    description:
      'SHA-256 over UTF-8 lines: canonical({"id","model","data"}) per visible record by id, then ' +
      'canonical({"relation","item","group","data"}) per visible relation by (relation, item, group) ' +
      'as UTF-16 code units; canonical = JSON without whitespace, keys sorted by UTF-16 code units. ' +
      'The empty state hashes the empty string. The same function is in @sync/protocol (StateDigest). ' +
      'Read in keyset batches in one snapshot: constant memory whatever the size.',
  })
  @ApiLibraryRoute()
  @ApiAsOf()
  @ApiOkResponse({ type: DigestDto })
  async digest(@Library() read: LibraryRead): Promise<DigestDto> {
    const asOf = read.asOf();
    await read.ready();
    if (asOf === undefined) return this.digests.live(read.libraryId);
    await this.asOfState.checkHorizon(read.libraryId, asOf);
    return this.digests.asOf(read.libraryId, asOf);
  }
}
