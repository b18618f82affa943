import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SCHEMA_JSON, defaultSchema } from './default-schema';
import { loadConfiguredSchema, loadSchema } from './schema-file';

describe('default schema', () => {
  it('matches default-schema.json exactly', () => {
    const file = JSON.parse(
      readFileSync(join(__dirname, 'default-schema.json'), 'utf8'),
    ) as unknown;
    expect(file).toEqual(DEFAULT_SCHEMA_JSON);
    expect(loadSchema(join(__dirname, 'default-schema.json')).toJSON()).toEqual(
      defaultSchema().toJSON(),
    );
  });

  it('declares the contract table', () => {
    const schema = defaultSchema();
    const summary = Object.fromEntries(
      schema.models.map((m) => [
        m.name,
        `${m.kind}: ${m.fieldNames.map((f) => `${f} ${m.fields[f].type}${m.fields[f].model ? `(${m.fields[f].model})` : ''}`).join(', ')}`,
      ]),
    );
    expect(summary).toEqual({
      Tag: 'shared: name string, color string, is_hidden bool, date_created datetime, date_modified datetime',
      Label: 'shared: name string, date_created datetime, date_modified datetime',
      Album: 'shared: name string, is_hidden bool, date_created datetime, date_modified datetime',
      Object:
        'shared: kind int, favorite bool, important bool, hidden bool, note string, date_created datetime, date_accessed datetime',
      Location:
        'owned: name string, path string, total_capacity int, available_capacity int, is_archived bool, date_created datetime',
      FilePath:
        'owned: name string, extension string, materialized_path string, is_dir bool, size_in_bytes int, cas_id string, location ref(Location), object ref(Object), date_created datetime, date_modified datetime',
    });
    expect(
      schema.relations.map((r) => `${r.name} ${r.item}->${r.group} [${r.fieldNames.join()}]`),
    ).toEqual([
      'TagOnObject Object->Tag [date_created]',
      'LabelOnObject Object->Label [date_created]',
      'ObjectInAlbum Object->Album [date_created]',
    ]);
    for (const m of schema.models)
      for (const f of Object.values(m.fields)) expect(f.nullable).toBe(true);
  });

  it('is the configured schema unless SYNC_SCHEMA names a file', () => {
    expect(loadConfiguredSchema({})).toBe(defaultSchema());
    expect(loadConfiguredSchema({ SYNC_SCHEMA: '  ' })).toBe(defaultSchema());
    const custom = loadConfiguredSchema({ SYNC_SCHEMA: join(__dirname, 'default-schema.json') });
    expect(custom.source).toContain('default-schema.json');
  });
});
