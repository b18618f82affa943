import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ClockDto } from './ingest.dto';
import { IngestService } from './ingest.service';

@ApiTags('clock')
// Any valid key (AuthGuard's default for routes without @Access).
@ApiBearerAuth()
@Controller('clock')
export class ClockController {
  constructor(private readonly ingest: IngestService) {}

  @Get()
  @ApiOperation({
    summary: "The service's hybrid logical clock",
    description:
      'At least the wall clock and greater than every accepted op timestamp; reading it does not move it.',
  })
  @ApiOkResponse({ type: ClockDto })
  clock(): ClockDto {
    return { hybrid: this.ingest.currentClock() };
  }
}
