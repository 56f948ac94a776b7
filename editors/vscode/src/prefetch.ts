/**
 * Sends `diffill/prefetch` when the active editor's caret comes to rest after a move that was not an edit,
 * or after switching to an editor (the decisions are in lib/prefetch.ts). One Prefetcher per language
 * client, disposed with it.
 */
import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { prefetchEnabled } from './config';
import { Position } from './lib/fill';
import {
  Caret, PREFETCH_DELAY_MS, PREFETCH_NOTIFICATION, insertedEnd, isCaret, isCaretMove, prefetchParams, sameCaret,
} from './lib/prefetch';

export class Prefetcher implements vscode.Disposable {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** What the timer waits on: the caret a move left, or (no caret) an editor just switched to, whose caret
   * VS Code restores after the switch with selection changes of its own. */
  private pending: { editor: vscode.TextEditor; version: number; caret?: Caret } | undefined;
  /** Where each document's last edit left its inserted text. */
  private readonly editEnds = new WeakMap<vscode.TextDocument, Position[]>();
  private readonly listeners: vscode.Disposable[];

  constructor(
    private readonly client: LanguageClient,
    private readonly selector: vscode.DocumentSelector,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.listeners = [
      vscode.workspace.onDidChangeTextDocument(({ document, contentChanges }) => {
        if (contentChanges.length === 0) return; // a save or a dirty flag
        this.editEnds.set(document, contentChanges.map((change) => insertedEnd(change.range.start, change.text)));
      }),
      vscode.window.onDidChangeTextEditorSelection((event) => this.selectionChanged(event)),
      vscode.window.onDidChangeActiveTextEditor((editor) => (editor ? this.wait(editor) : this.stop())),
    ];
  }

  /** A caret move starts a new wait. Any other selection change ends it, but those that only echo what is
   * waited on: the same caret, or the caret an editor just switched to gets back (no edit since). */
  private selectionChanged(event: vscode.TextEditorSelectionChangeEvent): void {
    const editor = event.textEditor;
    const editEnds = this.editEnds.get(editor.document) ?? [];
    if (isCaretMove(event.kind, event.selections, editEnds)) {
      this.wait(editor, this.caret(editor));
      return;
    }
    const p = this.pending;
    const echo = p !== undefined && p.editor === editor && editor.document.version === p.version
      && (p.caret === undefined || (isCaret(event.selections) && sameCaret(p.caret, this.caret(editor))));
    if (!echo) this.stop();
  }

  /** Wait for the rest; `caret` undefined: the editor's caret when the wait ends (a switch to `editor`). */
  private wait(editor: vscode.TextEditor, caret?: Caret): void {
    this.stop();
    const pending = { editor, version: editor.document.version, caret };
    this.pending = pending;
    this.timer = setTimeout(() => {
      this.pending = undefined;
      if (pending.caret !== undefined) {
        this.send(pending.caret);
      } else if (vscode.window.activeTextEditor === editor && editor.document.version === pending.version
        && isCaret(editor.selections)) {
        this.send(this.caret(editor));
      }
    }, PREFETCH_DELAY_MS);
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.pending = undefined;
  }

  private send(rested: Caret): void {
    const editor = vscode.window.activeTextEditor;
    const params = prefetchParams(rested, {
      enabled: prefetchEnabled(),
      running: this.client.isRunning(),
      served: editor !== undefined && vscode.languages.match(this.selector, editor.document) > 0,
      caret: editor !== undefined && isCaret(editor.selections) ? this.caret(editor) : undefined,
    });
    if (params === undefined) return;
    this.client.sendNotification(PREFETCH_NOTIFICATION, params).catch((error: unknown) => {
      this.log.debug(`prefetch not sent: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  private caret(editor: vscode.TextEditor): Caret {
    const c2p = this.client.code2ProtocolConverter;
    return {
      uri: c2p.asUri(editor.document.uri),
      version: editor.document.version,
      position: c2p.asPosition(editor.selection.active),
    };
  }

  dispose(): void {
    this.stop();
    this.listeners.forEach((listener) => listener.dispose());
  }
}
