export const AUTH_SETTINGS = Symbol('AUTH_SETTINGS');
