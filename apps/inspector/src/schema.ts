import { getJson } from './api';
import type { SchemaInfo } from './api-types';
import { readKey } from './session-key';

let cached: { key: string | null; schema: Promise<SchemaInfo> } | undefined;

/** The server's schema (GET /schema), asked once per key: it only changes with a restart. */
export function loadSchema(): Promise<SchemaInfo> {
  const key = readKey();
  if (cached === undefined || cached.key !== key) {
    const schema = getJson<SchemaInfo>('/schema');
    cached = { key, schema };
    // A failed answer is not kept: the next view asks again (e.g. once a key is entered).
    schema.catch(() => {
      if (cached?.schema === schema) cached = undefined;
    });
  }
  return cached.schema;
}
