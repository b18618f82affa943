/** The page's places, kept in the URL hash so each view can be linked and reloaded. */
export type Route =
  | { view: 'overview' }
  | {
      view: 'library';
      libraryId: string;
      tab: LibraryTab;
      model?: string;
      relation?: string;
    }
  | { view: 'record'; libraryId: string; recordId: string }
  | { view: 'relation'; libraryId: string; relation: string; item: string; group: string }
  | { view: 'time'; libraryId: string; at?: string; model?: string; relation?: string }
  | { view: 'unknown'; hash: string };

export const LIBRARY_TABS = ['records', 'relations', 'rejected', 'pending', 'live'] as const;
export type LibraryTab = (typeof LIBRARY_TABS)[number];

const isTab = (value: string | null): value is LibraryTab =>
  (LIBRARY_TABS as readonly string[]).includes(value ?? '');

/** Parses `#/library/<id>/record/<recordId>` and friends; anything else is 'unknown'. */
export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#/, '');
  const [path, query = ''] = text.split('?', 2);
  const params = new URLSearchParams(query);
  const parts = path
    .split('/')
    .filter((part) => part !== '')
    .map(decodeURIComponent);
  const optional = (name: string) => params.get(name) ?? undefined;
  if (parts.length === 0) return { view: 'overview' };
  if (parts[0] !== 'library' || parts.length < 2) return { view: 'unknown', hash };
  const libraryId = parts[1];
  const rest = parts.slice(2);
  if (rest.length === 0) {
    const tab = params.get('tab');
    return {
      view: 'library',
      libraryId,
      tab: isTab(tab) ? tab : 'records',
      model: optional('model'),
      relation: optional('relation'),
    };
  }
  if (rest[0] === 'record' && rest.length === 2) {
    return { view: 'record', libraryId, recordId: rest[1] };
  }
  if (rest[0] === 'relation' && rest.length === 4) {
    return { view: 'relation', libraryId, relation: rest[1], item: rest[2], group: rest[3] };
  }
  if (rest[0] === 'time' && rest.length === 1) {
    return {
      view: 'time',
      libraryId,
      at: optional('at'),
      model: optional('model'),
      relation: optional('relation'),
    };
  }
  return { view: 'unknown', hash };
}

/** The hash of a route (the inverse of parseRoute). */
export function href(route: Route): string {
  const seg = encodeURIComponent;
  const query = (params: Record<string, string | undefined>) => {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined) search.set(name, value);
    }
    const text = search.toString();
    return text === '' ? '' : `?${text}`;
  };
  switch (route.view) {
    case 'overview':
      return '#/';
    case 'library':
      return `#/library/${seg(route.libraryId)}${query({
        tab: route.tab === 'records' ? undefined : route.tab,
        model: route.model,
        relation: route.relation,
      })}`;
    case 'record':
      return `#/library/${seg(route.libraryId)}/record/${seg(route.recordId)}`;
    case 'relation':
      return `#/library/${seg(route.libraryId)}/relation/${seg(route.relation)}/${seg(route.item)}/${seg(route.group)}`;
    case 'time':
      return `#/library/${seg(route.libraryId)}/time${query({
        at: route.at,
        model: route.model,
        relation: route.relation,
      })}`;
    case 'unknown':
      return route.hash;
  }
}
