import { useState } from 'preact/hooks';
import type { ApiError } from '../api';
import { readKey, saveKey } from '../session-key';

/**
 * Asks for an API key after a 401. The key goes to session storage only (never a URL, never the
 * console) and from there into Authorization headers.
 */
export function KeyPrompt({ error, onSaved }: { error: ApiError; onSaved: () => void }) {
  const [value, setValue] = useState('');
  const hadKey = readKey() !== null;
  return (
    <section class="key-prompt">
      <h1>API key needed</h1>
      {hadKey ? (
        <p class="error" role="alert" id="key-refused">
          The server refused this key ({error.describe()}). Paste a valid read key.
        </p>
      ) : (
        <p id="key-needed">
          This server checks API keys. Paste a key with the <code>read</code> role (for all
          libraries, or for one). It stays in this tab’s session storage until you close the tab or
          forget it.
        </p>
      )}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (value.trim() === '') return;
          saveKey(value);
          setValue('');
          onSaved();
        }}
      >
        <label>
          API key{' '}
          <input
            type="password"
            name="api-key"
            autocomplete="off"
            spellcheck={false}
            value={value}
            onInput={(event) => setValue(event.currentTarget.value)}
          />
        </label>{' '}
        <button type="submit">Use key</button>
      </form>
    </section>
  );
}
