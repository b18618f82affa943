// Lets a child `node` process run the TypeScript sources directly, the way jest does (swc, same
// options, same @sync/* aliases), so e2e tests can kill -9 a projector without a build first.
// Usage: node -r ./test/projector.child-register.js apps/projector/src/main.ts
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');

const root = path.join(__dirname, '..');
const swcOptions = JSON.parse(fs.readFileSync(path.join(root, '.swcrc.jest.json'), 'utf8'));
const alias = /^@sync\/(protocol|persistence|kafka|platform|config)(\/.*)?$/;

// TypeScript sources first: `./default-schema` must be the .ts module, not the .json beside it.
function typescriptFile(base) {
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const match = alias.exec(request);
  if (match) {
    const base = path.join(root, 'libs', match[1], 'src', match[2] ?? '');
    return typescriptFile(base) ?? resolve.call(this, base, parent, ...rest);
  }
  if (request.startsWith('.') && parent?.filename?.endsWith('.ts')) {
    const found = typescriptFile(path.resolve(path.dirname(parent.filename), request));
    if (found) return found;
  }
  return resolve.call(this, request, parent, ...rest);
};

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, { ...swcOptions, filename, swcrc: false });
  module._compile(code, filename);
};
