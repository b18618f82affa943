/**
 * The API key the user pasted, kept in session storage: it survives reloads of this tab, dies
 * with it, is never written to a URL, and is only ever sent as an Authorization header.
 */
const STORAGE_KEY = 'sync-inspector.api-key';

export function readKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function saveKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key.trim());
}

export function forgetKey(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

export function authHeaders(): Record<string, string> {
  const key = readKey();
  return key === null ? {} : { authorization: `Bearer ${key}` };
}
