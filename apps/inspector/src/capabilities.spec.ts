import { NONE, capabilitiesOf } from './capabilities';

describe('capabilitiesOf', () => {
  it('finds the section-8 routes in the OpenAPI paths', () => {
    const document = {
      paths: {
        '/libraries/{libraryId}/records': {},
        '/libraries/{libraryId}/records/{recordId}/history': {},
        '/libraries/{libraryId}/relations/history': {},
        '/libraries/{libraryId}/digest': {},
      },
    };
    expect(capabilitiesOf(document)).toEqual({
      recordHistory: true,
      relationHistory: true,
      timeTravel: true,
    });
  });

  it('offers nothing a server without them does not list', () => {
    expect(capabilitiesOf({ paths: { '/libraries/{libraryId}/records/{recordId}': {} } })).toEqual(
      NONE,
    );
    expect(capabilitiesOf(null)).toEqual(NONE);
  });
});
