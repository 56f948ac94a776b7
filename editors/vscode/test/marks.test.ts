import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Mark, acceptMarks, applyChanges, markHover, moveMark, nextMark } from '../src/lib/marks';
import { Change, Range, shiftPosition } from '../src/lib/positions';

const at = (line: number, character: number) => ({ line, character });
const range = (l1: number, c1: number, l2: number, c2: number): Range => ({ start: at(l1, c1), end: at(l2, c2) });
const mark = (l1: number, c1: number, l2: number, c2: number, confidence = 0.3): Mark => ({ range: range(l1, c1, l2, c2), confidence });
const insert = (line: number, character: number, text: string): Change => ({ range: range(line, character, line, character), text });

// "    total = sum(values)" with the mark over "sum(values)" (line 1, characters 12..23)
const sum = mark(1, 12, 1, 23);

test('a change after a mark, or on a line below it, leaves it alone', () => {
  assert.deepEqual(moveMark(sum, insert(1, 23, 'x')), sum, 'typing right after it');
  assert.deepEqual(moveMark(sum, insert(5, 0, 'y = 1\n')), sum);
  assert.deepEqual(moveMark(sum, { range: range(1, 23, 2, 0), text: '' }), sum, 'joining the next line');
});

test('a change before a mark on its line moves it along the line', () => {
  assert.deepEqual(moveMark(sum, insert(1, 4, 'my_')), mark(1, 15, 1, 26));
  assert.deepEqual(moveMark(sum, { range: range(1, 0, 1, 4), text: '' }), mark(1, 8, 1, 19), 'dedent');
  assert.deepEqual(moveMark(sum, insert(1, 12, '(')), mark(1, 13, 1, 24), 'typing right before it');
});

test('lines inserted or removed above a mark move it down or up', () => {
  assert.deepEqual(moveMark(sum, insert(0, 0, '# a\n# b\n')), mark(3, 12, 3, 23));
  assert.deepEqual(moveMark(sum, { range: range(0, 0, 1, 0), text: '' }), mark(0, 12, 0, 23));
  const block = mark(2, 4, 4, 10);
  assert.deepEqual(moveMark(block, insert(0, 0, '\n')), mark(3, 4, 5, 10), 'a mark over several lines keeps its shape');
});

test('a change that joins a mark\'s line to the one above moves it onto that line', () => {
  // "x = 1\n    total = sum(values)": deleting the newline and indentation puts the mark after "x = 1"
  assert.deepEqual(moveMark(sum, { range: range(0, 5, 1, 4), text: ' ' }), mark(0, 14, 0, 25));
  // and a newline typed in front of it on its own line takes it down
  assert.deepEqual(moveMark(sum, insert(1, 11, '\n    ')), mark(2, 5, 2, 16));
});

test('editing a mark\'s text drops it', () => {
  assert.equal(moveMark(sum, insert(1, 15, 'x')), undefined, 'typing inside');
  assert.equal(moveMark(sum, { range: range(1, 22, 1, 24), text: '' }), undefined, 'deleting its last character');
  assert.equal(moveMark(sum, { range: range(1, 0, 1, 13), text: 'y = ' }), undefined, 'replacing its start');
  assert.equal(moveMark(sum, { range: range(0, 0, 3, 0), text: '' }), undefined, 'deleting the lines around it');
  assert.equal(moveMark(sum, { range: range(1, 12, 1, 23), text: 'sum(values)' }), undefined, 'replaced, even by the same text');
});

test('a change event applies its changes in order; other marks survive', () => {
  const marks = [mark(0, 4, 0, 8), sum, mark(3, 0, 3, 5)];
  // VS Code reports a multi-cursor edit bottom-up: each change is in the document the earlier ones left
  const after = applyChanges(marks, [insert(3, 2, 'zz'), insert(0, 0, '\n')]);
  assert.deepEqual(after, [mark(1, 4, 1, 8), mark(2, 12, 2, 23)]);
  assert.deepEqual(applyChanges(marks, []), marks);
});

test('positions at or after a change move by the text it put there', () => {
  const change = { range: range(2, 3, 4, 1), text: 'ab\ncd' };
  assert.deepEqual(shiftPosition(at(4, 1), change), at(3, 2));
  assert.deepEqual(shiftPosition(at(4, 6), change), at(3, 7));
  assert.deepEqual(shiftPosition(at(7, 6), change), at(6, 6));
});

test('marks of a notification are kept only for the version they name', () => {
  const params = { uri: 'file:///a.py', version: 5, marks: [sum] };
  assert.deepEqual(acceptMarks(params, 5), [sum]);
  assert.deepEqual(acceptMarks(params, 6), [], 'the document changed since');
  assert.deepEqual(acceptMarks({ ...params, version: null }, 9), [sum], 'null: the document as the edit left it');
  assert.deepEqual(acceptMarks({ ...params, marks: [mark(2, 5, 1, 0)] }, 5), [], 'an inverted range');
});

test('next and previous uncertain part wrap around the document', () => {
  const marks = [mark(7, 0, 7, 4), mark(1, 12, 1, 23), mark(3, 4, 3, 9)];
  assert.deepEqual(nextMark(marks, at(0, 0), true), marks[1]);
  assert.deepEqual(nextMark(marks, at(1, 12), true), marks[2], 'from a selected mark to the next one');
  assert.deepEqual(nextMark(marks, at(1, 15), true), marks[2], 'from inside a mark');
  assert.deepEqual(nextMark(marks, at(9, 0), true), marks[1], 'wraps to the first');
  assert.deepEqual(nextMark(marks, at(3, 4), false), marks[1]);
  assert.deepEqual(nextMark(marks, at(1, 12), false), marks[0], 'wraps to the last');
  assert.equal(nextMark([], at(0, 0), true), undefined);
});

test('the hover gives the confidence', () => {
  assert.match(markHover(sum), /0\.30/);
});
