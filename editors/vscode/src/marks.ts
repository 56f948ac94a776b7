/**
 * Uncertain marks in the editor: a dotted underline and a faint background (themable: the
 * `diffill.uncertain*` colors) over the parts of a fill or rewrite the model was unsure of, moved with the
 * text as the document changes (lib/marks.ts), and the commands Next / Previous uncertain part and Clear
 * uncertain marks. The context key `diffill.hasUncertainMarks` says whether the active editor's document has
 * any.
 */
import * as vscode from 'vscode';
import { Mark, MarksParams, acceptMarks, applyChanges, markHover, nextMark } from './lib/marks';
import { Range as WireRange } from './lib/positions';

export const HAS_MARKS_CONTEXT = 'diffill.hasUncertainMarks';

export function toRange(range: WireRange): vscode.Range {
  return new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
}

export function toWire(range: vscode.Range): WireRange {
  return {
    start: { line: range.start.line, character: range.start.character },
    end: { line: range.end.line, character: range.end.character },
  };
}

export class MarksView implements vscode.Disposable {
  private readonly byUri = new Map<string, Mark[]>();
  private readonly decoration = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor('diffill.uncertainBackground'),
    // Dotted, not wavy: squiggles are diagnostics. Theme colors are CSS variables in the workbench, and
    // textDecoration takes no ThemeColor of its own.
    textDecoration: 'underline dotted var(--vscode-diffill-uncertainUnderline) 2px',
    overviewRulerColor: new vscode.ThemeColor('diffill.uncertainOverviewRuler'),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly subscriptions: vscode.Disposable[];
  private context: boolean | undefined;

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((event) => this.changed(event)),
      vscode.workspace.onDidCloseTextDocument((doc) => this.set(doc.uri.toString(), [])),
      vscode.window.onDidChangeVisibleTextEditors(() => this.drawAll()),
      vscode.window.onDidChangeActiveTextEditor(() => this.updateContext()),
    ];
  }

  /** `diffill/marks`: the marks of a document the server just edited (replacing any it had). */
  fromNotification(params: MarksParams): void {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === params?.uri);
    if (doc === undefined) return;
    const marks = acceptMarks(params, doc.version);
    if (marks.length === 0 && (params.marks?.length ?? 0) > 0) {
      this.log.info(`diffill/marks for version ${params.version} of ${params.uri}, now at ${doc.version}: dropped`);
    }
    this.set(params.uri, marks);
  }

  /** Replace the marks of `uri` (an empty list clears them). */
  set(uri: string, marks: readonly Mark[]): void {
    if (marks.length === 0 && !this.byUri.has(uri)) return;
    if (marks.length === 0) this.byUri.delete(uri);
    else this.byUri.set(uri, [...marks]);
    this.draw(uri);
  }

  marks(uri: string): readonly Mark[] {
    return this.byUri.get(uri) ?? [];
  }

  clear(uri?: string): void {
    const uris = uri === undefined ? [...this.byUri.keys()] : [uri];
    uris.forEach((u) => this.set(u, []));
  }

  /** Select the next (or previous) mark in `editor` and reveal it; false when the document has none. */
  select(editor: vscode.TextEditor, forward: boolean): boolean {
    const mark = nextMark(this.marks(editor.document.uri.toString()), editor.selection.start, forward);
    if (mark === undefined) return false;
    const range = editor.document.validateRange(toRange(mark.range));
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    return true;
  }

  private changed(event: vscode.TextDocumentChangeEvent): void {
    const uri = event.document.uri.toString();
    const marks = this.byUri.get(uri);
    if (marks === undefined || event.contentChanges.length === 0) return;
    const changes = event.contentChanges.map((c) => ({ range: toWire(c.range), text: c.text }));
    this.set(uri, applyChanges(marks, changes));
  }

  private drawAll(): void {
    for (const editor of vscode.window.visibleTextEditors) this.drawIn(editor);
    this.updateContext();
  }

  private draw(uri: string): void {
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.toString() === uri) this.drawIn(editor);
    }
    this.updateContext();
  }

  private drawIn(editor: vscode.TextEditor): void {
    const options = this.marks(editor.document.uri.toString()).map((mark) => ({
      range: editor.document.validateRange(toRange(mark.range)),
      hoverMessage: markHover(mark),
    }));
    editor.setDecorations(this.decoration, options);
  }

  private updateContext(): void {
    const uri = vscode.window.activeTextEditor?.document.uri.toString();
    const has = uri !== undefined && this.marks(uri).length > 0;
    if (has === this.context) return;
    this.context = has;
    void vscode.commands.executeCommand('setContext', HAS_MARKS_CONTEXT, has);
  }

  dispose(): void {
    this.subscriptions.forEach((d) => d.dispose());
    this.decoration.dispose();
  }
}
