import { applyDecorators } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiGoneResponse,
  ApiParam,
  ApiQuery,
  ApiServiceUnavailableResponse,
} from '@nestjs/swagger';
import { DEFAULT_LIMIT, DEFAULT_WAIT_MS, MAX_LIMIT, MAX_WAIT_MS } from './query-params';
import { ErrorBodyDto } from './query.dto';

/** OpenAPI for every route under /libraries/{libraryId}: the id and read-your-writes. */
export function ApiLibraryRoute(): MethodDecorator {
  return applyDecorators(
    ApiParam({ name: 'libraryId', format: 'uuid', description: 'Library UUID (any case)' }),
    ApiQuery({
      name: 'minOffset',
      required: false,
      type: String,
      description:
        'Read-your-writes: answer only once the library partition is applied through this offset (e.g. lastOffset from ingest)',
    }),
    ApiQuery({
      name: 'waitMs',
      required: false,
      type: Number,
      description: `How long to wait for minOffset (default ${DEFAULT_WAIT_MS}, max ${MAX_WAIT_MS}); then 503 NOT_YET_APPLIED`,
    }),
    ApiBadRequestResponse({
      type: ErrorBodyDto,
      description: 'INVALID_LIBRARY_ID, or INVALID_PARAMETER with details [{path, message}]',
    }),
    ApiServiceUnavailableResponse({
      type: ErrorBodyDto,
      description: 'NOT_YET_APPLIED: minOffset not applied within waitMs',
    }),
  );
}

export function ApiListQuery(): MethodDecorator {
  return applyDecorators(
    ApiQuery({
      name: 'limit',
      required: false,
      type: Number,
      description: `Page size, 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT})`,
    }),
    ApiQuery({
      name: 'cursor',
      required: false,
      type: String,
      description: 'Opaque: nextCursor of the previous page',
    }),
  );
}

/** OpenAPI for `asOf` (time travel, CONTRACT.md section 8). */
export function ApiAsOf(): MethodDecorator {
  return applyDecorators(
    ApiQuery({
      name: 'asOf',
      required: false,
      type: String,
      description:
        'Time travel: the state as if only the log messages at offsets up to and including asOf ' +
        'had been applied (same shape). Beyond the applied offset it waits as minOffset does; ' +
        'below a compaction horizon: 410 SNAPSHOT_REQUIRED',
    }),
    ApiGoneResponse({
      type: ErrorBodyDto,
      description:
        'SNAPSHOT_REQUIRED: asOf is below the compaction horizon; details [{horizon, asOf, snapshot}]',
    }),
  );
}
