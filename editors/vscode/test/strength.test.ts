import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStrength, percent, strengthChoices } from '../src/lib/strength';

test('numbers and percentages in (0, 1] parse', () => {
  assert.equal(parseStrength('0.3'), 0.3);
  assert.equal(parseStrength(' .5 '), 0.5);
  assert.equal(parseStrength('1'), 1);
  assert.equal(parseStrength('30%'), 0.3);
  assert.equal(parseStrength('100 %'), 1);
  assert.equal(parseStrength('1.'), 1);
});

test('anything else is an error message', () => {
  for (const bad of ['', '0', '0%', '1.5', '150%', '-0.2', 'abc', '0.3.4', '1e-1', 'NaN']) {
    const parsed = parseStrength(bad);
    assert.equal(typeof parsed, 'object', `${JSON.stringify(bad)} should not parse`);
    assert.match((parsed as { error: string }).error, /./);
  }
});

test('choices: full, light at the configured strength, custom asks', () => {
  const choices = strengthChoices(0.25);
  assert.deepEqual(choices.map((c) => c.label), ['Full', 'Light', 'Custom…']);
  assert.equal(choices[0].strength, 1);
  assert.equal(choices[1].strength, 0.25);
  assert.match(choices[1].description, /25%/);
  assert.equal(choices[2].strength, undefined);
  assert.equal(percent(0.4), '40%');
});
