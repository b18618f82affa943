/* Entry point for Node: the core plus what needs the file system. */
export * from './index';
export * from './store/json-file-store';
export { nodeFetch } from './transport/node-fetch';
export { loadSchema } from '@sync/protocol/node';
