import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { PortableSha256, createSha256, sha256Hex } from './sha256';

const nodeHex = (chunks: string[]) => {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk, 'utf8');
  return hash.digest('hex');
};

const portableHex = (chunks: string[]) => {
  const hash = new PortableSha256();
  for (const chunk of chunks) hash.update(chunk);
  return hash.hexDigest();
};

describe('SHA-256', () => {
  it('gives the FIPS 180-4 test vectors in plain JavaScript', () => {
    expect(portableHex([''])).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(portableHex(['abc'])).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(portableHex(['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'])).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it("equals Node's hash for any text fed in any chunks (UTF-8, block edges, surrogates)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.fullUnicodeString({ maxLength: 200 }), fc.string({ maxLength: 130 })),
          {
            maxLength: 8,
          },
        ),
        (chunks) => {
          const expected = nodeHex(chunks);
          expect(portableHex(chunks)).toBe(expected);
          const hash = createSha256();
          for (const chunk of chunks) hash.update(chunk);
          expect(hash.hexDigest()).toBe(expected);
          expect(sha256Hex(chunks.join(''))).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles every padding length around the 56-byte boundary', () => {
    for (let n = 50; n <= 130; n++) {
      const text = 'x'.repeat(n);
      expect(portableHex([text])).toBe(nodeHex([text]));
    }
  });
});
