/**
 * The live preview of a running fill or rewrite (`diffill/preview`, state in lib/preview.ts): each span's
 * original text is hidden and its current text (`░` for tokens still masked) is drawn in its place, in the
 * `diffill.preview*` colors. The preview goes once the edit is applied (or the fill was cancelled or found
 * stale); an edit of the document while it runs hides it, since its ranges no longer hold.
 *
 * The context key `diffill.previewShowing` is true while the active editor's document has a running
 * preview: Escape is bound to "diffill: Cancel the running fill" then.
 */
import * as vscode from 'vscode';
import { DONE_LINGER_MS, PreviewParams, Previews, displayText } from './lib/preview';
import { toRange } from './marks';

export const PREVIEW_CONTEXT = 'diffill.previewShowing';

export class PreviewView implements vscode.Disposable {
  private readonly state = new Previews();
  /** Hides the text a span replaces. (Extension decorations have no "hidden"; their CSS takes this.) */
  private readonly hidden = vscode.window.createTextEditorDecorationType({
    textDecoration: 'none; display: none',
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  /** The span's current text, drawn where the hidden text ends. */
  private readonly text = vscode.window.createTextEditorDecorationType({
    after: {
      color: new vscode.ThemeColor('diffill.previewForeground'),
      backgroundColor: new vscode.ThemeColor('diffill.previewBackground'),
      fontStyle: 'italic',
    },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly subscriptions: vscode.Disposable[];
  private context: boolean | undefined;

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((event) => {
        const uri = event.document.uri.toString();
        if (event.contentChanges.length === 0 || !this.state.uris().includes(uri)) return;
        this.state.clear(uri); // a finished preview's edit arrived (a running one hides: its version is gone)
        this.draw(uri);
      }),
      vscode.window.onDidChangeVisibleTextEditors(() => this.state.uris().forEach((uri) => this.draw(uri))),
      vscode.window.onDidChangeActiveTextEditor(() => this.updateContext()),
    ];
  }

  /** A `diffill/preview` notification. */
  update(params: PreviewParams): void {
    const event = this.state.update(params);
    if (event === 'ignored') return;
    if (event === 'started' || event === 'done' || event === 'cancelled') {
      this.log.debug(`preview ${params.id} of ${params.uri}: ${event}`);
    }
    if (event === 'done') this.linger(params.uri);
    this.draw(params.uri);
  }

  /**
   * Remove the finished previews of `uri` (their fill was applied or found stale), or with `all` the running
   * ones too (the user cancelled: what is left of those generations stays hidden).
   */
  clear(uri: string, all = false): void {
    if (this.state.clear(uri, all)) this.draw(uri);
  }

  clearAll(): void {
    this.state.uris().forEach((uri) => this.clear(uri, true));
  }

  running(uri: string): boolean {
    return this.state.running(uri);
  }

  /** A finished preview whose edit never comes (a code action VS Code did not apply) goes after a moment. */
  private linger(uri: string): void {
    clearTimeout(this.timers.get(uri));
    this.timers.set(uri, setTimeout(() => {
      this.timers.delete(uri);
      if (this.state.clear(uri)) this.draw(uri);
    }, DONE_LINGER_MS));
  }

  private draw(uri: string): void {
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.toString() !== uri) continue;
      const doc = editor.document;
      const spans = this.state.spansFor(uri, doc.version);
      const ranges = spans.map((span) => doc.validateRange(toRange(span.range)));
      editor.setDecorations(this.hidden, ranges.filter((range) => !range.isEmpty));
      editor.setDecorations(this.text, spans.map((span, i) => ({
        range: new vscode.Range(ranges[i].end, ranges[i].end),
        hoverMessage: 'diffill: the model is writing this (Escape cancels)',
        renderOptions: { after: { contentText: displayText(span.text) || '\u200b' } },
      })));
    }
    this.updateContext();
  }

  private updateContext(): void {
    const doc = vscode.window.activeTextEditor?.document;
    const uri = doc?.uri.toString();
    const showing = doc !== undefined && uri !== undefined && this.state.running(uri)
      && this.state.spansFor(uri, doc.version).length > 0;
    if (showing === this.context) return;
    this.context = showing;
    void vscode.commands.executeCommand('setContext', PREVIEW_CONTEXT, showing);
  }

  dispose(): void {
    this.subscriptions.forEach((d) => d.dispose());
    this.timers.forEach((timer) => clearTimeout(timer));
    this.hidden.dispose();
    this.text.dispose();
  }
}
