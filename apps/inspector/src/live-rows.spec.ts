import type { RecordChange, RecordRow } from './api-types';
import { foldRecordChange, foldRelationChange } from './live-rows';

const row = (id: string, name: string): RecordRow => ({ id, model: 'Tag', data: { name } });
const change = (id: string, name: string | null, model = 'Tag'): RecordChange => ({
  type: 'record',
  offset: '9',
  id,
  model,
  deleted: name === null,
  data: name === null ? null : { name },
});

describe('foldRecordChange', () => {
  const rows = [row('b', 'B'), row('d', 'D')];
  const middle = { first: false, last: false };

  it('replaces a row in place and removes a deleted one', () => {
    expect(foldRecordChange(rows, 'Tag', change('d', 'D2'), middle)).toEqual([
      row('b', 'B'),
      row('d', 'D2'),
    ]);
    expect(foldRecordChange(rows, 'Tag', change('b', null), middle)).toEqual([row('d', 'D')]);
  });

  it('inserts a new row in id order when it belongs to this page', () => {
    expect(foldRecordChange(rows, 'Tag', change('c', 'C'), middle).map((r) => r.id)).toEqual([
      'b',
      'c',
      'd',
    ]);
    const whole = { first: true, last: true };
    expect(foldRecordChange(rows, 'Tag', change('a', 'A'), whole).map((r) => r.id)).toEqual([
      'a',
      'b',
      'd',
    ]);
    expect(foldRecordChange([], 'Tag', change('a', 'A'), whole)).toEqual([row('a', 'A')]);
  });

  it('leaves rows of other pages and other models alone', () => {
    expect(foldRecordChange(rows, 'Tag', change('a', 'A'), middle)).toEqual(rows);
    expect(foldRecordChange(rows, 'Tag', change('e', 'E'), middle)).toEqual(rows);
    expect(foldRecordChange(rows, 'Tag', change('c', 'C', 'Label'), middle)).toEqual(rows);
  });
});

describe('foldRelationChange', () => {
  it('keys relations by item and group and drops one that is no longer visible', () => {
    const link = { relation: 'TagOnObject', item: 'i', group: 'g', data: { date_created: null } };
    const base = {
      type: 'relation' as const,
      offset: '3',
      relation: 'TagOnObject',
      item: 'i',
      group: 'g',
    };
    const whole = { first: true, last: true };
    const added = foldRelationChange(
      [],
      'TagOnObject',
      { ...base, visible: true, data: link.data },
      whole,
    );
    expect(added).toEqual([link]);
    expect(
      foldRelationChange(added, 'TagOnObject', { ...base, visible: false, data: null }, whole),
    ).toEqual([]);
  });
});
