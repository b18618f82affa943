import { Body, Controller, Headers, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import { Access } from '@sync/platform';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiForbiddenResponse,
  ApiExtraModels,
  ApiOperation,
  ApiParam,
  ApiPayloadTooLargeResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
  ApiUnprocessableEntityResponse,
  ApiUnsupportedMediaTypeResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import { BatchAcceptedDto, ErrorBodyDto } from './ingest.dto';
import { IngestService } from './ingest.service';
import { OPERATION_DTOS } from './operation.dto';

@ApiTags('operations')
@ApiBearerAuth()
// Write role on this library; a node-bound key may only send its own node's ops.
@Access({ role: 'write', libraryParam: 'libraryId', nodeBoundBody: true, rateLimited: true })
@ApiExtraModels(...OPERATION_DTOS)
@Controller('libraries/:libraryId/operations')
export class OperationsController {
  constructor(private readonly ingest: IngestService) {}

  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: "Publish a batch of a library's operations, all or nothing",
    description:
      'Every op is validated (shape, schema, clock drift) before anything is sent; then all are written to Kafka in request order, keyed by the library id, with acks from all in-sync replicas. Either the whole batch is accepted (202) or none of it.',
  })
  @ApiParam({ name: 'libraryId', format: 'uuid', description: 'Library UUID (any case)' })
  @ApiBody({
    description: 'A JSON array of 1 to 10000 operations (the limit is configurable)',
    schema: {
      type: 'array',
      minItems: 1,
      items: { oneOf: OPERATION_DTOS.map((dto) => ({ $ref: getSchemaPath(dto) })) },
    },
  })
  @ApiAcceptedResponse({ type: BatchAcceptedDto, description: 'Every op is durably in Kafka' })
  @ApiBadRequestResponse({
    type: ErrorBodyDto,
    description: 'INVALID_JSON, INVALID_LIBRARY_ID or NOT_AN_ARRAY',
  })
  @ApiPayloadTooLargeResponse({
    type: ErrorBodyDto,
    description: 'PAYLOAD_TOO_LARGE: too many ops or too many bytes',
  })
  @ApiUnsupportedMediaTypeResponse({
    type: ErrorBodyDto,
    description: 'UNSUPPORTED_MEDIA_TYPE: the body is not application/json',
  })
  @ApiUnprocessableEntityResponse({
    type: ErrorBodyDto,
    description:
      'VALIDATION_FAILED (details list every problem of every op: index, path, message) or TIMESTAMP_DRIFT (details name every op too far ahead)',
  })
  @ApiUnauthorizedResponse({
    type: ErrorBodyDto,
    description: 'UNAUTHORIZED: missing, invalid or revoked API key (Authorization: Bearer <key>)',
  })
  @ApiForbiddenResponse({
    type: ErrorBodyDto,
    description:
      'FORBIDDEN: the key lacks the write role or does not cover this library; NODE_MISMATCH: a node-bound key sent ops of another node',
  })
  @ApiTooManyRequestsResponse({
    type: ErrorBodyDto,
    description:
      "TOO_MANY_REQUESTS: over the key's rate limit; OVERLOADED: the service is at its bound of publish work in flight, nothing was accepted. See Retry-After (seconds)",
  })
  @ApiServiceUnavailableResponse({
    type: ErrorBodyDto,
    description: 'BROKER_UNAVAILABLE: Kafka did not take the batch in time; none of it is visible',
  })
  publish(
    @Param('libraryId') libraryId: string,
    @Body() body: unknown,
    @Headers('content-length') contentLength?: string,
  ): Promise<BatchAcceptedDto> {
    const bytes = contentLength === undefined ? undefined : Number(contentLength);
    return this.ingest.ingest(
      libraryId,
      body,
      contentLength === '0',
      Number.isSafeInteger(bytes) ? bytes : undefined,
    );
  }
}
