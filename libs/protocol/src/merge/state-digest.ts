import { type Sha256, createSha256 } from '../hash/sha256';
import { canonicalJson } from '../operation/canonical-json';

/*
 * The state digest of CONTRACT.md section 8: SHA-256 over one canonical JSON line per visible
 * record (ascending id), then one per visible relation (ascending relation, item, group as
 * UTF-16 code units). Server and nodes feed it the same views, so equal states give equal
 * digests; lines are hashed as they come, so a state of any size needs constant memory.
 */

/** A visible record as the record endpoints show it (a RecordView, or its JSON). */
export interface DigestRecord {
  id: string;
  model: string;
  data: Readonly<Record<string, unknown>>;
}

/** A visible relation as the relation endpoints show it (a RelationView, or its JSON). */
export interface DigestRelation {
  relation: string;
  item: string;
  group: string;
  data: Readonly<Record<string, unknown>>;
}

/** Ascending by UTF-16 code units, as `<` on strings compares. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type RelationKeyParts = Pick<DigestRelation, 'relation' | 'item' | 'group'>;

/** The digest's order of relations: relation, then item, then group. */
export function compareRelationKeys(a: RelationKeyParts, b: RelationKeyParts): number {
  return (
    compareCodeUnits(a.relation, b.relation) ||
    compareCodeUnits(a.item, b.item) ||
    compareCodeUnits(a.group, b.group)
  );
}

export function recordDigestLine(record: DigestRecord): string {
  return `${canonicalJson({ id: record.id, model: record.model, data: record.data })}\n`;
}

export function relationDigestLine(relation: DigestRelation): string {
  const { relation: name, item, group, data } = relation;
  return `${canonicalJson({ relation: name, item, group, data })}\n`;
}

export interface StateDigestResult {
  /** `sha256:` and 64 lowercase hex digits. */
  digest: string;
  records: number;
  relations: number;
}

/**
 * Feed records in ascending id order, then relations in key order; out-of-order input throws
 * (a digest of misordered lines would silently differ from every other party's).
 */
export class StateDigest {
  private readonly hash: Sha256 = createSha256();
  private lastRecord: string | undefined;
  private lastRelation: DigestRelation | undefined;
  private records = 0;
  private relations = 0;

  addRecord(record: DigestRecord): void {
    if (this.lastRelation !== undefined) throw new Error('state digest: record after relations');
    if (this.lastRecord !== undefined && compareCodeUnits(this.lastRecord, record.id) >= 0) {
      throw new Error(`state digest: record ${record.id} out of order`);
    }
    this.lastRecord = record.id;
    this.records++;
    this.hash.update(recordDigestLine(record));
  }

  addRelation(relation: DigestRelation): void {
    if (this.lastRelation !== undefined && compareRelationKeys(this.lastRelation, relation) >= 0) {
      throw new Error(
        `state digest: relation ${relation.relation} ${relation.item} ${relation.group} out of order`,
      );
    }
    this.lastRelation = relation;
    this.relations++;
    this.hash.update(relationDigestLine(relation));
  }

  /** Ends the digest; the object cannot be fed afterwards. */
  finish(): StateDigestResult {
    return {
      digest: `sha256:${this.hash.hexDigest()}`,
      records: this.records,
      relations: this.relations,
    };
  }
}

/** Digest of a whole state held in memory (views in any order). */
export function stateDigest(state: {
  records: readonly DigestRecord[];
  relations: readonly DigestRelation[];
}): StateDigestResult {
  const digest = new StateDigest();
  for (const record of [...state.records].sort((a, b) => compareCodeUnits(a.id, b.id))) {
    digest.addRecord(record);
  }
  for (const relation of [...state.relations].sort(compareRelationKeys)) {
    digest.addRelation(relation);
  }
  return digest.finish();
}
