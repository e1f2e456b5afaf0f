import { SecurityError } from '../../lib/errors/security-error';

/** The `reason` of the SecurityError that `fn` throws (the test fails when it throws nothing or another error). */
export function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SecurityError);
    return (err as SecurityError).reason;
  }
  throw new Error('expected a SecurityError');
}

/** The `reason` of the SecurityError that `promise` rejects with. */
export async function reasonOfAsync(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(SecurityError);
    return (err as SecurityError).reason;
  }
  throw new Error('expected a SecurityError');
}
