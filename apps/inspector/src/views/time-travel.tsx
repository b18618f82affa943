import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJson, libraryPath } from '../api';
import type { Digest, LibraryStatus, Page, RecordRow, RelationRow, SchemaInfo } from '../api-types';
import type { Capabilities } from '../capabilities';
import { type Route, href } from '../route';
import { loadSchema } from '../schema';
import { ErrorNote, Notice, Pager, RecordLink, TableBox, Value, useLoad } from '../ui';
import { RelationTable } from './library';

type TimeRoute = Extract<Route, { view: 'time' }>;

const PAGE_SIZE = 50;
/** Wait this long after the slider stops before asking (dragging passes many offsets). */
const SETTLE_MS = 250;

/** The library as of an offset of its partition (asOf, CONTRACT section 8), with its digest. */
export function TimeTravelView({
  route,
  capabilities,
}: {
  route: TimeRoute;
  capabilities: Capabilities;
}) {
  const { libraryId } = route;
  const status = useLoad(
    (signal) => getJson<LibraryStatus>(libraryPath(libraryId, '/status'), {}, signal),
    [libraryId],
  );
  const schema = useLoad(() => loadSchema(), []);
  return (
    <section>
      <p class="crumbs">
        <a href={href({ view: 'library', libraryId, tab: 'records' })}>library {libraryId}</a>
      </p>
      <h1>Time travel</h1>
      {!capabilities.timeTravel ? (
        <Notice>
          Time travel is not available on this server (it has no digest route and no asOf reads;
          CONTRACT section 8).
        </Notice>
      ) : status.error ? (
        <ErrorNote error={status.error} what="status" />
      ) : schema.error ? (
        <ErrorNote error={schema.error} what="schema" />
      ) : status.data && schema.data ? (
        status.data.appliedOffset === null ? (
          <Notice>Nothing is applied in this library’s partition yet.</Notice>
        ) : (
          <Traveller route={route} applied={status.data.appliedOffset} schema={schema.data} />
        )
      ) : null}
    </section>
  );
}

