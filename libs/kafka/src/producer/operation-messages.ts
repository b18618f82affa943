import { type Operation, normalizeUuid, operationJson } from '@sync/protocol';

export interface OperationMessage {
  key: string;
  value: string;
}

/** The message key of a library: its id in lowercase canonical form. */
export function libraryKey(libraryId: string): string {
  const key = normalizeUuid(libraryId);
  if (key === null) throw new TypeError(`library id must be a UUID: ${JSON.stringify(libraryId)}`);
  return key;
}

/** The wire form of ops (contract section 6): key = library id, value = canonical JSON. */
export function operationMessages(
  libraryId: string,
  ops: readonly Operation[],
): OperationMessage[] {
  const key = libraryKey(libraryId);
  return ops.map((op) => ({ key, value: operationJson(op) }));
}
