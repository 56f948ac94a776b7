import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FillResult, ProgressSteps, adaptAnswer, fillParams, outcome, outcomeMessage, rewriteArguments, targetUri,
} from '../src/lib/fill';

const range = { start: { line: 1, character: 0 }, end: { line: 2, character: 4 } };
const edit = { range, newText: 'x' };

test('fill params: holes have no range; a rewrite carries range and strength', () => {
  assert.deepEqual(fillParams('file:///a.py', 't1'), { textDocument: { uri: 'file:///a.py' }, workDoneToken: 't1' });
  assert.deepEqual(fillParams('file:///a.py', 't2', range, 0.4), {
    textDocument: { uri: 'file:///a.py' }, workDoneToken: 't2', range, strength: 0.4,
  });
  assert.equal(fillParams('file:///a.py', 't3', range).strength, 1);
});

test('the target of fillHoles: a uri argument, a Uri object, else the active editor', () => {
  assert.equal(targetUri(['file:///b.py'], 'file:///a.py'), 'file:///b.py');
  const uriLike = { scheme: 'file', path: '/c.py', toString: () => 'file:///c.py' };
  assert.equal(targetUri([uriLike], 'file:///a.py'), 'file:///c.py');
  assert.equal(targetUri([], 'file:///a.py'), 'file:///a.py');
  assert.equal(targetUri([undefined], undefined), undefined);
});

test('outcome: applied, nothing, cancelled, stale', () => {
  const result = (over: Partial<FillResult>): FillResult => ({ uri: 'u', version: 3, edits: [edit], cancelled: false, ...over });
  assert.equal(outcome(result({}), 3), 'applied');
  assert.equal(outcome(result({ version: null }), 7), 'applied');
  assert.equal(outcome(result({ edits: [] }), 3), 'nothing');
  assert.equal(outcome(result({ cancelled: true, edits: [] }), 3), 'cancelled');
  assert.equal(outcome(result({}), 4), 'stale');
  assert.equal(outcome(result({}), null), 'stale', 'closed meanwhile');
  assert.equal(outcomeMessage('fill', 'applied'), undefined);
  assert.match(outcomeMessage('fill', 'nothing', '<hole>') ?? '', /<hole>/);
  assert.match(outcomeMessage('rewrite', 'stale') ?? '', /changed/);
});

test('progress: absolute percentages become increments, end stops', () => {
  const steps = new ProgressSteps();
  assert.deepEqual(steps.next({ kind: 'begin', percentage: 0 }), {});
  assert.deepEqual(steps.next({ kind: 'report', message: 'step 4 of 16', percentage: 25 }), { message: 'step 4 of 16', increment: 25 });
  assert.deepEqual(steps.next({ kind: 'report', percentage: 25 }), {});
  assert.deepEqual(steps.next({ kind: 'report', percentage: 100 }), { increment: 75 });
  assert.equal(steps.next({ kind: 'end', message: 'done' }), undefined);
});

test('the server\'s rewriteRange arguments: uri, range, strength (default 1)', () => {
  assert.deepEqual(rewriteArguments(['file:///a.py', range, 0.4]), { uri: 'file:///a.py', range, strength: 0.4 });
  assert.equal(rewriteArguments(['file:///a.py', range])?.strength, 1);
  assert.equal(rewriteArguments(['file:///a.py', range, 7])?.strength, 1);
  assert.equal(rewriteArguments(['file:///a.py']), undefined);
  assert.equal(rewriteArguments([{}, range]), undefined);
  assert.equal(rewriteArguments(['file:///a.py', { start: { line: 1 }, end: range.end }]), undefined);
});

test('the answer of diffill.adaptNow: started, or why not', () => {
  assert.deepEqual(adaptAnswer({ started: true, message: 'adapting to /w' }), { started: true, message: 'adapting to /w' });
  assert.deepEqual(adaptAnswer({ started: false, message: 'already adapting' }), { started: false, message: 'already adapting' });
  assert.deepEqual(adaptAnswer(null), { started: true });
});
