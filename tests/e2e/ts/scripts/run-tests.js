#!/usr/bin/env node
// Runs the compiled e2e tests (dist/tests/**/*.test.js) with Node's built-in
// test runner, one file at a time. Files are listed explicitly so this works
// the same on Node 20 (directory args) and newer Nodes (glob args).
// Extra args are passed to node, e.g.:
//   npm test -- --test-name-pattern=hello
//   node scripts/run-tests.js dist/tests/hello.test.js
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const testsDir = path.join(root, 'dist', 'tests');

function listTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return listTests(p);
      return e.isFile() && e.name.endsWith('.test.js') ? [p] : [];
    })
    .sort();
}

const args = process.argv.slice(2);
const explicitFiles = args.filter((a) => !a.startsWith('-'));
const nodeFlags = args.filter((a) => a.startsWith('-'));
const files = explicitFiles.length > 0 ? explicitFiles : listTests(testsDir);
if (files.length === 0) {
  console.error(`no compiled tests found under ${testsDir} (run tsc -p . first)`);
  process.exit(1);
}

const res = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', ...nodeFlags, ...files],
  { stdio: 'inherit', cwd: root },
);
if (res.error) {
  console.error(res.error);
  process.exit(1);
}
process.exit(res.status === null ? 1 : res.status);
