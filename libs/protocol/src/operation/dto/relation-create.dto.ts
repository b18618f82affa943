import { Equals, IsOptional } from 'class-validator';
import { JsonObject } from '../../json';
import { IsJsonObject } from './dto-decorators';
import { RelationKeysDto } from './relation-keys.dto';

export class RelationCreateDto extends RelationKeysDto {
  @Equals('CREATE')
  type!: 'CREATE';

  /** Optional values of the relation's declared fields. */
  @IsOptional()
  @IsJsonObject()
  data?: JsonObject;
}
