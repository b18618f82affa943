import { IsNotEmpty, IsString } from 'class-validator';
import { IsAnyUuid } from './dto-decorators';
import { OperationBaseDto } from './operation-base.dto';

export abstract class RelationKeysDto extends OperationBaseDto {
  /** Id of the item record (e.g. the Object). */
  @IsAnyUuid()
  relationItem!: string;

  /** Id of the group record (e.g. the Tag). */
  @IsAnyUuid()
  relationGroup!: string;

  /** Name of a relation declared in the schema. */
  @IsString()
  @IsNotEmpty()
  relation!: string;
}
