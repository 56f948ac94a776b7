import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Caret, Moment, insertedEnd, isCaret, isCaretMove, prefetchParams, sameCaret } from '../src/lib/prefetch';

// vscode.TextEditorSelectionChangeKind
const KEYBOARD = 1;
const MOUSE = 2;
const COMMAND = 3;

const at = (line: number, character: number) => ({ line, character });
const caret = (line: number, character: number) => ({ isEmpty: true, active: at(line, character) });
const selection = { isEmpty: false, active: at(2, 0) };
const rested: Caret = { uri: 'file:///w/main.py', version: 3, position: at(4, 8) };
const now: Moment = { enabled: true, running: true, served: true, caret: rested };

test('a caret is one empty selection', () => {
  assert.equal(isCaret([caret(0, 0)]), true);
  assert.equal(isCaret([selection]), false);
  assert.equal(isCaret([caret(0, 0), caret(1, 0)]), false);
  assert.equal(isCaret([]), false);
});

test('an inserted text ends after its last character; a deletion where it starts', () => {
  assert.deepEqual(insertedEnd(at(3, 4), 'x'), at(3, 5));
  assert.deepEqual(insertedEnd(at(3, 4), ''), at(3, 4));
  assert.deepEqual(insertedEnd(at(0, 17), '\n    '), at(1, 4));
  assert.deepEqual(insertedEnd(at(2, 8), 'a\r\nbc\nd'), at(4, 1));
});

test('a keyboard, mouse or command move to a caret starts the wait', () => {
  for (const kind of [KEYBOARD, MOUSE, COMMAND]) {
    assert.equal(isCaretMove(kind, [caret(4, 8)], []), true, `kind ${kind}`);
  }
  assert.equal(isCaretMove(KEYBOARD, [caret(4, 8)], [at(4, 9)]), true, 'an arrow key away from the last edit');
});

test('edits, API changes, selections and several cursors do not', () => {
  assert.equal(isCaretMove(undefined, [caret(4, 8)], []), false, 'kind undefined: an edit or an API call');
  assert.equal(isCaretMove(KEYBOARD, [caret(4, 8)], [at(4, 8)]), false, 'typing: Keyboard, at the end of its edit');
  assert.equal(isCaretMove(KEYBOARD, [caret(5, 0)], [at(1, 0), at(5, 0)]), false, 'the end of any change of the edit');
  assert.equal(isCaretMove(MOUSE, [selection], []), false);
  assert.equal(isCaretMove(KEYBOARD, [caret(4, 8), caret(5, 8)], []), false);
});

test('a caret still where the move left it gets the notification', () => {
  assert.deepEqual(prefetchParams(rested, now), { textDocument: { uri: 'file:///w/main.py' }, position: at(4, 8) });
});

test('nothing is sent when prefetch is off, the client is down or the document is not served', () => {
  assert.equal(prefetchParams(rested, { ...now, enabled: false }), undefined);
  assert.equal(prefetchParams(rested, { ...now, running: false }), undefined);
  assert.equal(prefetchParams(rested, { ...now, served: false }), undefined);
});

test('nothing is sent when the caret is gone, moved, edited or in another document', () => {
  const moved = (change: Partial<Caret>) => prefetchParams(rested, { ...now, caret: { ...rested, ...change } });
  assert.equal(prefetchParams(rested, { ...now, caret: undefined }), undefined, 'a selection or no editor');
  assert.equal(moved({ version: 4 }), undefined, 'an edit since');
  assert.equal(moved({ uri: 'file:///w/other.py' }), undefined, 'another editor');
  assert.equal(moved({ position: at(4, 9) }), undefined);
  assert.equal(moved({ position: at(5, 8) }), undefined);
});

test('a caret is the same only in the same document, version and position', () => {
  assert.equal(sameCaret(rested, { ...rested }), true, 'the echo of a caret being waited on');
  assert.equal(sameCaret(rested, { ...rested, version: rested.version + 1 }), false);
  assert.equal(sameCaret(rested, { ...rested, uri: 'file:///w/other.py' }), false);
  assert.equal(sameCaret(rested, { ...rested, position: at(4, 9) }), false);
});
