import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SERVER_KEYS, documentSelector, serverCommand, serverSettings } from '../src/lib/settings';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
const properties: Record<string, { default: unknown }> = manifest.contributes.configuration.properties;

function section(values: Record<string, unknown>) {
  return { get: (key: string) => values[key] };
}

test('every server setting is contributed, and only under its own key', () => {
  for (const key of Object.keys(SERVER_KEYS)) {
    assert.ok(`diffill.${key}` in properties, `diffill.${key} is missing from package.json`);
  }
});

test('defaults map to the server names; model null stays null', () => {
  const defaults = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k.slice('diffill.'.length), v.default]));
  const wire = serverSettings(section(defaults));
  assert.equal(wire.model, null);
  assert.deepEqual(wire.languages, ['python']);
  assert.equal(wire.steps, 16);
  assert.ok(!('enabledLanguages' in wire));
  assert.ok(!('server.command' in wire) && !('trace.server' in wire), 'client-only settings stay in the client');
  assert.equal(Object.keys(wire).length, Object.keys(SERVER_KEYS).length);
});

test('an empty model means the bundled one; other values pass through unchanged', () => {
  const wire = serverSettings(section({ model: '', device: 'cpu', steps: 8, enabledLanguages: [], lightStrength: 0.25 }));
  assert.deepEqual(wire, { model: null, device: 'cpu', steps: 8, languages: [], lightStrength: 0.25 });
});

test('unset keys are left out (the server keeps its own value)', () => {
  assert.deepEqual(serverSettings(section({})), {});
});

test('server command: explicit argv wins, then pythonPath, then diffill on PATH', () => {
  assert.deepEqual(serverCommand({ command: ['/venv/bin/diffill', 'serve', '--device', 'cpu'], pythonPath: '/usr/bin/python3' }), {
    command: '/venv/bin/diffill', args: ['serve', '--device', 'cpu'],
  });
  assert.deepEqual(serverCommand({ command: [], pythonPath: '/venv/bin/python' }), {
    command: '/venv/bin/python', args: ['-m', 'lsp_server.cli', 'serve'],
  });
  assert.deepEqual(serverCommand({}), { command: 'diffill', args: ['serve'] });
  assert.deepEqual(serverCommand({ command: ['', ''] }), { command: 'diffill', args: ['serve'] });
});

test('server command: the log level becomes a flag', () => {
  assert.deepEqual(serverCommand({ logLevel: 'debug' }), { command: 'diffill', args: ['serve', '--log-level', 'debug'] });
});

test('document selector: one entry per language and scheme; empty means all', () => {
  assert.deepEqual(documentSelector(['python']), [
    { scheme: 'file', language: 'python' }, { scheme: 'untitled', language: 'python' },
  ]);
  assert.deepEqual(documentSelector([]), [{ scheme: 'file' }, { scheme: 'untitled' }]);
});
