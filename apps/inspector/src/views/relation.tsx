import { getJson, libraryPath } from '../api';
import type { Page, RelationRow } from '../api-types';
import type { Capabilities } from '../capabilities';
import { HistoryTimeline } from '../history';
import { type Route, href } from '../route';
import { ErrorNote, Notice, RecordLink, useLoad } from '../ui';
import { RelationTable } from './library';

type RelationRoute = Extract<Route, { view: 'relation' }>;

/** One relation key: its current state (if visible) and its history. */
export function RelationView({
  route,
  capabilities,
}: {
  route: RelationRoute;
  capabilities: Capabilities;
}) {
  const { libraryId, relation, item, group } = route;
  const current = useLoad(
    (signal) =>
      getJson<Page<RelationRow>>(
        libraryPath(libraryId, '/relations'),
        { relation, item, group },
        signal,
      ),
    [libraryId, relation, item, group],
  );
  return (
    <section>
      <p class="crumbs">
        <a href={href({ view: 'library', libraryId, tab: 'relations', relation })}>
          library {libraryId}
        </a>
      </p>
      <h1>{relation}</h1>
      <p>
        item <RecordLink libraryId={libraryId} id={item} />, group{' '}
        <RecordLink libraryId={libraryId} id={group} />
      </p>
      {current.error ? <ErrorNote error={current.error} what="relation" /> : null}
      {current.data && current.data.items.length === 0 ? (
        <Notice>Not visible now (removed, or its item or group is missing or deleted).</Notice>
      ) : null}
      {current.data && current.data.items.length > 0 ? (
        <RelationTable libraryId={libraryId} rows={current.data.items} id="relation" />
      ) : null}
      <h2>History</h2>
      <HistoryTimeline
        libraryId={libraryId}
        path={libraryPath(libraryId, '/relations/history')}
        params={{ relation, item, group }}
        available={capabilities.relationHistory}
      />
    </section>
  );
}
