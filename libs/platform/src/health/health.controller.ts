import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { SyncError } from '../errors/sync-error';
import { HEALTH_CHECKS, type HealthCheck, runHealthChecks } from './health-check';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(@Inject(HEALTH_CHECKS) private readonly checks: HealthCheck[]) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Every dependency of this service answers' })
  async ready(): Promise<{ status: 'ok'; checks: Record<string, 'up'> }> {
    const results = await runHealthChecks(this.checks);
    const down = results.filter((result) => !result.ok);
    if (down.length > 0) {
      throw new SyncError(
        'NOT_READY',
        `unreachable: ${down.map((result) => result.name).join(', ')}`,
        down.map(({ name, error }) => ({ dependency: name, message: error })),
      );
    }
    return {
      status: 'ok',
      checks: Object.fromEntries(results.map((r) => [r.name, 'up' as const])),
    };
  }
}
