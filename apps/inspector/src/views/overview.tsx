import { useState } from 'preact/hooks';
import { ApiError, getJson } from '../api';
import type { LibrarySummary, Page, PartitionLag, Pipeline } from '../api-types';
import { href } from '../route';
import { ErrorNote, IdForm, Notice, NumCell, Pager, TableBox, useInterval, useLoad } from '../ui';

const REFRESH_MS = 5000;

const openLibrary = (libraryId: string) => {
  location.hash = href({ view: 'library', libraryId, tab: 'records' });
};

/** Every library with its counts and lag, the pipeline's health; refreshes itself. */
export function Overview() {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [tick, setTick] = useState(0);
  const [refreshedAt, setRefreshedAt] = useState<string | null>(null);
  useInterval(() => setTick((n) => n + 1), REFRESH_MS);
  const cursor = cursors[cursors.length - 1];
  const libraries = useLoad(
    (signal) =>
      getJson<Page<LibrarySummary>>('/libraries', { limit: 100, cursor }, signal).then((page) => {
        setRefreshedAt(new Date().toLocaleTimeString());
        return page;
      }),
    [cursor, tick],
  );
  const pipeline = useLoad((signal) => getJson<Pipeline>('/pipeline', {}, signal), [tick]);

  // A key for one library cannot list libraries (403): ask which library to show.
  const scoped = libraries.error instanceof ApiError && libraries.error.status === 403;
  const lagOf = new Map<number, PartitionLag>(
    (pipeline.data?.partitions ?? []).map((p) => [p.partition, p]),
  );

  return (
    <section>
      <h1>Overview</h1>
      {scoped ? (
        <Notice>
          This key covers one library, so it cannot list libraries. Enter the library id to open it.
        </Notice>
      ) : null}
      <IdForm label="Library id" button="Open" name="library-id" onSubmit={openLibrary} />

      {scoped ? null : (
        <>
          <h2>
            Libraries{' '}
            <small class="muted">
              {refreshedAt === null ? '' : `refreshed ${refreshedAt}, every ${REFRESH_MS / 1000} s`}
            </small>
          </h2>
          {libraries.error ? <ErrorNote error={libraries.error} what="libraries" /> : null}
          {libraries.data ? (
            <>
              <TableBox>
                <table id="libraries">
                  <thead>
                    <tr>
                      <th>library</th>
                      <th>partition</th>
                      <th class="num">ops</th>
                      <th class="num">records</th>
                      <th class="num">relations</th>
                      <th class="num">pending</th>
                      <th class="num">rejected</th>
                      <th class="num">applied offset</th>
                      <th class="num">behind</th>
                    </tr>
                  </thead>
                  <tbody>
                    {libraries.data.items.map((library) => {
                      const lag = lagOf.get(library.partition);
                      return (
                        <tr key={library.id} data-id={library.id}>
                          <td data-field="id">
                            <a
                              class="id"
                              href={href({
                                view: 'library',
                                libraryId: library.id,
                                tab: 'records',
                              })}
                            >
                              {library.id}
                            </a>
                          </td>
                          <td data-field="partition">{library.partition}</td>
                          <NumCell field="operations" value={library.operations} />
                          <NumCell field="records" value={library.records} />
                          <NumCell field="relations" value={library.relations} />
                          <NumCell field="pending" value={library.pending} />
                          <NumCell field="rejected" value={library.rejected} />
                          <NumCell field="appliedOffset" value={lag?.appliedOffset} />
                          <NumCell field="lag" value={lag?.lag} />
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </TableBox>
              {libraries.data.items.length === 0 ? <Notice>No library seen yet.</Notice> : null}
              <Pager
                canBack={cursors.length > 1}
                next={libraries.data.nextCursor}
                onBack={() => setCursors(cursors.slice(0, -1))}
                onNext={(next) => setCursors([...cursors, next])}
              />
            </>
          ) : null}
          <PipelinePanel pipeline={pipeline.data} error={pipeline.error} />
        </>
      )}
    </section>
  );
}

function PipelinePanel({ pipeline, error }: { pipeline?: Pipeline; error?: Error }) {
  return (
    <>
      <h2>Services</h2>
      {error ? <ErrorNote error={error} what="pipeline" /> : null}
      {pipeline ? (
        <>
          <ul class="services" id="services">
            {pipeline.services.map((service) => (
              <li key={service.name} data-service={service.name}>
                <span class={service.ready ? 'badge ok' : 'badge down'}>
                  {service.ready ? 'ready' : 'not ready'}
                </span>{' '}
                <strong>{service.name}</strong>{' '}
                <span class="muted">{service.url ?? 'this server'}</span>
                {service.message === null ? null : <span class="error"> {service.message}</span>}
              </li>
            ))}
          </ul>
          <h2>Projector</h2>
          {pipeline.kafkaError === null ? null : (
            <p class="error">Kafka did not answer: {pipeline.kafkaError}</p>
          )}
          <p>
            Dead letters in <code>{pipeline.deadLetters.topic}</code>:{' '}
            <strong id="dead-letters">{pipeline.deadLetters.messages ?? 'unknown'}</strong>
          </p>
          <TableBox>
            <table id="partitions">
              <thead>
                <tr>
                  <th>partition of {pipeline.topic}</th>
                  <th class="num">applied offset</th>
                  <th class="num">end offset</th>
                  <th class="num">lag</th>
                </tr>
              </thead>
              <tbody>
                {pipeline.partitions.map((p) => (
                  <tr key={p.partition} data-id={String(p.partition)}>
                    <td data-field="partition">{p.partition}</td>
                    <NumCell field="appliedOffset" value={p.appliedOffset} />
                    <NumCell field="endOffset" value={p.endOffset} />
                    <NumCell field="lag" value={p.lag} warn={p.lag !== null && p.lag > 0} />
                  </tr>
                ))}
              </tbody>
            </table>
          </TableBox>
        </>
      ) : null}
    </>
  );
}
