// limits_check.js is run by Node from TestJSLimitsAgreeWithGo
// (limits_test.go): each case (one JSON object per line in process.argv[2])
// names a limit src/wire.js exports and gives Go's value for it.
import { readFileSync } from 'node:fs';
import * as W from '../src/wire.js';

const cases = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
let bad = 0;
for (const c of cases) {
  if (W[c.name] !== c.value) {
    console.log(c.name + ': ' + W[c.name] + ' in wire.js, ' + c.value + ' in Go');
    bad++;
  }
}
console.log(cases.length - bad + ' of ' + cases.length + ' limits agree');
process.exit(bad ? 1 : 0);
