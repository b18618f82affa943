import fc from 'fast-check';
import { pageJson, toPage } from './views';

describe('pageJson', () => {
  it('joins JSON items into the page the API answers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 8 }),
        fc.option(fc.string(), { nil: null }),
        (values, nextCursor) => {
          const body = pageJson({ items: values.map((v) => JSON.stringify(v)), nextCursor });
          expect(JSON.parse(body.toString('utf8'))).toEqual({
            items: values.map((v) => JSON.parse(JSON.stringify(v)) as unknown),
            nextCursor,
          });
        },
      ),
    );
  });

  it('ends a last page with a null cursor', () => {
    const page = toPage(
      ['{"a": 1}', '{"b": 2}'],
      5,
      (item) => item,
      () => 'never',
    );
    expect(pageJson(page).toString('utf8')).toBe('{"items":[{"a": 1},{"b": 2}],"nextCursor":null}');
  });

  it('gives the same bytes for a page larger than the pieces it is encoded in', () => {
    // ~300 KB over many 32 Ki-character pieces, with multi-byte text across their edges.
    const items = Array.from({ length: 1500 }, (_, i) => JSON.stringify({ i, name: `é😀 ${i}` }));
    for (let i = 0; i < items.length; i += 7) items[i] += ' '.repeat(150);
    const body = pageJson({ items, nextCursor: 'next' });
    expect(body.toString('utf8')).toBe(`{"items":[${items.join(',')}],"nextCursor":"next"}`);
  });
});
