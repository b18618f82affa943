import { Equals, IsNotEmpty, IsString } from 'class-validator';
import { JsonObject } from '../../json';
import { IsAnyUuid, IsJsonObject } from './dto-decorators';
import { OperationBaseDto } from './operation-base.dto';

export class RecordCreateDto extends OperationBaseDto {
  @Equals('CREATE')
  type!: 'CREATE';

  @IsAnyUuid()
  recordId!: string;

  @IsString()
  @IsNotEmpty()
  model!: string;

  /** Declared fields of `model` and their values; need not set every field. */
  @IsJsonObject()
  data!: JsonObject;
}
