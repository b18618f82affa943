/* Entry point for Node: the core plus what needs the file system. */
export * from './index';
export * from './store/json-file-store';
export { loadSchema } from '@sync/protocol/node';
