import {
  type DynamicModule,
  Global,
  Inject,
  Logger,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyAuthenticator } from './api-key-authenticator';
import { API_KEY_STORE, type ApiKeyStore } from './api-key-store';
import { ApiKeysController } from './api-keys.controller';
import { AuthGuard } from './auth.guard';
import { AUTH_DISABLED_VAR, type AuthSettings, type RateLimitSettings } from './auth.settings';
import { AUTH_SETTINGS } from './auth.tokens';
import { RateLimiter } from './rate-limiter';

export interface AuthModuleOptions {
  settings: AuthSettings;
  /** Opens the key store; called once, and only when auth is enabled or admin routes are served. */
  store: () => ApiKeyStore;
  /** Per-key rate limits of @Access({rateLimited}) routes; none = unlimited. */
  rateLimit?: RateLimitSettings;
  /** Serve POST/GET/DELETE /admin/keys. */
  adminRoutes?: boolean;
}

/** A store for a service that never needs one (auth off, no admin routes). */
const NO_STORE: ApiKeyStore = {
  find: () => Promise.reject(new Error('no key store')),
  create: () => Promise.reject(new Error('no key store')),
  list: () => Promise.reject(new Error('no key store')),
  revoke: () => Promise.reject(new Error('no key store')),
  close: () => Promise.resolve(),
};

/** API keys for every route of the app (see AuthGuard), global so controllers need not import it. */
@Global()
@Module({})
export class AuthModule implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Auth');

  constructor(
    @Inject(AUTH_SETTINGS) private readonly settings: AuthSettings,
    @Inject(API_KEY_STORE) private readonly store: ApiKeyStore,
  ) {}

  static register(options: AuthModuleOptions): DynamicModule {
    const needsStore = options.settings.enabled || options.adminRoutes === true;
    return {
      module: AuthModule,
      controllers: options.adminRoutes ? [ApiKeysController] : [],
      providers: [
        { provide: AUTH_SETTINGS, useValue: options.settings },
        { provide: API_KEY_STORE, useFactory: () => (needsStore ? options.store() : NO_STORE) },
        {
          provide: ApiKeyAuthenticator,
          useFactory: (store: ApiKeyStore) =>
            new ApiKeyAuthenticator(store, options.settings.cacheTtlMs),
          inject: [API_KEY_STORE],
        },
        {
          provide: RateLimiter,
          useValue: new RateLimiter(
            options.rateLimit ?? { requestsPerSecond: 0, requestBurst: 1, opsPerSecond: 0 },
          ),
        },
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
      exports: [AUTH_SETTINGS, API_KEY_STORE, ApiKeyAuthenticator],
    };
  }

  onModuleInit(): void {
    if (this.settings.enabled) return;
    const bar = '!'.repeat(78);
    this.logger.warn(
      `\n${bar}\n!! AUTHENTICATION IS DISABLED (${AUTH_DISABLED_VAR}=true): anyone who reaches this\n!! port can read and write every library. For local development only.\n${bar}`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
