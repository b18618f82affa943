/** Which section-8 reads ("the log as data") the server offers. */
export interface Capabilities {
  recordHistory: boolean;
  relationHistory: boolean;
  /** The digest route; a server that has it also answers asOf on the state reads. */
  timeTravel: boolean;
}

export const NONE: Capabilities = {
  recordHistory: false,
  relationHistory: false,
  timeTravel: false,
};

/**
 * Reads them off the server's OpenAPI document (GET /docs-json, open like the page itself). A
 * 404 cannot tell "no such route" from "no such record", and an older server ignores unknown
 * parameters such as asOf (it would answer the current state), so asking the routes directly
 * would mislead; the document lists exactly the routes the server has.
 */
export function capabilitiesOf(document: unknown): Capabilities {
  const paths = Object.keys((document as { paths?: Record<string, unknown> } | null)?.paths ?? {});
  const has = (pattern: RegExp) => paths.some((path) => pattern.test(path));
  return {
    recordHistory: has(/^\/libraries\/\{[^}]+\}\/records\/\{[^}]+\}\/history$/),
    relationHistory: has(/^\/libraries\/\{[^}]+\}\/relations\/history$/),
    timeTravel: has(/^\/libraries\/\{[^}]+\}\/digest$/),
  };
}
