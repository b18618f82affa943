import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { getJson, libraryPath, request } from '../api';
import type {
  Change,
  FieldInfo,
  LibraryStatus,
  Page,
  PendingOp,
  RecordRow,
  RejectedOp,
  RelationRow,
  SchemaInfo,
} from '../api-types';
import { type StreamState, followChanges } from '../change-stream';
import { type PageWindow, foldRecordChange, foldRelationChange } from '../live-rows';
import { LIBRARY_TABS, type LibraryTab, type Route, href } from '../route';
import { loadSchema } from '../schema';
import {
  ErrorNote,
  IdForm,
  Notice,
  OpOrigin,
  OperationSummary,
  Pager,
  RecordLink,
  TableBox,
  Value,
  useLoad,
} from '../ui';

const PAGE_SIZE = 50;
const LOG_SIZE = 200;

type LibraryRoute = Extract<Route, { view: 'library' }>;
type Listener = (change: Change) => void;

/** The live changes of the open library, handed to whichever table is on screen. */
type ChangeBus = Set<Listener>;

function useChanges(bus: ChangeBus, listener: Listener, deps: unknown[]): void {
  useEffect(() => {
    bus.add(listener);
    return () => {
      bus.delete(listener);
    };
    // The listener closes over `deps`; re-subscribe when they change.
  }, [bus, ...deps]);
}

const TAB_NAMES: Record<LibraryTab, string> = {
  records: 'Records',
  relations: 'Relations',
  rejected: 'Rejected',
  pending: 'Pending',
  live: 'Live changes',
};

/** One library: status, records, relations, rejected and pending ops, live changes. */
export function LibraryView({ route }: { route: LibraryRoute }) {
  const { libraryId } = route;
  const [statusRound, setStatusRound] = useState(0);
  const status = useLoad(
    (signal) => getJson<LibraryStatus>(libraryPath(libraryId, '/status'), {}, signal),
    [libraryId, statusRound],
  );
  const schema = useLoad(() => loadSchema(), []);
  const bus = useMemo<ChangeBus>(() => new Set(), [libraryId]);
  const [stream, setStream] = useState<StreamState>({ state: 'connecting' });
  const [log, setLog] = useState<Change[]>([]);
  // The stream starts at the offset of the first status, and the tables load after it, so no
  // change between the two is missed (one seen twice is harmless: it carries the row's state).
  const [origin, setOrigin] = useState<{ after: string | null } | null>(null);
  useEffect(() => {
    if (origin === null && status.data !== undefined)
      setOrigin({ after: status.data.appliedOffset });
  }, [status.data, origin]);

  const statusTimer = useRef<number | null>(null);
  useEffect(() => {
    if (origin === null) return undefined;
    const stop = followChanges(
      libraryId,
      origin.after,
      (change) => {
        bus.forEach((listener) => listener(change));
        setLog((entries) => [change, ...entries].slice(0, LOG_SIZE));
        // Counts follow the changes, at most twice a second.
        statusTimer.current ??= window.setTimeout(() => {
          statusTimer.current = null;
          setStatusRound((n) => n + 1);
        }, 500);
      },
      setStream,
    );
    return () => {
      stop();
      if (statusTimer.current !== null) window.clearTimeout(statusTimer.current);
      statusTimer.current = null;
    };
  }, [libraryId, origin, bus]);

  return (
    <section>
      <h1>
        Library <code class="id">{libraryId}</code>
      </h1>
      {status.error ? <ErrorNote error={status.error} what="status" /> : null}
      {status.data ? <StatusLine status={status.data} stream={stream} /> : null}
      <nav class="tabs" aria-label="library views">
        {LIBRARY_TABS.map((tab) => (
          <a
            key={tab}
            href={href({ ...route, tab })}
            aria-current={tab === route.tab ? 'page' : undefined}
          >
            {TAB_NAMES[tab]}
          </a>
        ))}
        <a href={href({ view: 'time', libraryId })}>Time travel</a>
      </nav>
      {schema.error ? <ErrorNote error={schema.error} what="schema" /> : null}
      {schema.data && origin !== null ? (
        <LibraryTabContent route={route} schema={schema.data} bus={bus} log={log} />
      ) : null}
    </section>
  );
}

