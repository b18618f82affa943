import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '@sync/platform';
import type { FieldDef } from '@sync/protocol';
import type { QueryConfig } from './query.config';
import { QUERY_CONFIG } from './query.tokens';

interface FieldView {
  name: string;
  type: FieldDef['type'];
  nullable: boolean;
  model?: string;
}

export interface SchemaView {
  models: { name: string; kind: 'shared' | 'owned'; fields: FieldView[] }[];
  relations: { name: string; item: string; group: string; fields: FieldView[] }[];
}

const fieldViews = (fields: Readonly<Record<string, FieldDef>>, names: readonly string[]) =>
  names.map((name): FieldView => {
    const { type, nullable, model } = fields[name];
    return model === undefined ? { name, type, nullable } : { name, type, nullable, model };
  });

@ApiTags('inspector')
@Controller('schema')
export class SchemaController {
  private readonly view: SchemaView;

  constructor(@Inject(QUERY_CONFIG) config: QueryConfig) {
    this.view = {
      models: config.schema.models.map((model) => ({
        name: model.name,
        kind: model.kind,
        fields: fieldViews(model.fields, model.fieldNames),
      })),
      relations: config.schema.relations.map((relation) => ({
        name: relation.name,
        item: relation.item,
        group: relation.group,
        fields: fieldViews(relation.fields, relation.fieldNames),
      })),
    };
  }

  @Get()
  // Any read key, library-scoped ones included: the schema holds no library data.
  @Access({ role: 'read' })
  @ApiOperation({
    summary: 'The schema this service serves: models and relations with their fields in order',
  })
  @ApiOkResponse({
    description: '{models: [{name, kind, fields}], relations: [{name, item, group, fields}]}',
  })
  schema(): SchemaView {
    return this.view;
  }
}
