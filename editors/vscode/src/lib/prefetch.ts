/**
 * When to send `diffill/prefetch` (lsp_server/features/prefetch.py), from plain values.
 *
 * The caret came to rest after a move that was not an edit (a click, arrow keys, a jump): the server encodes
 * the context of a ghost text there, so the one asked for after the next keystroke starts warm. Typing asks
 * for ghost text itself, so edits never prefetch. src/prefetch.ts wires these decisions to VS Code.
 */
import { Position, insertedEnd, samePosition } from './positions';

export { insertedEnd };

export const PREFETCH_NOTIFICATION = 'diffill/prefetch';

/**
 * How long (ms) the caret must stay put before the server is asked to warm it: long enough that a run of
 * arrow keys sends one notification, not one per key; short next to the pause between a click and typing.
 */
export const PREFETCH_DELAY_MS = 200;

export interface PrefetchParams {
  textDocument: { uri: string };
  position: Position;
}

/** A selection as VS Code gives it (a vscode.Selection fits). */
export interface Selection {
  isEmpty: boolean;
  active: Position;
}

/** A caret in wire form: the client's converter made `uri` and `position`. */
export interface Caret {
  uri: string;
  version: number;
  position: Position;
}

/** A single empty selection: a caret, not a selection and not several cursors. */
export function isCaret(selections: readonly Selection[]): boolean {
  return selections.length === 1 && selections[0].isEmpty;
}

/**
 * Whether a selection change starts the wait: a move that left a caret. `kind` is the change's
 * TextEditorSelectionChangeKind (undefined: an edit or an API call). Typing reports a Keyboard kind too, so
 * a caret where the document's last edit ended (`editEnds`, from insertedEnd) is that edit's, not a move.
 * (Events that lag behind a burst of keystrokes carry an older caret, which prefetchParams turns down.)
 */
export function isCaretMove(kind: number | undefined, selections: readonly Selection[], editEnds: readonly Position[]): boolean {
  if (kind === undefined || !isCaret(selections)) return false;
  const caret = selections[0].active;
  return !editEnds.some((end) => samePosition(end, caret));
}

/** What holds when the wait ends. */
export interface Moment {
  /** `diffill.prefetch`. */
  enabled: boolean;
  /** The language client is running. */
  running: boolean;
  /** The client serves the active editor's document (its document selector). */
  served: boolean;
  /** The active editor's caret; undefined without an editor or with a selection. */
  caret: Caret | undefined;
}

/** Whether two carets are the same: one document, one version, one position. */
export function sameCaret(a: Caret, b: Caret): boolean {
  return a.uri === b.uri && a.version === b.version && samePosition(a.position, b.position);
}

/**
 * The notification to send once the wait is over, or undefined: prefetch is off, the client is not running
 * or does not serve the document, or the caret is not where the move left it (another editor, an edit since,
 * a selection).
 */
export function prefetchParams(rested: Caret, now: Moment): PrefetchParams | undefined {
  const caret = now.caret;
  if (!now.enabled || !now.running || !now.served || caret === undefined) return undefined;
  return sameCaret(caret, rested) ? { textDocument: { uri: caret.uri }, position: caret.position } : undefined;
}