function StatusLine({ status, stream }: { status: LibraryStatus; stream: StreamState }) {
  return (
    <dl class="facts" id="status">
      <dt>partition</dt>
      <dd data-field="partition">{status.partition}</dd>
      <dt>applied offset</dt>
      <dd data-field="appliedOffset">{status.appliedOffset ?? '—'}</dd>
      <dt>records</dt>
      <dd data-field="records">{status.records}</dd>
      <dt>relations</dt>
      <dd data-field="relations">{status.relations}</dd>
      <dt>pending</dt>
      <dd data-field="pending">{status.pending}</dd>
      <dt>rejected</dt>
      <dd data-field="rejected">{status.rejected}</dd>
      <dt>live</dt>
      <dd>
        <span
          id="stream-state"
          class={
            stream.state === 'live'
              ? 'badge ok'
              : stream.state === 'stopped'
                ? 'badge down'
                : 'badge'
          }
          title={'message' in stream ? stream.message : undefined}
        >
          {stream.state}
        </span>
        {'message' in stream ? <span class="muted"> {stream.message}</span> : null}
      </dd>
    </dl>
  );
}

function LibraryTabContent(props: {
  route: LibraryRoute;
  schema: SchemaInfo;
  bus: ChangeBus;
  log: Change[];
}) {
  const { route, schema, bus } = props;
  switch (route.tab) {
    case 'records': {
      const model = schema.models.find((m) => m.name === route.model) ?? schema.models[0];
      return (
        <RecordsTab
          key={model.name}
          route={route}
          schema={schema}
          model={model.name}
          fields={model.fields}
          bus={bus}
        />
      );
    }
    case 'relations': {
      const relation =
        schema.relations.find((r) => r.name === route.relation) ?? schema.relations[0];
      if (relation === undefined) return <Notice>The schema declares no relations.</Notice>;
      return (
        <RelationsTab
          key={relation.name}
          route={route}
          schema={schema}
          relation={relation.name}
          fields={relation.fields}
          bus={bus}
        />
      );
    }
    case 'rejected':
      return <RejectedTab libraryId={route.libraryId} />;
    case 'pending':
      return <PendingTab libraryId={route.libraryId} />;
    case 'live':
      return <LiveLog libraryId={route.libraryId} log={props.log} />;
  }
}

/**
 * A keyset-paged list that live changes fold into. A change that arrives while a page loads
 * makes it load again, since the page may have been read before or after that change.
 */
function useLivePage<T>(
  load: (cursor: string | null, signal: AbortSignal) => Promise<Page<T>>,
  fold: (rows: T[], change: Change, bounds: PageWindow) => T[],
  bus: ChangeBus,
) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const loading = useRef(false);
  const stale = useRef(false);
  const page = useLoad(
    (signal) => {
      loading.current = true;
      stale.current = false;
      return load(cursor, signal).finally(() => (loading.current = false));
    },
    [cursor],
  );
  const [rows, setRows] = useState<T[]>([]);
  useEffect(() => {
    if (page.data === undefined) return;
    setRows(page.data.items);
    if (stale.current) page.reload();
  }, [page.data]);
  const bounds = { first: cursors.length === 1, last: page.data?.nextCursor === null };
  useChanges(
    bus,
    (change) => {
      if (loading.current) stale.current = true;
      else setRows((current) => fold(current, change, bounds));
    },
    [bounds.first, bounds.last, fold],
  );
  const pager = page.data ? (
    <Pager
      canBack={cursors.length > 1}
      next={page.data.nextCursor}
      onBack={() => setCursors(cursors.slice(0, -1))}
      onNext={(next) => setCursors([...cursors, next])}
    />
  ) : null;
  return { rows, page, pager };
}

/**
 * A records or relations list: a live page of `path` filtered by `filter`, folded with the
 * library's live changes. `foldChange` only depends on the filter, so it is kept per filter.
 */
function useLiveList<Row>(
  bus: ChangeBus,
  path: string,
  filter: Record<string, string>,
  foldChange: (rows: Row[], change: Change, bounds: PageWindow) => Row[],
) {
  const key = JSON.stringify(filter);
  const fold = useMemo(() => foldChange, [key]);
  return useLivePage(
    (cursor, signal) => getJson<Page<Row>>(path, { ...filter, limit: PAGE_SIZE, cursor }, signal),
    fold,
    bus,
  );
}

