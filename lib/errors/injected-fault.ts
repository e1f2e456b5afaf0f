/** A failure injected on purpose (a chaos key set by a test or a drill); retrying it succeeds. */
export class InjectedFault extends Error {
  override name = 'InjectedFault';
}
