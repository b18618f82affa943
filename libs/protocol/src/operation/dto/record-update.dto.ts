import { Equals, IsNotEmpty, IsOptional, IsString } from 'class-validator';
import { JsonValue } from '../../json';
import { IsAnyUuid, IsPresentJsonValue } from './dto-decorators';
import { OperationBaseDto } from './operation-base.dto';

export class RecordUpdateDto extends OperationBaseDto {
  @Equals('UPDATE')
  type!: 'UPDATE';

  @IsAnyUuid()
  recordId!: string;

  /** Optional; checked against the record's model when given. */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  model?: string;

  @IsString()
  @IsNotEmpty()
  field!: string;

  /** Required; null clears a nullable field. */
  @IsPresentJsonValue()
  value!: JsonValue;
}
