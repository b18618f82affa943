import { formatReport, runThreeNodes } from './scenario';

/*
 * Three simulated devices (clocks skewed by -90 s, 0 and +120 s) edit one library offline and
 * sync through a running stack. Exits 0 only if all three end with identical local states that
 * equal the server's.
 *
 *   npm start                      # or any running ingest + projector + query
 *   npm run build && node dist/examples/three-nodes/three-nodes.js
 *
 * INGEST_URL (default http://127.0.0.1:3001), QUERY_URL (default http://127.0.0.1:3002),
 * LIBRARY_ID (default: a new random library).
 */
async function main(): Promise<number> {
  const report = await runThreeNodes({
    ingestUrl: process.env.INGEST_URL ?? 'http://127.0.0.1:3001',
    queryUrl: process.env.QUERY_URL ?? 'http://127.0.0.1:3002',
    libraryId: process.env.LIBRARY_ID || undefined,
    log: (line) => console.log(line),
  });
  console.log(`\n${formatReport(report)}`);
  return report.identical && report.matchesServer && report.rejectedByServer === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? `three-nodes failed: ${error.message}` : error);
    process.exit(2);
  },
);
