/** Positions and ranges in wire form (LSP: 0-based lines, UTF-16 characters), compared and moved by edits. */

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** A content change as VS Code reports it: the range it replaced and the text it put there. */
export interface Change {
  range: Range;
  text: string;
}

/** Negative when `a` comes before `b`, 0 when they are the same, positive after. */
export function comparePositions(a: Position, b: Position): number {
  return a.line !== b.line ? a.line - b.line : a.character - b.character;
}

export const samePosition = (a: Position, b: Position): boolean => comparePositions(a, b) === 0;

/** Where a change leaves the text it inserted: its range's start moved over `text` (empty for a deletion). */
export function insertedEnd(start: Position, text: string): Position {
  const lines = text.split(/\r\n|\r|\n/);
  const last = lines[lines.length - 1];
  return lines.length === 1
    ? { line: start.line, character: start.character + last.length }
    : { line: start.line + lines.length - 1, character: last.length };
}

/**
 * Where a position at or after the end of `change`'s range lands once the change is made: on the change's
 * last line it moves with the inserted text's end, below it only by the change of line count.
 */
export function shiftPosition(position: Position, change: Change): Position {
  const end = change.range.end;
  const newEnd = insertedEnd(change.range.start, change.text);
  if (position.line === end.line) {
    return { line: newEnd.line, character: newEnd.character + (position.character - end.character) };
  }
  return { line: position.line + (newEnd.line - end.line), character: position.character };
}

/** `range` as a short key: "l:c-l:c". */
export function rangeKey(range: Range): string {
  return `${range.start.line}:${range.start.character}-${range.end.line}:${range.end.character}`;
}
