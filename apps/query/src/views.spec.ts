import fc from 'fast-check';
import { pageJson, toPage } from './views';

describe('pageJson', () => {
  it('joins JSON items into the page the API answers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 8 }),
        fc.option(fc.string(), { nil: null }),
        (values, nextCursor) => {
          const text = pageJson({ items: values.map((v) => JSON.stringify(v)), nextCursor });
          expect(JSON.parse(text)).toEqual({
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
    expect(pageJson(page)).toBe('{"items":[{"a": 1},{"b": 2}],"nextCursor":null}');
  });
});
