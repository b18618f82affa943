import { useState } from 'preact/hooks';
import { ApiError, getJson } from './api';
import type { HistoryEntry, Page } from './api-types';
import { ErrorNote, Notice, OpOrigin, OperationSummary, useLoad } from './ui';

const PAGE_SIZE = 100;

/**
 * The log's ops for one record or relation key, accepted and rejected, in log order (CONTRACT
 * section 8), as a timeline; "load more" follows nextCursor.
 */
export function HistoryTimeline(props: {
  libraryId: string;
  path: string;
  params?: Record<string, string>;
  available: boolean;
}) {
  const [pages, setPages] = useState<(string | null)[]>([null]);
  if (!props.available) {
    return (
      <Notice>
        History is not available on this server (it has no history route; CONTRACT section 8).
      </Notice>
    );
  }
  return (
    <ol class="timeline" id="history">
      {pages.map((cursor, i) => (
        <HistoryPage
          key={cursor ?? ''}
          {...props}
          cursor={cursor}
          onMore={i === pages.length - 1 ? (next) => setPages([...pages, next]) : undefined}
        />
      ))}
    </ol>
  );
}

function HistoryPage(props: {
  libraryId: string;
  path: string;
  params?: Record<string, string>;
  cursor: string | null;
  onMore?: (cursor: string) => void;
}) {
  const page = useLoad(
    (signal) =>
      getJson<Page<HistoryEntry>>(
        props.path,
        { ...props.params, limit: PAGE_SIZE, cursor: props.cursor },
        signal,
      ),
    [props.path, props.cursor],
  );
  if (page.error instanceof ApiError && page.error.status === 404 && props.cursor === null) {
    return (
      <li>
        <Notice>The log holds no op for this key.</Notice>
      </li>
    );
  }
  if (page.error) {
    return (
      <li>
        <ErrorNote error={page.error} what="history" />
      </li>
    );
  }
  if (page.data === undefined) return null;
  const next = page.data.nextCursor;
  return (
    <>
      {page.data.items.map((entry) => (
        <li
          key={`${entry.offset} ${entry.operation.node} ${entry.operation.timestamp.hybrid}`}
          class={entry.status}
          data-offset={entry.offset}
          data-status={entry.status}
        >
          <span class="offset">offset {entry.offset}</span>{' '}
          <span class={entry.status === 'accepted' ? 'badge ok' : 'badge down'}>
            {entry.status}
            {entry.reason === undefined ? '' : ` ${entry.reason}`}
          </span>{' '}
          <OperationSummary libraryId={props.libraryId} op={entry.operation} />{' '}
          <OpOrigin op={entry.operation} />
        </li>
      ))}
      {next !== null && props.onMore ? (
        <li>
          <button type="button" onClick={() => props.onMore?.(next)}>
            load more
          </button>
        </li>
      ) : null}
    </>
  );
}
