/** Response shapes of the query API (CONTRACT.md sections 7 and 8), as the page reads them. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Data = Record<string, Json>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface LibrarySummary {
  id: string;
  partition: number;
  operations: number;
  records: number;
  relations: number;
  pending: number;
  rejected: number;
}

export interface LibraryStatus {
  partition: number;
  appliedOffset: string | null;
  records: number;
  relations: number;
  pending: number;
  rejected: number;
}

export interface RecordRow {
  id: string;
  model: string;
  data: Data;
}

export interface FieldWrite {
  node: string;
  hybrid: string;
  offset: string;
}

/** GET .../records/{id}?explain=true (section 8); `writes` is absent on a server without it. */
export interface ExplainedRecord extends RecordRow {
  writes?: Record<string, FieldWrite>;
}

export interface RelationRow {
  relation: string;
  item: string;
  group: string;
  data: Data;
}

/** An op as sent (section 3); the page only reads these fields. */
export interface Operation {
  type: 'CREATE' | 'UPDATE' | 'DELETE';
  recordId?: string;
  model?: string;
  relation?: string;
  relationItem?: string;
  relationGroup?: string;
  data?: Data;
  field?: string;
  value?: Json;
  node: string;
  timestamp: { hybrid: string };
}

export interface RejectedOp {
  offset: string;
  operation: Operation;
  reason: string;
}

export interface PendingOp {
  offset: string;
  operation: Operation;
}

export interface HistoryEntry {
  offset: string;
  operation: Operation;
  status: 'accepted' | 'rejected';
  reason?: string;
}

export interface Digest {
  digest: string;
  appliedOffset: string;
  records: number;
  relations: number;
}

export interface FieldInfo {
  name: string;
  type: string;
  nullable: boolean;
  model?: string;
}

export interface SchemaInfo {
  models: { name: string; kind: 'shared' | 'owned'; fields: FieldInfo[] }[];
  relations: { name: string; item: string; group: string; fields: FieldInfo[] }[];
}

export interface PartitionLag {
  partition: number;
  appliedOffset: string | null;
  endOffset: string | null;
  lag: number | null;
}

export interface Pipeline {
  topic: string;
  partitions: PartitionLag[];
  deadLetters: { topic: string; messages: number | null };
  kafkaError: string | null;
  services: { name: string; url: string | null; ready: boolean; message: string | null }[];
}

/** Events of GET .../changes (SSE). */
export interface RecordChange {
  type: 'record';
  offset: string;
  id: string;
  model: string;
  deleted: boolean;
  data: Data | null;
}

export interface RelationChange {
  type: 'relation';
  offset: string;
  relation: string;
  item: string;
  group: string;
  visible: boolean;
  data: Data | null;
}

export type Change = RecordChange | RelationChange;
