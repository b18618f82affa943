export const QUERY_CONFIG = Symbol('QUERY_CONFIG');
