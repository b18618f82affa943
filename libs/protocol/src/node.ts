/* The protocol's Node-only entry: reading a schema file needs the file system. */
export * from './schema/schema-file';
