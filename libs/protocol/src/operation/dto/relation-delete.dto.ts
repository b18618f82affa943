import { Equals } from 'class-validator';
import { RelationKeysDto } from './relation-keys.dto';

export class RelationDeleteDto extends RelationKeysDto {
  @Equals('DELETE')
  type!: 'DELETE';
}
