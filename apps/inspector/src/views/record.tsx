import { ApiError, getJson, libraryPath } from '../api';
import type { ExplainedRecord, Page, RelationRow } from '../api-types';
import type { Capabilities } from '../capabilities';
import { HistoryTimeline } from '../history';
import { type Route, href } from '../route';
import { loadSchema } from '../schema';
import { ErrorNote, Notice, RecordLink, TableBox, Value, useLoad } from '../ui';
import { RelationTable } from './library';

type RecordRoute = Extract<Route, { view: 'record' }>;

/** One record: its fields and which op wrote each, its history, its relations. */
export function RecordView({
  route,
  capabilities,
}: {
  route: RecordRoute;
  capabilities: Capabilities;
}) {
  const { libraryId, recordId } = route;
  const record = useLoad(
    (signal) =>
      getJson<ExplainedRecord>(
        libraryPath(libraryId, `/records/${encodeURIComponent(recordId)}`),
        { explain: 'true' },
        signal,
      ),
    [libraryId, recordId],
  );
  const schema = useLoad(() => loadSchema(), []);
  const missing = record.error instanceof ApiError && record.error.status === 404;
  return (
    <section>
      <p class="crumbs">
        <a href={href({ view: 'library', libraryId, tab: 'records' })}>library {libraryId}</a>
      </p>
      <h1>
        {record.data?.model ?? 'Record'} <code class="id">{recordId}</code>
      </h1>
      {missing ? (
        <Notice>
          No visible record with this id: never created, deleted, or not applied yet. Its history
          below shows which.
        </Notice>
      ) : record.error ? (
        <ErrorNote error={record.error} what="record" />
      ) : null}
      {record.data ? (
        <FieldsTable
          libraryId={libraryId}
          record={record.data}
          refs={
            new Map(
              (schema.data?.models.find((m) => m.name === record.data?.model)?.fields ?? [])
                .filter((f) => f.type === 'ref')
                .map((f) => [f.name, f.model ?? '']),
            )
          }
        />
      ) : null}

      <h2>History</h2>
      <HistoryTimeline
        libraryId={libraryId}
        path={libraryPath(libraryId, `/records/${encodeURIComponent(recordId)}/history`)}
        available={capabilities.recordHistory}
      />

      <h2>Relations</h2>
      <RecordRelations libraryId={libraryId} recordId={recordId} />
    </section>
  );
}

function FieldsTable(props: {
  libraryId: string;
  record: ExplainedRecord;
  refs: Map<string, string>;
}) {
  const { record, libraryId } = props;
  const writes = record.writes;
  return (
    <>
      {writes === undefined ? (
        <Notice>
          Which op wrote each field (explain) is not available on this server (CONTRACT section 8).
        </Notice>
      ) : null}
      <TableBox>
        <table id="fields">
          <thead>
            <tr>
              <th>field</th>
              <th>value</th>
              {writes === undefined ? null : <th>written by</th>}
            </tr>
          </thead>
          <tbody>
            {Object.entries(record.data).map(([name, value]) => {
              const write = writes?.[name];
              return (
                <tr key={name} data-id={name}>
                  <th scope="row">{name}</th>
                  <td data-field="value">
                    {props.refs.has(name) && typeof value === 'string' ? (
                      <RecordLink libraryId={libraryId} id={value} />
                    ) : (
                      <Value value={value} />
                    )}
                  </td>
                  {writes === undefined ? null : (
                    <td data-field="write">
                      {write === undefined ? (
                        <span class="muted">never written</span>
                      ) : (
                        <span data-offset={write.offset}>
                          offset {write.offset}, node <code>{write.node}</code> at{' '}
                          <code>{write.hybrid}</code>
                        </span>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </TableBox>
    </>
  );
}

/** Visible relations where the record is the item, then where it is the group (first pages). */
function RecordRelations({ libraryId, recordId }: { libraryId: string; recordId: string }) {
  const relations = useLoad(
    async (signal) => {
      const path = libraryPath(libraryId, '/relations');
      const [asItem, asGroup] = await Promise.all([
        getJson<Page<RelationRow>>(path, { item: recordId, limit: 1000 }, signal),
        getJson<Page<RelationRow>>(path, { group: recordId, limit: 1000 }, signal),
      ]);
      return {
        rows: [...asItem.items, ...asGroup.items],
        more: asItem.nextCursor ?? asGroup.nextCursor,
      };
    },
    [libraryId, recordId],
  );
  if (relations.error) return <ErrorNote error={relations.error} what="relations" />;
  if (relations.data === undefined) return null;
  if (relations.data.rows.length === 0) return <Notice>No visible relation.</Notice>;
  return (
    <>
      <RelationTable
        libraryId={libraryId}
        rows={relations.data.rows}
        id="record-relations"
        showRelation
      />
      {relations.data.more === null ? null : (
        <p class="muted">
          Only the first 1000 of each side are shown; the library’s relations tab pages through all.
        </p>
      )}
    </>
  );
}
