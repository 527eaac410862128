// A Stryker ignorer plugin: no mutants inside `assert(...)` statements (src/raft/invariant.ts)
// nor in the functions named assertX that only make such assertions (assertHolds, assertQueue).
// An invariant assertion checks the code's own state: in a correct program its
// condition always holds, so a mutant that weakens it (or rewrites its message)
// cannot be told apart by any test of a correct program. Such mutants only add
// "survivors" that no test can kill, and each one costs a full run of the
// property tests and the simulation. The code around the assertions is mutated.
import { PluginKind, declareValuePlugin } from '@stryker-mutator/api/plugin';

export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, 'invariant-assertions', {
    shouldIgnore(path) {
      const node = path.node;
      if (
        node.type === 'ExpressionStatement' &&
        node.expression.type === 'CallExpression' &&
        node.expression.callee.type === 'Identifier' &&
        node.expression.callee.name === 'assert'
      ) {
        return 'invariant assertion: holds in every correct run (test/mutation/ignore-invariants.mjs)';
      }
      if (node.type === 'FunctionDeclaration' && node.id !== null && node.id !== undefined && /^assert[A-Z]/.test(node.id.name)) {
        return 'invariant checker: holds in every correct run (test/mutation/ignore-invariants.mjs)';
      }
      return undefined;
    },
  }),
];
