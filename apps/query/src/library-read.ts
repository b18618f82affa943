import {
  type ExecutionContext,
  Injectable,
  type PipeTransform,
  createParamDecorator,
} from '@nestjs/common';
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

/** What the route hands to LibraryReadPipe: the raw :libraryId and the query string. */
interface LibraryReadSource {
  libraryId: unknown;
  query: Record<string, unknown>;
}

/**
 * Builds the LibraryRead of a route with a :libraryId (a bad id is 400 INVALID_LIBRARY_ID). A
 * parameter pipe rather than an interceptor: an interceptor wraps every request in an
 * Observable chain and an async resource, where this is one call.
 */
@Injectable()
export class LibraryReadPipe implements PipeTransform<LibraryReadSource, LibraryRead> {
  constructor(private readonly readYourWrites: ReadYourWritesService) {}

  transform(source: LibraryReadSource): LibraryRead {
    if (source.libraryId === undefined) throw new Error('@Library() needs a :libraryId route');
    return new LibraryRead(parseLibraryId(source.libraryId), source.query, this.readYourWrites);
  }
}

const LibrarySource = createParamDecorator(
  (_: unknown, context: ExecutionContext): LibraryReadSource => {
    const request = context
      .switchToHttp()
      .getRequest<{ params?: Record<string, unknown>; query: Record<string, unknown> }>();
    return { libraryId: request.params?.libraryId, query: request.query };
  },
);

/** The request's LibraryRead, for routes under /libraries/{libraryId}. */
export const Library = (): ParameterDecorator => LibrarySource(undefined, LibraryReadPipe);
