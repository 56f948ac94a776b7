/**
 * Sends `diffill/prefetch` when the active editor's caret comes to rest after a move that was not an edit
 * (the decisions are in lib/prefetch.ts). One Prefetcher per language client, disposed with it.
 */
import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { prefetchEnabled } from './config';
import { Position } from './lib/fill';
import {
  Caret, PREFETCH_DELAY_MS, PREFETCH_NOTIFICATION, insertedEnd, isCaret, isCaretMove, prefetchParams,
} from './lib/prefetch';

export class Prefetcher implements vscode.Disposable {
  private timer: ReturnType<typeof setTimeout> | undefined;
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
    ];
  }

  /** Every selection change ends the wait; a caret move starts a new one. */
  private selectionChanged(event: vscode.TextEditorSelectionChangeEvent): void {
    clearTimeout(this.timer);
    const editEnds = this.editEnds.get(event.textEditor.document) ?? [];
    if (!isCaretMove(event.kind, event.selections, editEnds)) return;
    const rested = this.caret(event.textEditor);
    this.timer = setTimeout(() => this.send(rested), PREFETCH_DELAY_MS);
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
    clearTimeout(this.timer);
    this.listeners.forEach((listener) => listener.dispose());
  }
}
