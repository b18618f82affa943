import { type ArgumentMetadata, Injectable, ValidationPipe } from '@nestjs/common';
import { Transform, plainToInstance } from 'class-transformer';
import {
  IsOptional,
  Length,
  ValidateBy,
  type ValidationError,
  type ValidatorOptions,
  validate,
} from 'class-validator';
import { isUuid } from '@sync/protocol';
import { SyncError } from '../errors/sync-error';
import { API_KEY_ROLES, type ApiKeyRole } from './api-key-token';

export interface ApiKeyRequest {
  /** null: every library. */
  libraryId: string | null;
  roles: ApiKeyRole[];
  node: string | null;
  label: string | null;
}

export interface RequestIssue {
  path: string;
  message: string;
}

const ROLE_LIST = API_KEY_ROLES.join(', ');
const isRole = (value: unknown): value is ApiKeyRole =>
  (API_KEY_ROLES as readonly unknown[]).includes(value);
/** Reported once per bad element, at `roles.<index>` (see apiKeyRequestIssues). */
const EACH_ROLE = 'eachApiKeyRole';
const lowercase = Transform(({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.toLowerCase() : value,
);

/**
 * What a new key should be allowed to do: the body of POST /admin/keys (through
 * ApiKeyRequestPipe) and the flags of `keys create` (through checkApiKeyRequest) alike.
 * `libraryId` must be a UUID or null (all libraries); `admin` needs all libraries.
 */
export class ApiKeyRequestDto {
  @ValidateBy(
    {
      name: 'isLibraryIdOrNull',
      validator: { validate: (value) => value === null || isUuid(value) },
    },
    {
      // JSON has no undefined: undefined is a missing property.
      message: ({ value }) =>
        value === undefined
          ? 'required: a library UUID, or null for all libraries'
          : 'must be a UUID or null (all libraries)',
    },
  )
  @lowercase
  libraryId!: string | null;

  // Checked in this order (the last decorator first): the list, its elements, then admin's scope.
  @ValidateBy(
    {
      name: 'adminNeedsAllLibraries',
      validator: {
        validate: (roles, args) =>
          !(
            Array.isArray(roles) &&
            roles.includes('admin') &&
            isUuid((args?.object as ApiKeyRequestDto).libraryId)
          ),
      },
    },
    { message: 'the admin role needs a key for all libraries (libraryId null)' },
  )
  @ValidateBy(
    {
      name: EACH_ROLE,
      validator: { validate: (roles) => !Array.isArray(roles) || roles.every(isRole) },
    },
    { message: `must be one of ${ROLE_LIST}` },
  )
  @ValidateBy(
    {
      name: 'isRoleList',
      validator: { validate: (roles) => Array.isArray(roles) && roles.length > 0 },
    },
    { message: `must be a non-empty array of ${ROLE_LIST}` },
  )
  roles!: ApiKeyRole[];

  @IsOptional()
  @ValidateBy(
    { name: 'isNodeId', validator: { validate: isUuid } },
    { message: 'must be a node UUID' },
  )
  @lowercase
  node?: string | null;

  @IsOptional()
  @Length(0, 200, { message: 'must be a string of at most 200 characters' })
  label?: string | null;
}

/** How both the route and the CLI validate: unknown properties are refused, not dropped. */
const VALIDATION: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  // The values are needed to name each bad role's index.
  validationError: { target: false, value: true },
};

const NOT_AN_OBJECT: RequestIssue[] = [{ path: '', message: 'expected an object' }];

const isPlainObject = (input: unknown): input is Record<string, unknown> =>
  input !== null && typeof input === 'object' && !Array.isArray(input);

/** class-validator's errors as the contract's details: `{path, message}` per problem. */
export function apiKeyRequestIssues(errors: readonly ValidationError[]): RequestIssue[] {
  return errors.flatMap(({ property, constraints = {}, value }) =>
    Object.entries(constraints).flatMap(([name, message]): RequestIssue[] => {
      if (name === 'whitelistValidation') return [{ path: property, message: 'unknown property' }];
      if (name === EACH_ROLE && Array.isArray(value)) {
        return value.flatMap((role, i) =>
          isRole(role) ? [] : [{ path: `${property}.${i}`, message }],
        );
      }
      return [{ path: property, message }];
    }),
  );
}

function toApiKeyRequest(dto: ApiKeyRequestDto): ApiKeyRequest {
  return {
    libraryId: dto.libraryId,
    roles: [...new Set(dto.roles)],
    node: dto.node ?? null,
    label: dto.label ?? null,
  };
}

/** Validates a key request outside Nest (the keys CLI), with the route's DTO and options. */
export async function checkApiKeyRequest(input: unknown): Promise<{
  request?: ApiKeyRequest;
  issues: RequestIssue[];
}> {
  if (!isPlainObject(input)) return { issues: NOT_AN_OBJECT };
  const dto = plainToInstance(ApiKeyRequestDto, input);
  const issues = apiKeyRequestIssues(await validate(dto, VALIDATION));
  return issues.length > 0 ? { issues } : { request: toApiKeyRequest(dto), issues };
}

const invalidKeyRequest = (issues: RequestIssue[]) =>
  new SyncError('VALIDATION_FAILED', 'invalid key request', issues);

/**
 * Nest's ValidationPipe over ApiKeyRequestDto, answering with the contract's 422 body; hands the
 * route an ApiKeyRequest. A body that is not an object is refused before class-transformer,
 * which would turn an array into an array of DTOs.
 */
@Injectable()
export class ApiKeyRequestPipe extends ValidationPipe {
  constructor() {
    super({
      ...VALIDATION,
      expectedType: ApiKeyRequestDto,
      transform: true,
      exceptionFactory: (errors) => invalidKeyRequest(apiKeyRequestIssues(errors)),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<ApiKeyRequest> {
    if (!isPlainObject(value)) throw invalidKeyRequest(NOT_AN_OBJECT);
    return toApiKeyRequest((await super.transform(value, metadata)) as ApiKeyRequestDto);
  }
}
