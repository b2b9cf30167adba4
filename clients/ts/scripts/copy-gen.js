// copy-gen.js copies the generated TypeScript (gen/ts, committed and kept
// fresh by buf generate) into src/gen before tsc compiles the package, so
// that the published package carries its stubs and they resolve
// @bufbuild/protobuf from this package's node_modules. src/gen is not
// committed.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const from = path.join(__dirname, '..', '..', '..', 'gen', 'ts');
const to = path.join(__dirname, '..', 'src', 'gen');
fs.rmSync(to, { recursive: true, force: true });
fs.cpSync(from, to, { recursive: true });
