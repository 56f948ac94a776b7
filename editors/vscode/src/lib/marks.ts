/**
 * Uncertain marks (`diffill/marks`, and `marks` in `diffill/fill`'s result): the parts of a fill or rewrite
 * whose tokens the model was unsure of, kept on their text while the document changes.
 *
 * A mark moves with edits before it and is dropped once an edit touches its text; a new set for a document
 * replaces the old. src/marks.ts draws them and moves the selection between them.
 */
import { Change, Position, Range, comparePositions, shiftPosition } from './positions';

export const MARKS_NOTIFICATION = 'diffill/marks';

export interface Mark {
  range: Range;
  /** The lowest token confidence inside, in [0, 1]. */
  confidence: number;
}

/** `diffill/marks` params: every mark of the document after a fill or rewrite (an empty list clears). */
export interface MarksParams {
  uri: string;
  /** The document's version after the edit, or null: the document as the edit left it. */
  version: number | null;
  marks: Mark[];
}

/**
 * The marks to keep from a notification for a document now at `version`: all of them when the notification
 * names that version (or none), nothing when the document has changed since (its ranges no longer hold).
 */
export function acceptMarks(params: MarksParams, version: number): Mark[] {
  if (params.version !== null && params.version !== undefined && params.version !== version) return [];
  return (params.marks ?? []).filter(isMark);
}

function isMark(mark: Mark): boolean {
  const range = mark?.range;
  return range !== undefined && comparePositions(range.start, range.end) <= 0;
}

/**
 * A mark after one change: unchanged before it, moved after it, undefined when the change touched its text
 * (replaced or deleted any of it, or inserted inside it). Typing right at either end leaves the mark as it is.
 */
export function moveMark(mark: Mark, change: Change): Mark | undefined {
  const { start, end } = change.range;
  if (comparePositions(mark.range.end, start) <= 0) return mark;
  if (comparePositions(mark.range.start, end) >= 0) {
    return {
      ...mark,
      range: { start: shiftPosition(mark.range.start, change), end: shiftPosition(mark.range.end, change) },
    };
  }
  return undefined;
}

/** The marks after a document change event's changes, applied in the order VS Code reports them. */
export function applyChanges(marks: readonly Mark[], changes: readonly Change[]): Mark[] {
  let out = [...marks];
  for (const change of changes) {
    out = out.flatMap((mark) => moveMark(mark, change) ?? []);
  }
  return out;
}

/**
 * The mark to select next from a selection starting at `from`: forward, the first one starting after it;
 * backward, the last one starting before it; wrapping around the document. Undefined without marks.
 */
export function nextMark(marks: readonly Mark[], from: Position, forward: boolean): Mark | undefined {
  if (marks.length === 0) return undefined;
  const sorted = [...marks].sort((a, b) => comparePositions(a.range.start, b.range.start));
  if (forward) {
    return sorted.find((m) => comparePositions(m.range.start, from) > 0) ?? sorted[0];
  }
  const before = sorted.filter((m) => comparePositions(m.range.start, from) < 0);
  return before.length > 0 ? before[before.length - 1] : sorted[sorted.length - 1];
}

/** The hover text of a mark. */
export function markHover(mark: Mark): string {
  return `diffill: the model was unsure here (confidence ${mark.confidence.toFixed(2)}). `
    + 'Review it; editing it removes the mark.';
}
