import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import type { Json, Operation } from './api-types';
import { href } from './route';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(): void;
}

/**
 * Runs `load` whenever `deps` change (aborting the previous run) and on reload(). The last data
 * stays on screen while the next load runs, so self-refreshing views do not flicker.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({
    loading: true,
  });
  const [round, setRound] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    const abort = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    latest.current(abort.signal).then(
      (data) => !abort.signal.aborted && setState({ data, loading: false }),
      (error: unknown) =>
        !abort.signal.aborted &&
        setState({
          error: error instanceof Error ? error : new Error(String(error)),
          loading: false,
        }),
    );
    return () => abort.abort();
  }, [...deps, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Calls `tick` every `ms` while mounted. */
export function useInterval(tick: () => void, ms: number): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    const timer = setInterval(() => latest.current(), ms);
    return () => clearInterval(timer);
  }, [ms]);
}

export function ErrorNote({ error, what }: { error: Error; what?: string }) {
  const text = error instanceof ApiError ? error.describe() : error.message;
  return (
    <p class="error" role="alert">
      {what === undefined ? '' : `${what}: `}
      {text}
    </p>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <p class="notice" role="status">
      {children}
    </p>
  );
}

/** A JSON value as the API returned it; null stands out from the string "null". */
export function Value({ value }: { value: Json | undefined }) {
  if (value === null || value === undefined) return <span class="null">null</span>;
  if (typeof value === 'string') return <>{value}</>;
  return <code>{JSON.stringify(value)}</code>;
}

export function RecordLink({ libraryId, id }: { libraryId: string; id: string }) {
  return (
    <a class="id" href={href({ view: 'record', libraryId, recordId: id })}>
      {id}
    </a>
  );
}

/** One op in a line: what it did, to what, by which node at which time. */
export function OperationSummary({ libraryId, op }: { libraryId: string; op: Operation }) {
  const target =
    op.recordId !== undefined ? (
      <>
        {op.model ?? 'record'} <RecordLink libraryId={libraryId} id={op.recordId} />
      </>
    ) : (
      <>
        {op.relation}{' '}
        {op.relation !== undefined &&
        op.relationItem !== undefined &&
        op.relationGroup !== undefined ? (
          <a
            href={href({
              view: 'relation',
              libraryId,
              relation: op.relation,
              item: op.relationItem,
              group: op.relationGroup,
            })}
          >
            {op.relationItem} → {op.relationGroup}
          </a>
        ) : null}
      </>
    );
  const change =
    op.type === 'UPDATE' ? (
      <>
        {op.field} = <Value value={op.value} />
      </>
    ) : op.type === 'CREATE' && op.data !== undefined ? (
      <code>{JSON.stringify(op.data)}</code>
    ) : null;
  return (
    <>
      <strong>{op.type}</strong> {target} {change}
    </>
  );
}

export function OpOrigin({ op }: { op: Operation }) {
  return (
    <span class="origin">
      node <code>{op.node}</code> at <code>{op.timestamp.hybrid}</code>
    </span>
  );
}

/** Scrolls sideways on a narrow screen instead of squeezing columns. */
/** A number column's cell, named by `field` for tests; an unknown value shows as a dash. */
export function NumCell(props: { field: string; value?: number | string | null; warn?: boolean }) {
  return (
    <td class={props.warn ? 'num warn' : 'num'} data-field={props.field}>
      {props.value ?? '—'}
    </td>
  );
}

export function TableBox({ children }: { children: ComponentChildren }) {
  return <div class="table-box">{children}</div>;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A form asking for a UUID; calls `onSubmit` with it in lowercase. */
export function IdForm(props: {
  label: string;
  button: string;
  onSubmit: (id: string) => void;
  name: string;
}) {
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <form
      class="inline-form"
      onSubmit={(event) => {
        event.preventDefault();
        const id = value.trim().toLowerCase();
        if (!UUID.test(id)) {
          setProblem('not a UUID');
          return;
        }
        setProblem(null);
        props.onSubmit(id);
      }}
    >
      <label>
        {props.label}{' '}
        <input
          name={props.name}
          value={value}
          onInput={(event) => setValue(event.currentTarget.value)}
          placeholder="00000000-0000-0000-0000-000000000000"
          spellcheck={false}
          autocomplete="off"
        />
      </label>{' '}
      <button type="submit">{props.button}</button>
      {problem === null ? null : <span class="error"> {problem}</span>}
    </form>
  );
}

/** Keyset paging: forward with nextCursor, back through the cursors already used. */
export function Pager(props: {
  canBack: boolean;
  next: string | null;
  onBack: () => void;
  onNext: (cursor: string) => void;
}) {
  if (!props.canBack && props.next === null) return null;
  return (
    <p class="pager">
      <button type="button" disabled={!props.canBack} onClick={props.onBack}>
        ← previous
      </button>{' '}
      <button
        type="button"
        disabled={props.next === null}
        onClick={() => props.next !== null && props.onNext(props.next)}
      >
        next →
      </button>
    </p>
  );
}
