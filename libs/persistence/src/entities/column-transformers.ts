import type { ValueTransformer } from 'typeorm';

/** pg returns int8/numeric as strings; keep them as strings so nothing above 2^53 loses precision. */
export const bigintString: ValueTransformer = {
  to: (value: string | bigint | null | undefined) => (value == null ? value : String(value)),
  from: (value: string | null) => value,
};
