import { Equals, IsNotEmpty, IsString } from 'class-validator';
import { JsonValue } from '../../json';
import { IsPresentJsonValue } from './dto-decorators';
import { RelationKeysDto } from './relation-keys.dto';

export class RelationUpdateDto extends RelationKeysDto {
  @Equals('UPDATE')
  type!: 'UPDATE';

  @IsString()
  @IsNotEmpty()
  field!: string;

  /** Required; null clears a nullable field. */
  @IsPresentJsonValue()
  value!: JsonValue;
}