function Traveller({
  route,
  applied,
  schema,
}: {
  route: TimeRoute;
  applied: string;
  schema: SchemaInfo;
}) {
  const { libraryId } = route;
  const max = Number(applied);
  const initial = route.at !== undefined && /^\d+$/.test(route.at) ? route.at : applied;
  const [input, setInput] = useState(initial);
  const [at, setAt] = useState(initial);
  // The position goes into the hash (replace, not push: dragging is not navigation).
  useEffect(() => {
    const timer = window.setTimeout(() => {
      if (!/^\d+$/.test(input)) return;
      setAt(input);
      history.replaceState(null, '', href({ ...route, at: input }));
    }, SETTLE_MS);
    return () => window.clearTimeout(timer);
  }, [input]);
  const model = schema.models.find((m) => m.name === route.model) ?? schema.models[0];
  const relation = schema.relations.find((r) => r.name === route.relation) ?? schema.relations[0];
  const digest = useLoad(
    (signal) => getJson<Digest>(libraryPath(libraryId, '/digest'), { asOf: at }, signal),
    [libraryId, at],
  );
  return (
    <>
      <form class="time-controls" onSubmit={(event) => event.preventDefault()}>
        <label>
          offset{' '}
          <input
            type="range"
            name="at-slider"
            min={0}
            max={max}
            step={1}
            value={Number(input) || 0}
            onInput={(event) => setInput(event.currentTarget.value)}
          />
        </label>{' '}
        <input
          type="number"
          name="at"
          min={0}
          max={max}
          value={input}
          onInput={(event) => setInput(event.currentTarget.value)}
        />{' '}
        <span class="muted">of {applied} applied</span>{' '}
        <button type="button" onClick={() => setInput(applied)}>
          now
        </button>
      </form>
      {digest.error ? (
        <TimeError error={digest.error} />
      ) : digest.data ? (
        <dl class="facts" id="digest">
          <dt>as of offset</dt>
          <dd data-field="appliedOffset">{digest.data.appliedOffset}</dd>
          <dt>records</dt>
          <dd data-field="records">{digest.data.records}</dd>
          <dt>relations</dt>
          <dd data-field="relations">{digest.data.relations}</dd>
          <dt>digest</dt>
          <dd data-field="digest">
            <code>{digest.data.digest}</code>
          </dd>
        </dl>
      ) : null}
      <div class="toolbar">
        <label>
          Model{' '}
          <select
            name="model"
            value={model.name}
            onChange={(event) => {
              location.hash = href({ ...route, at, model: event.currentTarget.value });
            }}
          >
            {schema.models.map((m) => (
              <option key={m.name} value={m.name}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <RecordsAsOf key={`${model.name} ${at}`} libraryId={libraryId} at={at} model={model} />
      {relation === undefined ? null : (
        <>
          <div class="toolbar">
            <label>
              Relation{' '}
              <select
                name="relation"
                value={relation.name}
                onChange={(event) => {
                  location.hash = href({ ...route, at, relation: event.currentTarget.value });
                }}
              >
                {schema.relations.map((r) => (
                  <option key={r.name} value={r.name}>
                    {r.name}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <RelationsAsOf
            key={`${relation.name} ${at}`}
            libraryId={libraryId}
            at={at}
            relation={relation}
          />
        </>
      )}
    </>
  );
}

function TimeError({ error }: { error: Error }) {
  if (error instanceof ApiError && error.code === 'SNAPSHOT_REQUIRED') {
    return (
      <Notice>This offset is below the library’s compaction horizon: its state is gone.</Notice>
    );
  }
  return <ErrorNote error={error} what="as of" />;
}

function RecordsAsOf(props: {
  libraryId: string;
  at: string;
  model: SchemaInfo['models'][number];
}) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(
    (signal) =>
      getJson<Page<RecordRow>>(
        libraryPath(props.libraryId, '/records'),
        { model: props.model.name, asOf: props.at, limit: PAGE_SIZE, cursor },
        signal,
      ),
    [cursor],
  );
  if (page.error) return <TimeError error={page.error} />;
  if (page.data === undefined) return null;
  const fields = props.model.fields;
  return (
    <>
      <TableBox>
        <table id="records-as-of">
          <thead>
            <tr>
              <th>id</th>
              {fields.map((f) => (
                <th key={f.name}>{f.name}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((row) => (
              <tr key={row.id} data-id={row.id}>
                <td data-field="id">
                  <RecordLink libraryId={props.libraryId} id={row.id} />
                </td>
                {fields.map((f) => (
                  <td key={f.name} data-field={f.name}>
                    <Value value={row.data[f.name]} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </TableBox>
      {page.data.items.length === 0 ? (
        <Notice>
          No visible {props.model.name} record as of offset {props.at}.
        </Notice>
      ) : null}
      <Pager
        canBack={cursors.length > 1}
        next={page.data.nextCursor}
        onBack={() => setCursors(cursors.slice(0, -1))}
        onNext={(next) => setCursors([...cursors, next])}
      />
    </>
  );
}

function RelationsAsOf(props: {
  libraryId: string;
  at: string;
  relation: SchemaInfo['relations'][number];
}) {
  const page = useLoad(
    (signal) =>
      getJson<Page<RelationRow>>(
        libraryPath(props.libraryId, '/relations'),
        { relation: props.relation.name, asOf: props.at, limit: PAGE_SIZE },
        signal,
      ),
    [],
  );
  if (page.error) return <TimeError error={page.error} />;
  if (page.data === undefined) return null;
  return (
    <>
      <RelationTable
        libraryId={props.libraryId}
        rows={page.data.items}
        fields={props.relation.fields}
        id="relations-as-of"
      />
      {page.data.items.length === 0 ? (
        <Notice>
          No visible {props.relation.name} relation as of offset {props.at}.
        </Notice>
      ) : null}
      {page.data.nextCursor === null ? null : <p class="muted">First {PAGE_SIZE} shown.</p>}
    </>
  );
}
