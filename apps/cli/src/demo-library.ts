import { randomUUID } from 'node:crypto';
import { HybridLogicalClock, formatHybrid } from '@sync/protocol';

export interface DemoOptions {
  files: number;
  /** Files per object: duplicates of one content share an Object (as cas_id would). */
  objects: number;
  tags: number;
  albums: number;
  /** Devices: each owns one Location and the FilePaths in it. */
  nodes: number;
  /** Deterministic choices (tags per object, names) for a given seed. */
  seed: number;
}

export const DEFAULT_DEMO: DemoOptions = {
  files: 5000,
  objects: 4000,
  tags: 25,
  albums: 12,
  nodes: 2,
  seed: 1,
};

const EXTENSIONS = ['jpg', 'png', 'heic', 'mov', 'mp4', 'pdf', 'txt', 'md', 'raw', 'zip'];
const KIND_OF: Record<string, number> = {
  jpg: 5,
  png: 5,
  heic: 5,
  raw: 5,
  mov: 7,
  mp4: 7,
  pdf: 1,
  txt: 1,
  md: 1,
  zip: 3,
};
const TAG_NAMES = [
  'family',
  'work',
  'travel',
  'pets',
  'receipts',
  'screenshots',
  'music',
  'art',
  'food',
  'nature',
];
const COLORS = ['#e11d48', '#f97316', '#eab308', '#22c55e', '#06b6d4', '#3b82f6', '#8b5cf6'];

/** mulberry32: a tiny seeded PRNG, so a demo can be regenerated identically. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A realistic library like a Spacedrive user's: devices with a Location each, thousands of
 * FilePaths (owned by the device whose disk holds them) pointing at Objects (content), tags and
 * albums (shared), tag-on-object and object-in-album links. Yields ops in a valid order
 * (every record created before it is referenced), with increasing hybrids near now.
 */
export function* demoOperations(options: DemoOptions): Generator<Record<string, unknown>> {
  const rand = random(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
  const clock = new HybridLogicalClock();
  const stamp = () => ({ timestamp: { hybrid: formatHybrid(clock.now()) } });
  const now = () => new Date().toISOString();
  const nodes = Array.from({ length: options.nodes }, () => randomUUID());
  const create = (
    node: string,
    model: string,
    data: Record<string, unknown>,
    id = randomUUID(),
  ) => ({
    id,
    op: { type: 'CREATE', recordId: id, model, data, node, ...stamp() },
  });

  const locations: { id: string; node: string }[] = [];
  for (const [i, node] of nodes.entries()) {
    const location = create(node, 'Location', {
      name: i === 0 ? 'MacBook' : `Device ${i + 1}`,
      path: i === 0 ? '/Users/demo' : `/mnt/disk${i}`,
      total_capacity: 1_000_000_000_000,
      available_capacity: Math.floor(rand() * 500_000_000_000),
      is_archived: false,
      date_created: now(),
    });
    locations.push({ id: location.id, node });
    yield location.op;
  }
  const tags: string[] = [];
  for (let i = 0; i < options.tags; i++) {
    const name = i < TAG_NAMES.length ? TAG_NAMES[i] : `${pick(TAG_NAMES)}-${i}`;
    const tag = create(pick(nodes), 'Tag', {
      name,
      color: pick(COLORS),
      is_hidden: false,
      date_created: now(),
    });
    tags.push(tag.id);
    yield tag.op;
  }
  const albums: string[] = [];
  for (let i = 0; i < options.albums; i++) {
    const album = create(pick(nodes), 'Album', {
      name: `Album ${i + 1}`,
      is_hidden: false,
      date_created: now(),
    });
    albums.push(album.id);
    yield album.op;
  }
  const objects: { id: string; ext: string }[] = [];
  for (let i = 0; i < options.objects; i++) {
    const ext = pick(EXTENSIONS);
    const object = create(pick(nodes), 'Object', {
      kind: KIND_OF[ext],
      favorite: rand() < 0.05,
      important: false,
      hidden: false,
      note: null,
      date_created: now(),
    });
    objects.push({ id: object.id, ext });
    yield object.op;
    const node = pick(nodes);
    for (const tag of tags) {
      if (rand() < 0.08) {
        yield {
          type: 'CREATE',
          relation: 'TagOnObject',
          relationItem: object.id,
          relationGroup: tag,
          data: { date_created: now() },
          node,
          ...stamp(),
        };
      }
    }
    if (albums.length > 0 && rand() < 0.15) {
      yield {
        type: 'CREATE',
        relation: 'ObjectInAlbum',
        relationItem: object.id,
        relationGroup: pick(albums),
        data: { date_created: now() },
        node,
        ...stamp(),
      };
    }
  }
  for (let i = 0; i < options.files; i++) {
    const location = pick(locations);
    // Every object gets a file; the rest are copies of some object.
    const object = i < objects.length ? objects[i] : objects.length > 0 ? pick(objects) : undefined;
    const ext = object?.ext ?? pick(EXTENSIONS);
    yield create(location.node, 'FilePath', {
      name: `file-${String(i).padStart(6, '0')}`,
      extension: ext,
      materialized_path: `/${pick(['Photos', 'Documents', 'Downloads', 'Videos'])}/${2015 + Math.floor(rand() * 11)}/`,
      is_dir: false,
      size_in_bytes: Math.floor(rand() * 50_000_000),
      cas_id: object ? object.id.replace(/-/g, '').slice(0, 16) : null,
      location: location.id,
      object: object?.id ?? null,
      date_created: now(),
      date_modified: now(),
    }).op;
  }
}
