import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '@sync/platform';
import { type PipelineView, PipelineService } from './pipeline.service';

@ApiTags('inspector')
@Controller('pipeline')
export class PipelineController {
  constructor(private readonly pipeline: PipelineService) {}

  @Get()
  // Spans every partition, so like GET /libraries it needs a read key for all libraries.
  @Access({ role: 'read', allLibraries: true })
  @ApiOperation({
    summary: 'Projector lag per partition, dead letters and the three services’ readiness, as JSON',
    description:
      '{topic, partitions: [{partition, appliedOffset, endOffset, lag}], deadLetters: {topic, messages}, kafkaError, services: [{name, url, ready, message}], replica: {standby, replayLsn, primaryLsn, lagBytes, lagSeconds}}. Positions are those of the database this instance reads (a standby trails the primary by `replica`). Offsets are decimal strings; endOffset is the high watermark; lag = endOffset - (appliedOffset + 1). Each topic is asked on its own: when Kafka does not answer for one, its numbers are null and kafkaError names the topic and the reason.',
  })
  @ApiOkResponse({ description: 'The pipeline view' })
  view(): Promise<PipelineView> {
    return this.pipeline.view();
  }
}
