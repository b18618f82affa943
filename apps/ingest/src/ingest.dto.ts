import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class BatchAcceptedDto {
  @ApiProperty({ example: 100, description: 'Operations written (all of the batch)' })
  accepted!: number;

  @ApiProperty({ example: 2, description: "Kafka partition of the library's ops" })
  partition!: number;

  @ApiProperty({ example: '4200', description: 'Offset of the first op (decimal string)' })
  firstOffset!: string;

  @ApiProperty({
    example: '4299',
    description:
      'Offset of the last op (decimal string); use as minOffset on the query service to read your writes',
  })
  lastOffset!: string;
}

export class ClockDto {
  @ApiProperty({
    example: '7581360485463752704',
    description: "The service's hybrid logical clock (NTP64, decimal string)",
  })
  hybrid!: string;
}

export class ValidationIssueDto {
  @ApiProperty({ example: 3, description: 'Index of the op in the batch' })
  index!: number;

  @ApiProperty({ example: 'data.name', description: "Path inside the op ('' for the op itself)" })
  path!: string;

  @ApiProperty({ example: 'must be a string or null' })
  message!: string;
}

export class ErrorBodyDto {
  @ApiProperty({
    example: 'VALIDATION_FAILED',
    enum: [
      'INVALID_JSON',
      'INVALID_LIBRARY_ID',
      'NOT_AN_ARRAY',
      'VALIDATION_FAILED',
      'TIMESTAMP_DRIFT',
      'PAYLOAD_TOO_LARGE',
      'UNSUPPORTED_MEDIA_TYPE',
      'BROKER_UNAVAILABLE',
    ],
  })
  error!: string;

  @ApiProperty()
  message!: string;

  @ApiPropertyOptional({
    type: [ValidationIssueDto],
    description: 'VALIDATION_FAILED and TIMESTAMP_DRIFT: every offending op',
  })
  details?: ValidationIssueDto[];
}
