import { emptyChanges } from './projection-rows';
import { ProjectionRepository } from './projection.repository';
import type { PreparedStatement, SqlClient } from './sql-client';

const library = '6f1d2c3b-4a59-4e68-8f7a-1b2c3d4e5f60';
const node = '0a0a0a0a-0000-4000-8000-00000000000a';

/** A client that records the statements queued on it and answers them only when told to. */
function queueingClient() {
  const queued: { text: string; answer: (rows: unknown[]) => void }[] = [];
  const client: SqlClient = {
    query: (statement: string | PreparedStatement) =>
      new Promise((resolve) => {
        const text = typeof statement === 'string' ? statement : statement.text;
        queued.push({ text, answer: (rows) => resolve({ rows: rows as never[], rowCount: 0 }) });
      }),
  };
  return { client, queued };
}

describe('ProjectionRepository', () => {
  it('queues the reads of records, relations and identities before any has answered', async () => {
    const { client, queued } = queueingClient();
    const slices = new ProjectionRepository().loadSlices(
      client,
      new Map([
        [
          library,
          {
            recordIds: ['1c1c1c1c-0000-4000-8000-00000000001c'],
            relationKeys: [
              {
                relation: 'TagOnObject',
                item: '2d2d2d2d-0000-4000-8000-00000000002d',
                group: '3e3e3e3e-0000-4000-8000-00000000003e',
              },
            ],
            identities: [{ node, hybrid: 5n }],
          },
        ],
      ]),
    );
    expect(queued.map((q) => q.text)).toEqual([
      expect.stringContaining('LEFT JOIN records'),
      expect.stringContaining('FROM relations'),
      expect.stringContaining('max(o.hybrid)'),
    ]);
    for (const q of queued)
      q.answer(q.text.includes('max(o.hybrid)') ? [{ max_hybrid: null }] : []);
    const loaded = (await slices).get(library);
    expect(loaded?.records.size).toBe(0);
    expect(loaded?.relations.size).toBe(0);
  });

  it('queues every statement of a write before it returns', async () => {
    const { client, queued } = queueingClient();
    const changes = emptyChanges();
    changes.revoked.push({ libraryId: library, offset: 3n });
    changes.libraries.push({
      libraryId: library,
      partition: 0,
      operations: -1,
      rejected: 0,
      firstOffset: 4n,
      lastOffset: 4n,
    });
    let done = false;
    const written = new ProjectionRepository().write(client, changes).then(() => {
      done = true;
    });
    expect(queued).toHaveLength(1);
    expect(queued[0].text).toContain('DELETE FROM operations');
    expect(queued[0].text).toContain('INSERT INTO libraries');
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    queued[0].answer([]);
    await written;
  });
});
