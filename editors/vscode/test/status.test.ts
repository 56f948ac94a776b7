import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServerStatus, formatAdaptation, formatStatus, modelName } from '../src/lib/status';

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

test('the model that serves: base by default, adapted named as such', () => {
  assert.match(formatStatus('running', { ...ready, serving: 'base' }).tooltip, /serving: the base model/);
  const adapted = formatStatus('running', {
    ...ready, serving: 'adapted', adaptation: { state: 'ready', workspace: '/home/me/proj', progress: 1, model: '/c/proj-1/model' },
  });
  assert.equal(adapted.text, '$(sparkle) tiny (adapted) · cpu');
  assert.match(adapted.tooltip, /adapted to the workspace \(\/c\/proj-1\/model\)/);
  assert.match(adapted.tooltip, /learned proj/);
  // a server that reports the adapted directory as its model: the workspace names it
  const own = formatStatus('running', {
    ...ready, model: '/c/proj-1/model/', serving: 'adapted', adaptation: { state: 'ready', workspace: '/home/me/proj', model: '/c/proj-1/model' },
  });
  assert.equal(own.text, '$(sparkle) proj (adapted) · cpu');
});

test('a running adaptation shows its progress; a failed one says why in the tooltip', () => {
  const running = formatStatus('running', { ...ready, adaptation: { state: 'running', workspace: '/w/proj', progress: 0.423 } });
  assert.equal(running.text, '$(sparkle) tiny · cpu · $(mortar-board) 42%');
  assert.match(running.tooltip, /learning proj: 42%/);
  assert.equal(formatStatus('running', { ...ready, adaptation: { state: 'running', progress: null } }).text,
    '$(sparkle) tiny · cpu · $(mortar-board) learning');
  const failed = formatStatus('running', { ...ready, adaptation: { state: 'failed', workspace: '/w/proj', message: 'out of disk' } });
  assert.equal(failed.text, '$(sparkle) tiny · cpu');
  assert.match(failed.tooltip, /learning proj failed \(out of disk\)/);
  assert.equal(formatAdaptation({ state: 'idle' }).text, '');
  assert.equal(formatAdaptation(null).line, undefined);
});
