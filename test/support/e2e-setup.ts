// End-to-end tests talk to a real broker and database; their steps take seconds, not ms.
jest.setTimeout(120_000);
