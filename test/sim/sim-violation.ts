/**
 * SimViolation is a broken safety or liveness property found by the
 * simulation. `invariant` is a stable short name (e.g. "election-safety") so
 * tests can assert which property a broken variant trips.
 */
export class SimViolation extends Error {
  override readonly name = 'SimViolation';
  readonly code = 'sim_violation';

  constructor(
    readonly invariant: string,
    message: string,
  ) {
    super(`[${invariant}] ${message}`);
  }
}

/** violated throws a SimViolation; a helper so checks read as one line. */
export function violated(invariant: string, message: string): never {
  throw new SimViolation(invariant, message);
}
