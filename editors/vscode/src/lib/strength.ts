/** Rewrite strength: the fraction of the selection's tokens the model may change, in (0, 1]. */

export const FULL = 1.0;

export interface StrengthChoice {
  label: string;
  description: string;
  /** undefined: ask the user for a number. */
  strength?: number;
}

/** The quick-pick entries: full, light (the `lightStrength` setting) and custom. */
export function strengthChoices(light: number): StrengthChoice[] {
  return [
    { label: 'Full', description: 'regenerate the whole selection', strength: FULL },
    { label: 'Light', description: `change about ${percent(light)} of it`, strength: light },
    { label: 'Custom…', description: 'a strength between 0 and 1 (or a percentage)' },
  ];
}

/** "0.3", ".3", "30%" -> 0.3; a message for anything not in (0, 1]. */
export function parseStrength(text: string): number | { error: string } {
  const trimmed = text.trim();
  const isPercent = trimmed.endsWith('%');
  const body = isPercent ? trimmed.slice(0, -1).trim() : trimmed;
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(body)) {
    return { error: 'Enter a number in (0, 1], such as 0.3, or a percentage such as 30%' };
  }
  const value = Number(body) / (isPercent ? 100 : 1);
  if (!(value > 0 && value <= 1)) {
    return { error: `The strength must be above 0 and at most 1${isPercent ? ' (100%)' : ''}` };
  }
  return value;
}

export function percent(strength: number): string {
  return `${Math.round(strength * 100)}%`;
}
