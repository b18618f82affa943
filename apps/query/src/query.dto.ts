import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Response shapes of the query API; the classes exist for the OpenAPI document. */

export class ErrorBodyDto {
  @ApiProperty({ example: 'INVALID_PARAMETER' })
  error!: string;

  @ApiProperty({ example: 'invalid parameter: limit' })
  message!: string;

  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    example: [{ path: 'limit', message: 'must be an integer from 1 to 1000, got "0"' }],
  })
  details?: unknown[];
}

export class LibrarySummaryDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ description: 'Kafka partition of the library' })
  partition!: number;

  @ApiProperty({ description: 'Accepted ops in the feed (GET .../operations)' })
  operations!: number;

  @ApiProperty({ description: 'Visible records' })
  records!: number;

  @ApiProperty({ description: 'Visible relations (rule L3)' })
  relations!: number;

  @ApiProperty({ description: 'Record ops waiting for the CREATE of their record (rule R3)' })
  pending!: number;

  @ApiProperty({ description: 'Rejected ops' })
  rejected!: number;
}

export class LibraryPageDto {
  @ApiProperty({ type: [LibrarySummaryDto] })
  items!: LibrarySummaryDto[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class FieldWriteDto {
  @ApiProperty({ format: 'uuid', description: 'Node of the op whose write the field holds' })
  node!: string;

  @ApiProperty({ description: 'Its hybrid timestamp (decimal string)' })
  hybrid!: string;

  @ApiProperty({ description: 'Its offset in the log (decimal string)', example: '42' })
  offset!: string;
}

export class RecordDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'Tag' })
  model!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Every declared field of the model, null where unset',
    example: { name: 'vacation', color: null, is_hidden: false },
  })
  data!: Record<string, unknown>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { $ref: '#/components/schemas/FieldWriteDto' },
    description:
      'Only on GET .../records/{recordId}?explain=true: for each field that was written, the op ' +
      'whose write it holds (rule R2)',
  })
  writes?: Record<string, FieldWriteDto>;
}

export class RecordPageDto {
  @ApiProperty({ type: [RecordDto] })
  items!: RecordDto[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class RelationDto {
  @ApiProperty({ example: 'TagOnObject' })
  relation!: string;

  @ApiProperty({ format: 'uuid', description: 'relationItem' })
  item!: string;

  @ApiProperty({ format: 'uuid', description: 'relationGroup' })
  group!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Every declared field of the relation, null where unset',
  })
  data!: Record<string, unknown>;
}

export class RelationPageDto {
  @ApiProperty({ type: [RelationDto] })
  items!: RelationDto[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class FeedEntryDto {
  @ApiProperty({
    description: 'Kafka offset of the op in its partition (decimal string)',
    example: '42',
  })
  offset!: string;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The op as accepted' })
  operation!: Record<string, unknown>;
}

export class FeedPageDto {
  @ApiProperty({ type: [FeedEntryDto] })
  items!: FeedEntryDto[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class RejectedEntryDto extends FeedEntryDto {
  @ApiProperty({ example: 'NOT_OWNER' })
  reason!: string;
}

export class RejectedPageDto {
  @ApiProperty({ type: [RejectedEntryDto] })
  items!: RejectedEntryDto[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class ReplicaLagDto {
  @ApiProperty({ description: 'true: this instance reads a streaming standby; false: the primary' })
  standby!: boolean;

  @ApiProperty({ type: String, nullable: true, description: 'WAL position replayed here' })
  replayLsn!: string | null;

  @ApiProperty({ type: String, nullable: true, description: "The primary's WAL position" })
  primaryLsn!: string | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'WAL bytes not yet replayed here; null when the primary did not answer',
  })
  lagBytes!: number | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    description:
      '0 when caught up; else seconds since the primary committed the last transaction replayed here',
  })
  lagSeconds!: number | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: "The partition's applied offset on the primary",
  })
  primaryAppliedOffset!: string | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'Offsets of the partition applied on the primary and not yet visible here',
  })
  offsetsBehind!: number | null;
}

export class LibraryStatusDto {
  @ApiProperty({ description: 'Kafka partition of the library' })
  partition!: number;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Last offset of the partition applied to Postgres (decimal string); null if none',
  })
  appliedOffset!: string | null;

  @ApiProperty()
  records!: number;

  @ApiProperty()
  relations!: number;

  @ApiProperty()
  pending!: number;

  @ApiProperty()
  rejected!: number;

  @ApiPropertyOptional({
    type: ReplicaLagDto,
    description:
      'Only with `replica=true` (the contract shape is unchanged without it): how far the database this instance reads trails the primary',
  })
  replica?: ReplicaLagDto;
}

export class HistoryEntryDto extends FeedEntryDto {
  @ApiProperty({ enum: ['accepted', 'rejected'] })
  status!: 'accepted' | 'rejected';

  @ApiPropertyOptional({
    example: 'NOT_OWNER',
    description: 'Only when rejected: the same code as GET .../rejected',
  })
  reason?: string;
}

export class HistoryPageDto {
  @ApiProperty({ type: [HistoryEntryDto] })
  items!: HistoryEntryDto[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class DigestDto {
  @ApiProperty({
    example: 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  })
  digest!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Partition offset the state reflects (asOf when given); null if none applied',
  })
  appliedOffset!: string | null;

  @ApiProperty({ description: 'Visible records hashed' })
  records!: number;

  @ApiProperty({ description: 'Visible relations hashed' })
  relations!: number;
}
