import { Clock, identityKey } from '../hlc/clock-order';
import { Ntp64 } from '../hlc/ntp64';
import { JsonObject, JsonValue } from '../json';

export type OperationType = 'CREATE' | 'UPDATE' | 'DELETE';

/** `hybrid` stays in its wire form: the canonical decimal string of an NTP64 value. */
export interface OperationTimestamp {
  hybrid: string;
}

interface OperationBase {
  /** Lowercase UUID of the node that produced the op. */
  node: string;
  timestamp: OperationTimestamp;
}

export interface RecordCreate extends OperationBase {
  type: 'CREATE';
  recordId: string;
  model: string;
  data: JsonObject;
}

export interface RecordUpdate extends OperationBase {
  type: 'UPDATE';
  recordId: string;
  model?: string;
  field: string;
  value: JsonValue;
}

export interface RecordDelete extends OperationBase {
  type: 'DELETE';
  recordId: string;
  model?: string;
}

export interface RelationCreate extends OperationBase {
  type: 'CREATE';
  relationItem: string;
  relationGroup: string;
  relation: string;
  data?: JsonObject;
}

export interface RelationUpdate extends OperationBase {
  type: 'UPDATE';
  relationItem: string;
  relationGroup: string;
  relation: string;
  field: string;
  value: JsonValue;
}

export interface RelationDelete extends OperationBase {
  type: 'DELETE';
  relationItem: string;
  relationGroup: string;
  relation: string;
}

export type RecordOperation = RecordCreate | RecordUpdate | RecordDelete;
export type RelationOperation = RelationCreate | RelationUpdate | RelationDelete;
export type Operation = RecordOperation | RelationOperation;

export function isRecordOp(op: Operation): op is RecordOperation {
  return 'recordId' in op;
}

export function isRelationOp(op: Operation): op is RelationOperation {
  return 'relationItem' in op;
}

/** The op's hybrid as a bigint (ops are validated, so the string is canonical). */
export function opHybrid(op: Operation): Ntp64 {
  return BigInt(op.timestamp.hybrid);
}

export function opClock(op: Operation): Clock {
  return { hybrid: BigInt(op.timestamp.hybrid), node: op.node };
}

/** identityKey(node, hybrid) of an op. */
export function opIdentityKey(op: Operation): string {
  return identityKey(op.node, op.timestamp.hybrid);
}
