/**
 * The commands: Fill holes, Rewrite selection, Restart server, Show log.
 *
 * Fill and rewrite send `diffill/fill` with a work-done token of their own, show the server's progress as a
 * cancellable notification and apply the edits only when the document is still at the version the server
 * read. `diffill.fillHoles` is also a server command: the language client registers it, and the
 * `executeCommand` middleware (see extension.ts) routes it here, so the palette entry and the server's own
 * code-action commands run the same code.
 */
import * as vscode from 'vscode';
import { LanguageClient, WorkDoneProgress, WorkDoneProgressCancelNotification } from 'vscode-languageclient/node';
import { holeMarker, lightStrength } from './config';
import {
  FILL_REQUEST, FillResult, ProgressSteps, ProgressValue, Range, fillParams, outcome, outcomeMessage, targetUri,
} from './lib/fill';
import { parseStrength, percent, strengthChoices } from './lib/strength';
import { StatusBar } from './status';

export interface Host {
  readonly client: LanguageClient | undefined;
  readonly status: StatusBar;
  readonly log: vscode.LogOutputChannel;
  restart(): Promise<void>;
}

let tokens = 0;

function wireRange(range: vscode.Range): Range {
  return {
    start: { line: range.start.line, character: range.start.character },
    end: { line: range.end.line, character: range.end.character },
  };
}

function asTextEdit(edit: FillResult['edits'][number]): vscode.TextEdit {
  const { start, end } = edit.range;
  return new vscode.TextEdit(new vscode.Range(start.line, start.character, end.line, end.character), edit.newText);
}

/** Run `diffill/fill` for `document` with a cancellable progress notification; apply its edits. */
async function fill(host: Host, document: vscode.TextDocument, range?: vscode.Range, strength?: number): Promise<void> {
  const client = host.client;
  if (client === undefined || !client.isRunning()) {
    void vscode.window.showWarningMessage('diffill: the language server is not running (try "diffill: Restart server")');
    return;
  }
  const what = range === undefined ? 'fill' : 'rewrite';
  const token = `diffill-client-${++tokens}`;
  const title = range === undefined ? 'diffill: filling holes' : `diffill: rewriting the selection (${percent(strength ?? 1)})`;
  const params = fillParams(document.uri.toString(), token, range && wireRange(range), strength);
  const result = await host.status.track(vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, cancel) => {
      const steps = new ProgressSteps();
      const listening = client.onProgress(WorkDoneProgress.type, token, (value: ProgressValue) => {
        const step = steps.next(value);
        if (step) progress.report(step);
      });
      const cancelling = cancel.onCancellationRequested(() => {
        void client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
      });
      try {
        return await client.sendRequest<FillResult>(FILL_REQUEST, params);
      } finally {
        listening.dispose();
        cancelling.dispose();
      }
    },
  ));
  const state = outcome(result, document.isClosed ? null : document.version);
  if (state === 'applied') {
    const edit = new vscode.WorkspaceEdit();
    edit.set(document.uri, result.edits.map(asTextEdit));
    if (!(await vscode.workspace.applyEdit(edit))) {
      void vscode.window.showWarningMessage(`diffill: VS Code did not apply the ${what}`);
    }
    return;
  }
  const message = outcomeMessage(what, state, holeMarker());
  if (message) void vscode.window.showInformationMessage(message);
}

function report(host: Host, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  host.log.error(message);
  void vscode.window.showErrorMessage(`diffill: ${message}`);
}

/** `diffill.fillHoles [uri?]`: fill every hole of the document (the active editor's without an argument). */
export async function fillHoles(host: Host, args: readonly unknown[]): Promise<void> {
  const active = vscode.window.activeTextEditor?.document;
  const uri = targetUri(args, active?.uri.toString());
  const document = vscode.workspace.textDocuments.find((doc) => doc.uri.toString() === uri);
  if (document === undefined) {
    void vscode.window.showInformationMessage('diffill: open a file to fill its holes');
    return;
  }
  try {
    await fill(host, document);
  } catch (error) {
    report(host, error);
  }
}

/** Ask for a strength: Full / Light / Custom…; undefined when the user backs out. */
async function pickStrength(): Promise<number | undefined> {
  const picked = await vscode.window.showQuickPick(strengthChoices(lightStrength()), {
    title: 'diffill: rewrite strength',
    placeHolder: 'How much of the selection may change?',
  });
  if (picked === undefined || picked.strength !== undefined) return picked?.strength;
  const text = await vscode.window.showInputBox({
    title: 'diffill: rewrite strength',
    prompt: 'A strength in (0, 1] or a percentage: the share of the selection the model may change',
    value: '0.5',
    validateInput: (value) => {
      const parsed = parseStrength(value);
      return typeof parsed === 'number' ? undefined : parsed.error;
    },
  });
  const parsed = text === undefined ? undefined : parseStrength(text);
  return typeof parsed === 'number' ? parsed : undefined;
}

/** `diffill.rewriteSelection [strength?]`: rewrite the selection; asks for the strength unless given. */
export async function rewriteSelection(host: Host, strength?: unknown): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined || editor.selection.isEmpty) {
    void vscode.window.showInformationMessage('diffill: select the code to rewrite first');
    return;
  }
  const selection = editor.selection;
  const chosen = typeof strength === 'number' ? strength : await pickStrength();
  if (chosen === undefined) return;
  try {
    await fill(host, editor.document, new vscode.Range(selection.start, selection.end), chosen);
  } catch (error) {
    report(host, error);
  }
}

/** The client-side commands (`diffill.fillHoles` comes through the language client, see above). */
export function registerCommands(host: Host): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('diffill.rewriteSelection', (strength?: unknown) => rewriteSelection(host, strength)),
    vscode.commands.registerCommand('diffill.restartServer', () => host.restart()),
    vscode.commands.registerCommand('diffill.showLog', () => host.log.show(true)),
  ];
}
