import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PREVIEW_MASK, PreviewParams, Previews, displayText } from '../src/lib/preview';

const uri = 'file:///w/main.py';
const hole1 = { start: { line: 1, character: 12 }, end: { line: 1, character: 15 } };
const hole2 = { start: { line: 6, character: 4 }, end: { line: 6, character: 7 } };
const M = PREVIEW_MASK;
const note = (over: Partial<PreviewParams>): PreviewParams => ({ uri, version: 3, id: 'g1', spans: [], ...over });

test('a generation starts, updates its spans and keeps the spans a round did not name', () => {
  const previews = new Previews();
  assert.equal(previews.update(note({ spans: [{ range: hole1, text: `${M}${M}${M}` }] })), 'started');
  assert.deepEqual(previews.spansFor(uri, 3), [{ range: hole1, text: `${M}${M}${M}` }]);
  assert.equal(previews.running(uri), true);
  // the next round: hole2 only; hole1 keeps what it showed
  assert.equal(previews.update(note({ spans: [{ range: hole2, text: `x${M}` }] })), 'updated');
  assert.deepEqual(previews.spansFor(uri, 3).map((s) => s.text), [`${M}${M}${M}`, `x${M}`]);
  assert.equal(previews.update(note({ spans: [{ range: hole1, text: `a${M}c` }] })), 'updated');
  assert.deepEqual(previews.spansFor(uri, 3).map((s) => s.text), [`a${M}c`, `x${M}`]);
});

test('done replaces every span with its final text; the preview stays until its edit arrives', () => {
  const previews = new Previews();
  previews.update(note({ spans: [{ range: hole1, text: M }, { range: hole2, text: M }] }));
  assert.equal(previews.update(note({ done: true, spans: [{ range: hole1, text: 'sum(values)' }] })), 'done');
  assert.deepEqual(previews.spansFor(uri, 3), [{ range: hole1, text: 'sum(values)' }]);
  assert.equal(previews.running(uri), false, 'nothing left to cancel');
  assert.equal(previews.hasDone(uri), true);
  assert.equal(previews.update(note({ spans: [{ range: hole1, text: 'late' }] })), 'ignored', 'a late step of a closed id');
  assert.equal(previews.clear(uri), true);
  assert.deepEqual(previews.spansFor(uri, 3), []);
  assert.deepEqual(previews.uris(), []);
});

test('cancelled removes the generation at once; later notifications of its id are ignored', () => {
  const previews = new Previews();
  previews.update(note({ spans: [{ range: hole1, text: M }] }));
  assert.equal(previews.update(note({ cancelled: true })), 'cancelled');
  assert.deepEqual(previews.spansFor(uri, 3), []);
  assert.equal(previews.running(uri), false);
  assert.equal(previews.update(note({ spans: [{ range: hole1, text: M }] })), 'ignored');
  assert.equal(previews.update(note({ id: 'never-seen', cancelled: true })), 'ignored');
});

test('a preview is drawn only over the version it read', () => {
  const previews = new Previews();
  previews.update(note({ spans: [{ range: hole1, text: M }] }));
  assert.equal(previews.spansFor(uri, 4).length, 0, 'typed since: its ranges no longer hold');
  assert.equal(previews.spansFor('file:///w/other.py', 3).length, 0);
  previews.update(note({ id: 'g2', version: null, spans: [{ range: hole2, text: M }] }));
  assert.equal(previews.spansFor(uri, 4).length, 1, 'a null version draws at any version');
});

test('clear(all) forgets running generations too, and their ids', () => {
  const previews = new Previews();
  previews.update(note({ spans: [{ range: hole1, text: M }] }));
  assert.equal(previews.clear(uri), false, 'nothing finished to clear');
  assert.equal(previews.clear(uri, true), true);
  assert.equal(previews.update(note({ spans: [{ range: hole1, text: M }] })), 'ignored', 'Escape: the rest of that run stays hidden');
});

test('malformed notifications are ignored', () => {
  const previews = new Previews();
  assert.equal(previews.update({ uri } as unknown as PreviewParams), 'ignored');
  assert.equal(previews.update(note({ spans: [{ range: undefined, text: 'x' }] as never })), 'started');
  assert.deepEqual(previews.spansFor(uri, 3), []);
});

test('a span\'s text becomes one line: breaks marked, indentation dropped, spaces kept, long text cut', () => {
  assert.equal(displayText('a = 1'), 'a\u00a0=\u00a01');
  assert.equal(displayText('if x:\n        return y\n'), 'if\u00a0x:\u00a0\u23ce\u00a0return\u00a0y\u00a0\u23ce\u00a0');
  const long = displayText('x'.repeat(500), 20);
  assert.equal([...long].length, 20);
  assert.ok(long.endsWith('\u2026'));
  assert.equal(displayText(`${M}${M}`), `${M}${M}`);
});
