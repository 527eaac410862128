/**
 * InvariantError marks a broken invariant: a bug, never an expected failure.
 * The host lets it stop the process (TigerBeetle's habit: assertions stay on in
 * production and turn silent corruption into a visible crash).
 */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
  readonly code = 'invariant_violated';
}

/** assert throws an InvariantError when `condition` is false. */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}
