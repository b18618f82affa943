import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { validateOperation } from '../operation-validator';
import { NODE_A, hyb, rid } from '../../testing/operation-builders';
import { operationDtoClassFor, validateOperationWithDtos } from './dto-validation';
import { RecordCreateDto } from './record-create.dto';
import { RelationUpdateDto } from './relation-update.dto';

const ts = { hybrid: hyb(1) };
const samples: Record<string, unknown> = {
  recordCreate: {
    type: 'CREATE',
    recordId: rid(1),
    model: 'Tag',
    data: { name: 'x' },
    node: NODE_A,
    timestamp: ts,
  },
  recordUpdate: {
    type: 'UPDATE',
    recordId: rid(1),
    field: 'name',
    value: null,
    node: NODE_A,
    timestamp: ts,
  },
  recordDelete: { type: 'DELETE', recordId: rid(1), model: 'Tag', node: NODE_A, timestamp: ts },
  relationCreate: {
    type: 'CREATE',
    relationItem: rid(1),
    relationGroup: rid(2),
    relation: 'TagOnObject',
    node: NODE_A,
    timestamp: ts,
  },
  relationUpdate: {
    type: 'UPDATE',
    relationItem: rid(1),
    relationGroup: rid(2),
    relation: 'TagOnObject',
    field: 'date_created',
    value: '2024-01-01',
    node: NODE_A,
    timestamp: ts,
  },
  relationDelete: {
    type: 'DELETE',
    relationItem: rid(1),
    relationGroup: rid(2),
    relation: 'TagOnObject',
    node: NODE_A,
    timestamp: ts,
  },
};

const broken: [string, unknown][] = [
  ['unknown property', { ...(samples['recordDelete'] as object), extra: 1 }],
  ['hybrid number', { ...(samples['recordDelete'] as object), timestamp: { hybrid: 5 } }],
  ['non-canonical hybrid', { ...(samples['recordDelete'] as object), timestamp: { hybrid: '05' } }],
  [
    'unknown timestamp property',
    { ...(samples['recordDelete'] as object), timestamp: { hybrid: '5', x: 1 } },
  ],
  ['bad uuid', { ...(samples['recordDelete'] as object), recordId: 'nope' }],
  ['missing value', { ...(samples['recordUpdate'] as object), value: undefined }],
  ['missing model on CREATE', { ...(samples['recordCreate'] as object), model: undefined }],
  ['data on DELETE', { ...(samples['recordDelete'] as object), data: {} }],
];

describe('operation DTOs agree with the fast validator (shape only)', () => {
  it.each(Object.entries(samples))('both accept %s', (_name, input) => {
    expect(validateOperationWithDtos(input)).toEqual([]);
    expect(validateOperation(input, null).ok).toBe(true);
  });

  it.each(broken)('both reject %s', (_name, input) => {
    expect(validateOperationWithDtos(input).length).toBeGreaterThan(0);
    expect(validateOperation(input, null).ok).toBe(false);
  });

  it('accepts any UUID version, unlike IsUUID("all")', () => {
    const v0 = {
      ...(samples['recordDelete'] as object),
      recordId: '00000000-0000-0000-0000-0000000000AB',
    };
    expect(validateOperationWithDtos(v0)).toEqual([]);
  });

  it('picks the DTO class by type and record/relation keys', () => {
    expect(operationDtoClassFor(samples['recordCreate'])).toBe(RecordCreateDto);
    expect(operationDtoClassFor(samples['relationUpdate'])).toBe(RelationUpdateDto);
    expect(operationDtoClassFor({ type: 'MERGE' })).toBeNull();
  });

  it('works with plain class-validator usage', () => {
    const dto = plainToInstance(RecordCreateDto, samples['recordCreate']);
    expect(validateSync(dto, { whitelist: true, forbidNonWhitelisted: true })).toEqual([]);
  });
});