/** The model or relation a list shows; picking another moves the route. */
function ListPicker(props: {
  label: string;
  name: string;
  value: string;
  /** [value, text] */
  options: [string, string][];
  onPick: (value: string) => void;
}) {
  return (
    <label>
      {props.label}{' '}
      <select
        name={props.name}
        value={props.value}
        onChange={(event) => props.onPick(event.currentTarget.value)}
      >
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

function FieldCell({
  libraryId,
  field,
  value,
}: {
  libraryId: string;
  field: FieldInfo;
  value: RecordRow['data'][string] | undefined;
}) {
  return (
    <td data-field={field.name}>
      {field.type === 'ref' && typeof value === 'string' ? (
        <RecordLink libraryId={libraryId} id={value} />
      ) : (
        <Value value={value} />
      )}
    </td>
  );
}

function RecordsTab(props: {
  route: LibraryRoute;
  schema: SchemaInfo;
  model: string;
  fields: FieldInfo[];
  bus: ChangeBus;
}) {
  const { route, model, fields } = props;
  const libraryId = route.libraryId;
  const { rows, page, pager } = useLiveList<RecordRow>(
    props.bus,
    libraryPath(libraryId, '/records'),
    { model },
    (rows, change, bounds) =>
      change.type === 'record' ? foldRecordChange(rows, model, change, bounds) : rows,
  );
  return (
    <>
      <div class="toolbar">
        <ListPicker
          label="Model"
          name="model"
          value={model}
          options={props.schema.models.map((m) => [m.name, `${m.name} (${m.kind})`])}
          onPick={(picked) => {
            location.hash = href({ ...route, model: picked });
          }}
        />
        <IdForm
          label="Record id"
          button="Find"
          name="record-id"
          onSubmit={(recordId) => {
            location.hash = href({ view: 'record', libraryId, recordId });
          }}
        />
      </div>
      {page.error ? <ErrorNote error={page.error} what="records" /> : null}
      <TableBox>
        <table id="records">
          <thead>
            <tr>
              <th>id</th>
              {fields.map((field) => (
                <th key={field.name} title={field.type}>
                  {field.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id} data-id={row.id}>
                <td data-field="id">
                  <RecordLink libraryId={libraryId} id={row.id} />
                </td>
                {fields.map((field) => (
                  <FieldCell
                    key={field.name}
                    libraryId={libraryId}
                    field={field}
                    value={row.data[field.name]}
                  />
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </TableBox>
      {page.data && rows.length === 0 ? <Notice>No visible {model} record.</Notice> : null}
      {pager}
    </>
  );
}

function RelationsTab(props: {
  route: LibraryRoute;
  schema: SchemaInfo;
  relation: string;
  fields: FieldInfo[];
  bus: ChangeBus;
}) {
  const { route, relation, fields } = props;
  const libraryId = route.libraryId;
  const { rows, page, pager } = useLiveList<RelationRow>(
    props.bus,
    libraryPath(libraryId, '/relations'),
    { relation },
    (rows, change, bounds) =>
      change.type === 'relation' ? foldRelationChange(rows, relation, change, bounds) : rows,
  );
  return (
    <>
      <div class="toolbar">
        <ListPicker
          label="Relation"
          name="relation"
          value={relation}
          options={props.schema.relations.map((r) => [
            r.name,
            `${r.name} (${r.item} in ${r.group})`,
          ])}
          onPick={(picked) => {
            location.hash = href({ ...route, relation: picked });
          }}
        />
      </div>
      {page.error ? <ErrorNote error={page.error} what="relations" /> : null}
      <RelationTable libraryId={libraryId} rows={rows} fields={fields} id="relations" />
      {page.data && rows.length === 0 ? <Notice>No visible {relation} relation.</Notice> : null}
      {pager}
    </>
  );
}

/** Relations with links to their item, group and history. */
export function RelationTable(props: {
  libraryId: string;
  rows: RelationRow[];
  fields?: FieldInfo[];
  id: string;
  showRelation?: boolean;
}) {
  const { libraryId, rows } = props;
  const names = props.fields?.map((f) => f.name) ?? [
    ...new Set(rows.flatMap((row) => Object.keys(row.data))),
  ];
  return (
    <TableBox>
      <table id={props.id}>
        <thead>
          <tr>
            {props.showRelation ? <th>relation</th> : null}
            <th>item</th>
            <th>group</th>
            {names.map((name) => (
              <th key={name}>{name}</th>
            ))}
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr
              key={`${row.relation} ${row.item} ${row.group}`}
              data-id={`${row.relation} ${row.item} ${row.group}`}
            >
              {props.showRelation ? <td data-field="relation">{row.relation}</td> : null}
              <td data-field="item">
                <RecordLink libraryId={libraryId} id={row.item} />
              </td>
              <td data-field="group">
                <RecordLink libraryId={libraryId} id={row.group} />
              </td>
              {names.map((name) => (
                <td key={name} data-field={name}>
                  <Value value={row.data[name]} />
                </td>
              ))}
              <td>
                <a
                  href={href({
                    view: 'relation',
                    libraryId,
                    relation: row.relation,
                    item: row.item,
                    group: row.group,
                  })}
                >
                  history
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableBox>
  );
}

function RejectedTab({ libraryId }: { libraryId: string }) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(
    (signal) =>
      getJson<Page<RejectedOp>>(
        libraryPath(libraryId, '/rejected'),
        { limit: PAGE_SIZE, cursor },
        signal,
      ),
    [cursor],
  );
  return (
    <>
      {page.error ? <ErrorNote error={page.error} what="rejected" /> : null}
      <OpTable id="rejected" libraryId={libraryId} rows={page.data?.items ?? []} reasons />
      {page.data && page.data.items.length === 0 ? <Notice>No rejected op.</Notice> : null}
      {page.data ? (
        <Pager
          canBack={cursors.length > 1}
          next={page.data.nextCursor}
          onBack={() => setCursors(cursors.slice(0, -1))}
          onNext={(next) => setCursors([...cursors, next])}
        />
      ) : null}
    </>
  );
}

/**
 * Pending ops (rule R3: waiting for their record's CREATE) have no list route; the library's
 * full snapshot carries them, after its records and relations, so this reads it through.
 */
async function loadPending(libraryId: string, signal: AbortSignal): Promise<PendingOp[]> {
  const response = await request(
    libraryPath(libraryId, '/snapshot'),
    { view: 'full' },
    { signal, headers: { accept: 'application/x-ndjson' } },
  );
  const pending: PendingOp[] = [];
  let ended = false;
  const take = (line: string) => {
    if (line.trim() === '') return;
    const entry = JSON.parse(line) as { type: string } & PendingOp;
    if (entry.type === 'pending')
      pending.push({ offset: entry.offset, operation: entry.operation });
    if (entry.type === 'end') ended = true;
  };
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const lines = (rest + value).split('\n');
    rest = lines.pop() ?? '';
    lines.forEach(take);
  }
  take(rest);
  if (!ended) throw new Error('the snapshot stream was cut before its end line');
  return pending;
}

function PendingTab({ libraryId }: { libraryId: string }) {
  const pending = useLoad((signal) => loadPending(libraryId, signal), [libraryId]);
  return (
    <>
      <p class="muted">
        Ops waiting for the CREATE of their record (rule R3), read from the library’s full snapshot.
      </p>
      {pending.error ? <ErrorNote error={pending.error} what="pending" /> : null}
      {pending.data ? (
        <>
          <OpTable id="pending" libraryId={libraryId} rows={pending.data} />
          {pending.data.length === 0 ? <Notice>No pending op.</Notice> : null}
        </>
      ) : null}
    </>
  );
}

/** Ops with their offset (and reason, for rejected ones). */
export function OpTable(props: {
  id: string;
  libraryId: string;
  rows: { offset: string; operation: PendingOp['operation']; reason?: string }[];
  reasons?: boolean;
}) {
  return (
    <TableBox>
      <table id={props.id}>
        <thead>
          <tr>
            <th class="num">offset</th>
            {props.reasons ? <th>reason</th> : null}
            <th>operation</th>
            <th>origin</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr
              key={`${row.offset} ${row.operation.node} ${row.operation.timestamp.hybrid}`}
              data-id={row.offset}
            >
              <td class="num" data-field="offset">
                {row.offset}
              </td>
              {props.reasons ? (
                <td data-field="reason">
                  <code>{row.reason}</code>
                </td>
              ) : null}
              <td data-field="operation">
                <OperationSummary libraryId={props.libraryId} op={row.operation} />
              </td>
              <td data-field="origin">
                <OpOrigin op={row.operation} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableBox>
  );
}

function LiveLog({ libraryId, log }: { libraryId: string; log: Change[] }) {
  return (
    <>
      <p class="muted">
        Changes since this page opened, newest first (last {LOG_SIZE}), each with the state it left.
      </p>
      {log.length === 0 ? <Notice>No change yet.</Notice> : null}
      <TableBox>
        <table id="live">
          <thead>
            <tr>
              <th class="num">offset</th>
              <th>what</th>
              <th>state</th>
            </tr>
          </thead>
          <tbody>
            {log.map((change, i) => (
              <tr key={`${log.length - i}`}>
                <td class="num">{change.offset}</td>
                <td>
                  {change.type === 'record' ? (
                    <>
                      {change.model} <RecordLink libraryId={libraryId} id={change.id} />
                    </>
                  ) : (
                    <>
                      {change.relation} <RecordLink libraryId={libraryId} id={change.item} /> →{' '}
                      <RecordLink libraryId={libraryId} id={change.group} />
                    </>
                  )}
                </td>
                <td>
                  {change.type === 'record' && change.deleted ? (
                    <strong>deleted</strong>
                  ) : change.type === 'relation' && !change.visible ? (
                    <strong>not visible</strong>
                  ) : (
                    <code>{JSON.stringify(change.data)}</code>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableBox>
    </>
  );
}
