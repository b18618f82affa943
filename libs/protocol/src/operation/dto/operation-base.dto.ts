// class-transformer's @Type reads design-time metadata through the Reflect polyfill.
import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsDefined, IsObject, ValidateNested } from 'class-validator';
import { IsAnyUuid } from './dto-decorators';
import { TimestampDto } from './timestamp.dto';

export abstract class OperationBaseDto {
  /** UUID of the producing node (any version, case-insensitive; stored lowercase). */
  @IsAnyUuid()
  node!: string;

  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => TimestampDto)
  timestamp!: TimestampDto;
}
