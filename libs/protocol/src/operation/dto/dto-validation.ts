import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import { isPlainObject } from '../../json';
import type { ValidationIssue } from '../operation-validator';
import { OperationBaseDto } from './operation-base.dto';
import { RecordCreateDto } from './record-create.dto';
import { RecordDeleteDto } from './record-delete.dto';
import { RecordUpdateDto } from './record-update.dto';
import { RelationCreateDto } from './relation-create.dto';
import { RelationDeleteDto } from './relation-delete.dto';
import { RelationUpdateDto } from './relation-update.dto';

type DtoClass = new () => OperationBaseDto;

export const OPERATION_DTO_CLASSES = {
  record: { CREATE: RecordCreateDto, UPDATE: RecordUpdateDto, DELETE: RecordDeleteDto },
  relation: { CREATE: RelationCreateDto, UPDATE: RelationUpdateDto, DELETE: RelationDeleteDto },
} as const;

/** The DTO class documenting an input's shape, picked by `type` and recordId vs relation keys. */
export function operationDtoClassFor(input: unknown): DtoClass | null {
  if (!isPlainObject(input)) return null;
  const family = input['recordId'] !== undefined ? 'record' : 'relation';
  const type = input['type'];
  return type === 'CREATE' || type === 'UPDATE' || type === 'DELETE'
    ? OPERATION_DTO_CLASSES[family][type]
    : null;
}

function flatten(errors: ValidationError[], prefix: string, out: ValidationIssue[]): void {
  for (const error of errors) {
    const path = prefix === '' ? error.property : `${prefix}.${error.property}`;
    for (const message of Object.values(error.constraints ?? {})) out.push({ path, message });
    flatten(error.children ?? [], path, out);
  }
}

/**
 * Shape-only validation through the class-validator DTOs (unknown properties rejected).
 * Slow compared with validateOperation; meant for tooling and for keeping the DTOs honest.
 */
export function validateOperationWithDtos(input: unknown): ValidationIssue[] {
  const cls = operationDtoClassFor(input);
  if (cls === null) return [{ path: '', message: 'not a record or relation op with a valid type' }];
  const instance = plainToInstance(cls, input);
  const issues: ValidationIssue[] = [];
  flatten(
    validateSync(instance, {
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
    }),
    '',
    issues,
  );
  return issues;
}
