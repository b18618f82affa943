import fc from 'fast-check';
import { SseParser } from './sse-parser';

const STREAM =
  ': heartbeat\n\n' +
  'event: record\ndata: {"offset":"1"}\n\n' +
  'id: 2\r\nevent: relation\r\ndata: {"a":1}\r\ndata: {"b":2}\r\n\r\n' +
  'data:no space\rid:3\r\r: after a lone CR\n';

const EXPECTED = [
  { event: 'record', data: '{"offset":"1"}' },
  { event: 'relation', data: '{"a":1}\n{"b":2}', id: '2' },
  { event: 'message', data: 'no space', id: '3' },
];

describe('SseParser', () => {
  it('reads events, multi-line data, ids and comments with any line ending', () => {
    expect(new SseParser().push(STREAM)).toEqual(EXPECTED);
  });

  it('gives the same events however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: STREAM.length - 1 }), { maxLength: 12 }),
        (cuts) => {
          const parser = new SseParser();
          const points = [0, ...cuts.sort((a, b) => a - b), STREAM.length];
          const events = points
            .slice(1)
            .flatMap((end, i) => parser.push(STREAM.slice(points[i], end)));
          expect(events).toEqual(EXPECTED);
        },
      ),
    );
  });

  it('keeps an unfinished event until its blank line arrives', () => {
    const parser = new SseParser();
    expect(parser.push('event: record\ndata: x\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ event: 'record', data: 'x' }]);
  });
});
