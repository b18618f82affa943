import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/*
 * OpenAPI documentation of the six op shapes (contract section 3). Requests are validated by
 * validateBatch from @sync/protocol, not by these classes: they only describe the wire format.
 */

const UUID = { type: String, format: 'uuid', description: 'UUID, any version and case' };
const ANY_JSON = {
  description: 'Any JSON value matching the field type; null clears a nullable field',
  nullable: true,
  oneOf: [
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
    { type: 'object' },
    { type: 'array', items: {} },
  ],
};
const DATA = {
  type: 'object',
  additionalProperties: true,
  description: 'Declared fields and their values; need not set every field',
} as const;

export class TimestampDto {
  @ApiProperty({
    type: String,
    pattern: '^(0|[1-9][0-9]{0,19})$',
    example: '7581360485463752704',
    description:
      'NTP64 hybrid logical clock as a canonical unsigned decimal string (upper 32 bits seconds since the epoch, lower 32 bits fraction, last 4 bits a counter); never a JSON number',
  })
  hybrid!: string;
}

abstract class OperationDocBase {
  @ApiProperty({ ...UUID, description: 'UUID of the node that produced the op' })
  node!: string;

  @ApiProperty({ type: TimestampDto })
  timestamp!: TimestampDto;
}

abstract class RelationKeysDoc extends OperationDocBase {
  @ApiProperty({ ...UUID, description: 'Record id of the relation item (e.g. an Object)' })
  relationItem!: string;

  @ApiProperty({ ...UUID, description: 'Record id of the relation group (e.g. a Tag)' })
  relationGroup!: string;

  @ApiProperty({ example: 'TagOnObject', description: 'Relation name from the schema' })
  relation!: string;
}

export class RecordCreateOperationDto extends OperationDocBase {
  @ApiProperty({ enum: ['CREATE'] })
  type!: 'CREATE';

  @ApiProperty(UUID)
  recordId!: string;

  @ApiProperty({ example: 'Tag', description: 'Model name from the schema' })
  model!: string;

  @ApiProperty(DATA)
  data!: Record<string, unknown>;
}

export class RecordUpdateOperationDto extends OperationDocBase {
  @ApiProperty({ enum: ['UPDATE'] })
  type!: 'UPDATE';

  @ApiProperty(UUID)
  recordId!: string;

  @ApiPropertyOptional({ description: "Optional; checked against the record's model if given" })
  model?: string;

  @ApiProperty({ example: 'name', description: 'A declared field of the model' })
  field!: string;

  @ApiProperty(ANY_JSON)
  value!: unknown;
}

export class RecordDeleteOperationDto extends OperationDocBase {
  @ApiProperty({ enum: ['DELETE'] })
  type!: 'DELETE';

  @ApiProperty(UUID)
  recordId!: string;

  @ApiPropertyOptional({ description: "Optional; checked against the record's model if given" })
  model?: string;
}

export class RelationCreateOperationDto extends RelationKeysDoc {
  @ApiProperty({ enum: ['CREATE'] })
  type!: 'CREATE';

  @ApiPropertyOptional(DATA)
  data?: Record<string, unknown>;
}

export class RelationUpdateOperationDto extends RelationKeysDoc {
  @ApiProperty({ enum: ['UPDATE'] })
  type!: 'UPDATE';

  @ApiProperty({ example: 'date_created', description: 'A declared field of the relation' })
  field!: string;

  @ApiProperty(ANY_JSON)
  value!: unknown;
}

export class RelationDeleteOperationDto extends RelationKeysDoc {
  @ApiProperty({ enum: ['DELETE'] })
  type!: 'DELETE';
}

export const OPERATION_DTOS = [
  RecordCreateOperationDto,
  RecordUpdateOperationDto,
  RecordDeleteOperationDto,
  RelationCreateOperationDto,
  RelationUpdateOperationDto,
  RelationDeleteOperationDto,
] as const;
