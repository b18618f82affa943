import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Pool } from 'pg';
import {
  type RecordState,
  type RelationState,
  defaultSchema,
  isRelationVisible,
} from '@sync/protocol';
import {
  VISIBLE_RELATION_JOINS,
  declaredRelationsCondition,
} from '../apps/query/src/visible-relations.sql';
import { createTestDatabase } from './support/test-env';

/*
 * Rule L3 lives twice: in TypeScript (libs/protocol, the merge engine and the client) and in SQL
 * (the query service's relation filter). On random states (records of declared and undeclared
 * models, deleted or not, missing; relations of declared and undeclared names, present or not,
 * between any of them) both must call the same relations visible.
 */

const schema = defaultSchema();
const ZERO = { hybrid: 0n, node: '00000000-0000-0000-0000-000000000000' };

interface State {
  records: Map<string, RecordState>;
  relations: RelationState[];
}

const ids = Array.from({ length: 5 }, () => randomUUID());
// Mostly the models relations connect, so that visible relations are common; plus one that is
// not declared at all.
const modelNames = [
  ...new Set(schema.relations.flatMap((r) => [r.item, r.group])),
  schema.models[0].name,
  'Undeclared',
];
const relationNames = [...schema.relations.map((r) => r.name), 'undeclared_relation'];

const stateArbitrary: fc.Arbitrary<State> = fc
  .record({
    records: fc.array(
      fc.record({
        id: fc.constantFrom(...ids),
        model: fc.constantFrom(...modelNames),
        deleted: fc.boolean(),
      }),
      { maxLength: ids.length },
    ),
    relations: fc.array(
      fc.record({
        relation: fc.constantFrom(...relationNames),
        item: fc.constantFrom(...ids),
        group: fc.constantFrom(...ids),
        exists: fc.boolean(),
      }),
      { maxLength: 12 },
    ),
  })
  .map(({ records, relations }) => {
    const byId = new Map<string, RecordState>();
    for (const r of records) {
      byId.set(r.id, {
        recordId: r.id,
        model: r.model,
        owner: null,
        deleted: r.deleted,
        fields: {},
      });
    }
    const byKey = new Map<string, RelationState>();
    for (const r of relations) {
      byKey.set(`${r.relation}/${r.item}/${r.group}`, {
        relation: r.relation,
        item: r.item,
        group: r.group,
        presence: { exists: r.exists, clock: ZERO },
        fields: {},
      });
    }
    return { records: byId, relations: [...byKey.values()] };
  });

/** A state with one visible and one hidden relation, so both outcomes are always checked. */
function bothOutcomes(): State {
  const declared = schema.relations[0];
  const record = (recordId: string, model: string): RecordState => ({
    recordId,
    model,
    owner: null,
    deleted: false,
    fields: {},
  });
  const relation = (item: string, group: string, exists: boolean): RelationState => ({
    relation: declared.name,
    item,
    group,
    presence: { exists, clock: ZERO },
    fields: {},
  });
  return {
    records: new Map([
      [ids[0], record(ids[0], declared.item)],
      [ids[1], record(ids[1], declared.group)],
    ]),
    relations: [relation(ids[0], ids[1], true), relation(ids[1], ids[0], true)],
  };
}

describe('rule L3 in TypeScript and in SQL', () => {
  let database: { url: string; drop(): Promise<void> } | undefined;
  let pool: Pool | undefined;

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  it('agree on which relations are visible, on random states', async () => {
    database = await createTestDatabase('l3');
    pool = new Pool({ connectionString: database.url, max: 1 });
    const db = pool;
    const visibleSql = `SELECT r.relation, r.item_id, r.group_id FROM relations r ${VISIBLE_RELATION_JOINS}
      WHERE r.library_id = $1 AND ${declaredRelationsCondition(schema)}`;

    let visible = 0;
    let hidden = 0;
    await fc.assert(
      fc.asyncProperty(stateArbitrary, async (state) => {
        const library = randomUUID();
        for (const record of state.records.values()) {
          await db.query(
            `INSERT INTO records (library_id, record_id, model, deleted, updated_offset)
             VALUES ($1, $2, $3, $4, 0)`,
            [library, record.recordId, record.model, record.deleted],
          );
        }
        for (const relation of state.relations) {
          await db.query(
            `INSERT INTO relations (library_id, relation, item_id, group_id, present, presence_clock, updated_offset)
             VALUES ($1, $2, $3, $4, $5, '["0", "00000000-0000-0000-0000-000000000000"]', 0)`,
            [library, relation.relation, relation.item, relation.group, relation.presence.exists],
          );
        }
        const { rows } = await db.query<{ relation: string; item_id: string; group_id: string }>(
          visibleSql,
          [library],
        );
        const inSql = rows.map((r) => `${r.relation}/${r.item_id}/${r.group_id}`).sort();
        const inTypeScript = state.relations
          .filter((r) =>
            isRelationVisible(schema, r, state.records.get(r.item), state.records.get(r.group)),
          )
          .map((r) => `${r.relation}/${r.item}/${r.group}`)
          .sort();
        expect(inSql).toEqual(inTypeScript);
        visible += inTypeScript.length;
        hidden += state.relations.length - inTypeScript.length;
      }),
      { numRuns: 150, examples: [[bothOutcomes()]] },
    );
    // The property said something: both outcomes occurred.
    expect(visible).toBeGreaterThan(0);
    expect(hidden).toBeGreaterThan(0);
  });
});
