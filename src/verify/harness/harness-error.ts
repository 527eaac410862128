/** HarnessErrorCode names why a verify run could not be carried out (as opposed to a verdict). */
export type HarnessErrorCode = 'bad_options' | 'build_missing' | 'out_dir_in_use' | 'no_initial_leader';

/**
 * HarnessError is an expected failure of the harness itself: the run produced no
 * verdict. The CLI maps it to exit code 2, never to a pass.
 */
export class HarnessError extends Error {
  readonly code: HarnessErrorCode;
  constructor(code: HarnessErrorCode, message: string) {
    super(message);
    this.name = 'HarnessError';
    this.code = code;
  }
}
