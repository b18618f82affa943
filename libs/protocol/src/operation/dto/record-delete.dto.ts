import { Equals, IsNotEmpty, IsOptional, IsString } from 'class-validator';
import { IsAnyUuid } from './dto-decorators';
import { OperationBaseDto } from './operation-base.dto';

export class RecordDeleteDto extends OperationBaseDto {
  @Equals('DELETE')
  type!: 'DELETE';

  @IsAnyUuid()
  recordId!: string;

  /** Optional; checked against the record's model when given. */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  model?: string;
}
