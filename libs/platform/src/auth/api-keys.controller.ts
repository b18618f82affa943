import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  Logger,
  Param,
  Post,
  Req,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { SyncError } from '../errors/sync-error';
import { ApiKeyAuthenticator } from './api-key-authenticator';
import { type ApiKeyRequest, ApiKeyRequestPipe } from './api-key-request';
import { API_KEY_STORE, type ApiKeyRecord, type ApiKeyStore } from './api-key-store';
import { generateApiKey } from './api-key-token';
import { Access } from './auth.decorators';
import type { AuthenticatedRequest } from './auth.guard';

export interface ApiKeyView {
  keyId: string;
  libraryId: string | null;
  roles: string[];
  node: string | null;
  label: string | null;
  createdAt: string;
  revokedAt: string | null;
}

function view(record: ApiKeyRecord): ApiKeyView {
  return {
    keyId: record.keyId,
    libraryId: record.libraryId,
    roles: [...record.roles],
    node: record.node,
    label: record.label,
    createdAt: record.createdAt.toISOString(),
    revokedAt: record.revokedAt?.toISOString() ?? null,
  };
}

/** Key management; needs a key with the admin role (which only an all-libraries key can have). */
@ApiTags('admin')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'UNAUTHORIZED: missing, invalid or revoked key' })
@ApiForbiddenResponse({ description: 'FORBIDDEN: the key lacks the admin role' })
@Access({ role: 'admin', allLibraries: true })
@Controller('admin/keys')
export class ApiKeysController {
  private readonly logger = new Logger('ApiKeys');

  constructor(
    @Inject(API_KEY_STORE) private readonly store: ApiKeyStore,
    private readonly authenticator: ApiKeyAuthenticator,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Create an API key; the answer is the only time its secret is shown',
    description:
      'Body: {"libraryId": uuid|null (all), "roles": ["read","write","admin"], "node"?: uuid, "label"?: string}. 422 VALIDATION_FAILED with details on a bad body.',
  })
  @ApiBody({ schema: { type: 'object' } })
  @ApiCreatedResponse({
    description:
      '{"key": "sk_...", "keyId", "libraryId", "roles", "node", "label", "createdAt", "revokedAt"}',
  })
  async create(
    @Body(ApiKeyRequestPipe) wanted: ApiKeyRequest,
    @Req() request: AuthenticatedRequest,
  ): Promise<ApiKeyView & { key: string }> {
    const { keyId, token, secretHash } = generateApiKey();
    const record = await this.store.create({ keyId, secretHash, ...wanted });
    this.logger.log(
      `key ${keyId} created (library ${wanted.libraryId ?? 'all'}, roles ${wanted.roles.join(',')}${wanted.node ? `, node ${wanted.node}` : ''}) by ${request.principal ? `key ${request.principal.keyId}` : 'an unauthenticated caller (auth disabled)'}`,
    );
    return { key: token, ...view(record) };
  }

  @Get()
  @ApiOperation({ summary: 'Every key (never its secret), revoked ones included' })
  @ApiOkResponse({ description: '{"items": [key...], "nextCursor": null}' })
  async list(): Promise<{ items: ApiKeyView[]; nextCursor: null }> {
    return { items: (await this.store.list()).map(view), nextCursor: null };
  }

  @Delete(':keyId')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Revoke a key',
    description:
      'Takes effect at once on this instance and within AUTH_CACHE_TTL_MS (default 500 ms) on every other.',
  })
  @ApiNoContentResponse({ description: 'Revoked (or already revoked)' })
  async revoke(@Param('keyId') keyId: string, @Req() request: AuthenticatedRequest): Promise<void> {
    if (!/^[0-9a-f]{16}$/.test(keyId)) throw new SyncError('NOT_FOUND', 'no such key');
    const existing = await this.store.find(keyId);
    if (existing === undefined) throw new SyncError('NOT_FOUND', 'no such key');
    await this.store.revoke(keyId);
    this.authenticator.forget(keyId);
    this.logger.log(
      `key ${keyId} revoked by ${request.principal ? `key ${request.principal.keyId}` : 'an unauthenticated caller (auth disabled)'}`,
    );
  }
}
