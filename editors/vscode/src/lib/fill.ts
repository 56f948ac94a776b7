/** Arguments and results of the server's fill requests and commands (wire shapes in lsp_server/protocol.py). */
import { Mark } from './marks';
import { Position, Range } from './positions';

export type { Position, Range };

export const FILL_REQUEST = 'diffill/fill';
export const STATUS_REQUEST = 'diffill/status';
export const STATUS_CHANGED = 'diffill/statusChanged';
export const CMD_FILL_HOLES = 'diffill.fillHoles';
export const CMD_REWRITE_RANGE = 'diffill.rewriteRange';
export const CMD_ADAPT_NOW = 'diffill.adaptNow';

export interface TextEdit {
  range: Range;
  newText: string;
}

export interface FillParams {
  textDocument: { uri: string };
  range?: Range;
  strength?: number;
  workDoneToken?: string;
}

export interface FillResult {
  uri: string;
  version: number | null;
  edits: TextEdit[];
  cancelled: boolean;
  /** The uncertain parts of the new text, in the document as the edits leave it (absent: none). */
  marks?: Mark[];
}

/** `diffill/fill` params: every hole of `uri` (no range), or a rewrite of `range` at `strength`. */
export function fillParams(uri: string, token: string, range?: Range, strength?: number): FillParams {
  const params: FillParams = { textDocument: { uri }, workDoneToken: token };
  if (range !== undefined) {
    params.range = range;
    params.strength = strength ?? 1;
  }
  return params;
}

/**
 * The document a `diffill.fillHoles` invocation means: its first argument (a uri string or a Uri, as a
 * code action or a keybinding passes it), else the active editor's document.
 */
export function targetUri(args: readonly unknown[], activeUri: string | undefined): string | undefined {
  const first = args[0];
  if (typeof first === 'string' && first !== '') return first;
  if (first !== null && typeof first === 'object' && 'scheme' in first && 'path' in first) {
    return String(first);
  }
  return activeUri;
}

function isPosition(value: unknown): value is Position {
  const p = value as Position;
  return p !== null && typeof p === 'object' && Number.isInteger(p.line) && Number.isInteger(p.character);
}

/** The arguments of the server's `diffill.rewriteRange` command, `[uri, Range, strength?]`; undefined when malformed. */
export function rewriteArguments(args: readonly unknown[]): { uri: string; range: Range; strength: number } | undefined {
  const [uri, range, strength] = args as [unknown, Range | undefined, unknown];
  if (typeof uri !== 'string' || range === null || typeof range !== 'object') return undefined;
  if (!isPosition(range.start) || !isPosition(range.end)) return undefined;
  const value = typeof strength === 'number' && strength > 0 && strength <= 1 ? strength : 1;
  return { uri, range: { start: range.start, end: range.end }, strength: value };
}

/** The answer of `diffill.adaptNow`, `{started, message}`; anything else counts as started without a word. */
export function adaptAnswer(answer: unknown): { started: boolean; message?: string } {
  if (answer === null || typeof answer !== 'object') return { started: true };
  const { started, message } = answer as { started?: unknown; message?: unknown };
  return { started: started !== false, message: typeof message === 'string' ? message : undefined };
}

export type Outcome = 'applied' | 'nothing' | 'cancelled' | 'stale';

/** What happened to a fill, given the document's version now (null: the document was closed meanwhile). */
export function outcome(result: FillResult, currentVersion: number | null): Outcome {
  if (result.cancelled) return 'cancelled';
  if (result.edits.length === 0) return 'nothing';
  if (currentVersion === null) return 'stale';
  if (result.version !== null && result.version !== currentVersion) return 'stale';
  return 'applied';
}

/** A message for the user, or undefined when the edit speaks for itself. */
export function outcomeMessage(what: 'fill' | 'rewrite', result: Outcome, marker = '???'): string | undefined {
  switch (result) {
    case 'applied':
      return undefined;
    case 'cancelled':
      return `diffill: the ${what} was cancelled`;
    case 'stale':
      return `diffill: the document changed while the ${what} ran; nothing was applied`;
    case 'nothing':
      return what === 'fill'
        ? `diffill: nothing to fill (no ${marker} hole, or the model is not ready)`
        : 'diffill: the rewrite gave no change (or the model is not ready)';
  }
}

/** A `$/progress` value of a fill, as `window.withProgress` wants it: a message and an increment. */
export interface ProgressValue {
  kind: 'begin' | 'report' | 'end';
  message?: string;
  percentage?: number;
}

/** Turns the server's absolute percentages into the increments `Progress.report` adds up. */
export class ProgressSteps {
  private done = 0;

  next(value: ProgressValue): { message?: string; increment?: number } | undefined {
    if (value.kind === 'end') return undefined;
    const step: { message?: string; increment?: number } = {};
    if (value.message !== undefined) step.message = value.message;
    if (value.percentage !== undefined && value.percentage > this.done) {
      step.increment = Math.min(value.percentage, 100) - this.done;
      this.done = Math.min(value.percentage, 100);
    }
    return step;
  }
}
