import { InvalidArgumentError } from 'commander';

/** Commander argument parser for an integer in [min, max]; the error names the accepted range. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `expected an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? 'infinity' : max}, got "${value}".`,
      );
    }
    return n;
  };
}

/** Commander argument parser for a finite number in [min, max]. */
export function decimal(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got "${value}".`);
    }
    return n;
  };
}

/** Commander argument parser accepting one of `choices`; the error lists them. */
export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got "${value}".`);
    }
    return value as T;
  };
}
