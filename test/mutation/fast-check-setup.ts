import fc from 'fast-check';

// Under mutation a property's verdict is all that counts: stop at the first
// counterexample instead of shrinking it (shrinking can take longer than the
// run that found it). The number of runs and the seeds stay the tests' own.
fc.configureGlobal({ ...fc.readConfigureGlobal(), endOnFailure: true });
