import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServerStatus, formatStatus, modelName } from '../src/lib/status';

const ready: ServerStatus = { state: 'ready', model: '/home/me/ckpt/tiny/', device: 'cpu', error: null };

test('model names are the last path part', () => {
  assert.equal(modelName('/a/b/default'), 'default');
  assert.equal(modelName('/a/b/default/'), 'default');
  assert.equal(modelName('C:\\m\\tiny'), 'tiny');
  assert.equal(modelName(null), 'bundled');
});

test('ready shows model and device', () => {
  const view = formatStatus('running', ready);
  assert.equal(view.text, '$(sparkle) tiny · cpu');
  assert.match(view.tooltip, /\/home\/me\/ckpt\/tiny\/ on cpu/);
  assert.match(view.tooltip, /ready/);
  assert.equal(view.error, false);
});

test('busy from the server or from a fill of the client spins', () => {
  assert.equal(formatStatus('running', { ...ready, state: 'busy' }).text, '$(sync~spin) tiny · cpu');
  assert.equal(formatStatus('running', ready, 1).text, '$(sync~spin) tiny · cpu');
});

test('loading, failed, starting and stopped', () => {
  assert.equal(formatStatus('running', { ...ready, state: 'loading', device: null, model: null }).text, '$(loading~spin) bundled');
  const failed = formatStatus('running', { ...ready, state: 'failed', error: 'no config.json' });
  assert.equal(failed.text, '$(error) diffill');
  assert.match(failed.tooltip, /no config\.json/);
  assert.equal(failed.error, true);
  assert.equal(formatStatus('starting', undefined).text, '$(loading~spin) diffill');
  assert.equal(formatStatus('running', undefined).text, '$(loading~spin) diffill');
  assert.equal(formatStatus('stopped', ready).error, true);
});
