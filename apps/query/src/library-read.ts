import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  createParamDecorator,
} from '@nestjs/common';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { type ConsistencyParams, ParamReader, parseLibraryId } from './query-params';
import { ReadYourWritesService } from './read-your-writes.service';

/**
 * What every read under /libraries/{libraryId} starts with: the parsed library id, a reader of
 * its query parameters, and read-your-writes. A handler reads its own parameters from `params`,
 * then awaits `ready()`, which reads minOffset/waitMs, answers one 400 naming every bad
 * parameter, and waits until the partition is applied through minOffset (and asOf).
 */
export class LibraryRead {
  readonly params: ParamReader;
  private asOfOffset: bigint | undefined;
  private consistency: ConsistencyParams | undefined;

  constructor(
    readonly libraryId: string,
    query: Record<string, unknown>,
    private readonly readYourWrites: ReadYourWritesService,
  ) {
    this.params = new ParamReader(query);
  }

  /**
   * `asOf` (time travel, CONTRACT.md section 8): the state as of this log offset. An offset not
   * yet applied makes `ready()` wait for it as for minOffset.
   */
  asOf(): bigint | undefined {
    this.asOfOffset = this.params.offset('asOf');
    return this.asOfOffset;
  }

  /** Reads minOffset/waitMs and answers 400 naming every bad parameter read so far. */
  check(): ConsistencyParams {
    if (this.consistency === undefined) {
      this.consistency = this.params.consistency();
      this.params.done();
    }
    return this.consistency;
  }

  async ready(): Promise<void> {
    const { minOffset, waitMs } = this.check();
    const asOf = this.asOfOffset;
    const through =
      asOf !== undefined && (minOffset === undefined || asOf > minOffset) ? asOf : minOffset;
    await this.readYourWrites.ensureApplied(this.libraryId, { minOffset: through, waitMs });
  }
}

type WithLibraryRead = Request & { libraryRead?: LibraryRead };

/** Builds the LibraryRead of routes with a :libraryId (a bad id is 400 INVALID_LIBRARY_ID). */
@Injectable()
export class LibraryReadInterceptor implements NestInterceptor {
  constructor(private readonly readYourWrites: ReadYourWritesService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<WithLibraryRead>();
    const raw = request.params?.libraryId;
    if (raw !== undefined) {
      request.libraryRead = new LibraryRead(
        parseLibraryId(raw),
        request.query,
        this.readYourWrites,
      );
    }
    return next.handle();
  }
}

/** The request's LibraryRead; the controller needs @UseInterceptors(LibraryReadInterceptor). */
export const Library = createParamDecorator((_: unknown, context: ExecutionContext) => {
  const read = context.switchToHttp().getRequest<WithLibraryRead>().libraryRead;
  if (read === undefined) throw new Error('@Library() needs LibraryReadInterceptor on the route');
  return read;
});
