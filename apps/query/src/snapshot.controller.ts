import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Access } from '@sync/platform';
import { ApiAsOf, ApiLibraryRoute } from './api-docs.decorators';
import { AsOfSnapshotService } from './as-of-snapshot.service';
import { AsOfRepository } from './as-of.repository';
import { Library, type LibraryRead } from './library-read';
import type { SnapshotClocks, SnapshotOrder, SnapshotView } from './snapshot.repository';
import { SnapshotService } from './snapshot.service';

const VIEWS: readonly SnapshotView[] = ['full', 'visible'];
const ORDERS: readonly SnapshotOrder[] = ['key', 'none'];
const CLOCKS: readonly SnapshotClocks[] = ['fields', 'compact'];

@ApiTags('snapshot')
@Access({ role: 'read', libraryParam: 'libraryId' })
@Controller('libraries/:libraryId')
export class SnapshotController {
  constructor(
    private readonly snapshots: SnapshotService,
    private readonly asOfSnapshots: AsOfSnapshotService,
    private readonly asOfState: AsOfRepository,
  ) {}

  @Get('snapshot')
  @ApiOperation({
    summary: "The library's state and the offset it reflects, as NDJSON",
    description:
      'Lines: `{"type":"snapshot","libraryId","partition","offset","clock","view"}`, then ' +
      '`{"type":"record",...}` by id, `{"type":"relation",...}` by key (`order=none`: in no ' +
      'particular order), (full view) ' +
      '`{"type":"pending","offset","operation"}`, then `{"type":"end","records","relations"[,"pending"]}`. ' +
      'Read in one repeatable-read transaction: pull the feed with `after=offset` to continue. ' +
      'A stream without the `end` line is incomplete. See README "Snapshots, live changes and the CLI".',
  })
  @ApiLibraryRoute()
  @ApiAsOf()
  @ApiQuery({
    name: 'view',
    required: false,
    enum: VIEWS,
    description:
      '`full` (default): also deleted records, hidden relations, clocks, owners and pending ops, ' +
      'all a node needs to keep merging; `visible`: only what GET records/relations show',
  })
  @ApiQuery({
    name: 'order',
    required: false,
    enum: ORDERS,
    description:
      '`key` (default): records by id, relations by key; `none`: each kind as Postgres reads it, ' +
      'no sort before the first line (faster for large libraries; what a bootstrapping node asks). ' +
      'With `asOf` the lines are in key order either way',
  })
  @ApiQuery({
    name: 'clocks',
    required: false,
    enum: CLOCKS,
    description:
      "Full view: how record lines give field clocks. `fields` (default): an object of each field's " +
      '`[hybrid, node]`; `compact`: one string, `name,…;picks;hybrid;node;…` (each distinct clock ' +
      'once, one base-36 digit per field naming it; see README), where the row has it stored, ' +
      'else the object. Relation lines keep the object',
  })
  @ApiProduces('application/x-ndjson')
  @ApiOkResponse({ description: 'NDJSON stream', schema: { type: 'string' } })
  async snapshot(@Library() read: LibraryRead, @Res() reply: FastifyReply): Promise<void> {
    const view = (read.params.name(
      'view',
      (name) => VIEWS.includes(name as SnapshotView),
      'view',
    ) ?? 'full') as SnapshotView;
    const order = (read.params.name(
      'order',
      (name) => ORDERS.includes(name as SnapshotOrder),
      'order',
    ) ?? 'key') as SnapshotOrder;
    const clocks = (read.params.name(
      'clocks',
      (name) => CLOCKS.includes(name as SnapshotClocks),
      'clocks',
    ) ?? 'fields') as SnapshotClocks;
    const asOf = read.asOf();
    await read.ready();
    if (asOf === undefined) {
      return this.snapshots.stream(read.libraryId, view, order, clocks, reply);
    }
    await this.asOfState.checkHorizon(read.libraryId, asOf);
    await this.asOfSnapshots.stream(read.libraryId, asOf, view, clocks, reply);
  }
}
