import { ValidationOptions, ValidateBy, buildMessage } from 'class-validator';
import { isCanonicalHybrid } from '../../hlc/ntp64';
import { isJsonValue, isPlainObject } from '../../json';
import { isUuid } from '../../uuid';

// class-validator's IsUUID('all') demands a version digit and RFC variant; the contract takes any.
export function IsAnyUuid(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isAnyUuid',
      validator: {
        validate: (value: unknown) => isUuid(value),
        defaultMessage: buildMessage((each) => `${each}$property must be a UUID string`, options),
      },
    },
    options,
  );
}

export function IsCanonicalHybrid(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isCanonicalHybrid',
      validator: {
        validate: (value: unknown) => isCanonicalHybrid(value),
        defaultMessage: buildMessage(
          (each) => `${each}$property must be a canonical decimal string (unsigned 64-bit NTP64)`,
          options,
        ),
      },
    },
    options,
  );
}

/** Present (not undefined) and a JSON value; null is allowed. */
export function IsPresentJsonValue(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPresentJsonValue',
      validator: {
        validate: (value: unknown) => value !== undefined && isJsonValue(value),
        defaultMessage: buildMessage(
          (each) => `${each}$property is required and must be a JSON value (null allowed)`,
          options,
        ),
      },
    },
    options,
  );
}

export function IsJsonObject(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isJsonObject',
      validator: {
        validate: (value: unknown) => isPlainObject(value) && isJsonValue(value),
        defaultMessage: buildMessage((each) => `${each}$property must be a JSON object`, options),
      },
    },
    options,
  );
}
