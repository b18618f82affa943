import { type Route, href, parseRoute } from './route';

const LIB = '6f1c2a9e-0b7d-4c8e-9a51-3d2f7e4b1c00';
const REC = '5a0e7c1d-2b3f-4e6a-9c8d-7f1e2d3c4b5a';

describe('routes', () => {
  const routes: Route[] = [
    { view: 'overview' },
    { view: 'library', libraryId: LIB, tab: 'records', model: 'Tag', relation: undefined },
    {
      view: 'library',
      libraryId: LIB,
      tab: 'relations',
      model: undefined,
      relation: 'TagOnObject',
    },
    { view: 'record', libraryId: LIB, recordId: REC },
    { view: 'relation', libraryId: LIB, relation: 'TagOnObject', item: REC, group: LIB },
    { view: 'time', libraryId: LIB, at: '42', model: 'Object', relation: undefined },
  ];

  it.each(routes)('round-trips %j through the hash', (route) => {
    expect(parseRoute(href(route))).toEqual(route);
  });

  it('defaults a library to its records tab and an empty hash to the overview', () => {
    expect(parseRoute(`#/library/${LIB}?tab=nonsense`)).toMatchObject({ tab: 'records' });
    expect(parseRoute('')).toEqual({ view: 'overview' });
    expect(parseRoute('#/')).toEqual({ view: 'overview' });
  });

  it('calls anything else unknown', () => {
    expect(parseRoute('#/nowhere')).toEqual({ view: 'unknown', hash: '#/nowhere' });
    expect(parseRoute(`#/library/${LIB}/record`)).toMatchObject({ view: 'unknown' });
  });
});
