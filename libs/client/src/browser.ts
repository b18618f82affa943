/* Entry point for browsers and web views: the isomorphic core (IndexedDB storage joins it). */
export * from './index';
