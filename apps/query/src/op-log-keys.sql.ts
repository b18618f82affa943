/*
 * Keys of an op in the op log tables (operations, rejected_operations), as SQL over the stored
 * op: these are the expressions of the indexes of migration 1767300000000-op-log-history-indexes
 * and must stay identical to them, or a history read scans the library's log.
 */

/** A record op's record id (text, lowercase as stored); NULL for relation ops. */
export const RECORD_KEY_SQL = `(operation->>'recordId')`;

/** A relation op's key `relation|item|group`; NULL for record ops. */
export const RELATION_KEY_SQL = `((operation->>'relation') || '|' || (operation->>'relationItem') || '|' || (operation->>'relationGroup'))`;
