// Lints schema/openapi.yaml with Redocly's OpenAPI linter: the `recommended`
// rules (the document against the OpenAPI 3.0 schema, `nullable` with a
// `type` beside it, unique operation ids, path parameters declared,
// examples matching their schemas...), every warning counted as a failure.
// Exit status 0 when clean, 1 with one line per problem. Offline: the
// document has no external references. Usage: node lint.mjs [FILE]
import { createConfig, lint, formatProblems } from '@redocly/openapi-core';
import path from 'node:path';
import url from 'node:url';

const here = path.dirname(url.fileURLToPath(import.meta.url));
const file = path.resolve(process.argv[2] || path.join(here, '../../schema/openapi.yaml'));

const config = await createConfig({
  extends: ['recommended'],
  rules: {
    // The license is the repository's LICENSE file, not a URL.
    'info-license-strict': 'off',
  },
});
let problems;
try {
  problems = await lint({ ref: file, config });
} catch (e) {
  console.error(`openapi lint: ${path.relative(process.cwd(), file)}: ${e.message}`);
  process.exit(1);
}
if (problems.length) {
  formatProblems(problems, { format: 'codeframe', totals: { errors: problems.length, warnings: 0, ignored: 0 }, version: '' });
  console.error(`openapi lint: ${problems.length} problem(s) in ${path.relative(process.cwd(), file)}`);
  process.exit(1);
}
console.log(`openapi lint: ${path.relative(process.cwd(), file)} is clean`);
