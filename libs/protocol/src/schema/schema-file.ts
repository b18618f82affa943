import { readFileSync } from 'node:fs';
import { defaultSchema } from './default-schema';
import type { Schema } from './schema';
import { SchemaError, parseSchema } from './schema-parser';

/* Schemas read from files: Node only, kept apart so the parser and the default schema bundle for browsers. */

/** Reads and validates a schema file (JSON). Throws SchemaError with the file name. */
export function loadSchema(path: string): Schema {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SchemaError(path, [
      { path: '', message: `cannot read file: ${(err as Error).message}` },
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SchemaError(path, [
      { path: '', message: `not valid JSON: ${(err as Error).message}` },
    ]);
  }
  return parseSchema(json, path);
}

/** Schema named by env SYNC_SCHEMA (a JSON file path), else the bundled default. */
export function loadConfiguredSchema(env: NodeJS.ProcessEnv = process.env): Schema {
  const path = env['SYNC_SCHEMA'];
  return path !== undefined && path.trim() !== '' ? loadSchema(path.trim()) : defaultSchema();
}
