import { IsCanonicalHybrid } from './dto-decorators';

/** `{"hybrid": "<canonical decimal NTP64>"}`: a string, never a JSON number. */
export class TimestampDto {
  @IsCanonicalHybrid()
  hybrid!: string;
}
