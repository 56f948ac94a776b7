/**
 * The commands: Fill holes, Rewrite selection, the uncertain marks (next, previous, clear), Cancel the
 * running fill, Learn this workspace, Restart server, Show log.
 *
 * Fill and rewrite send `diffill/fill` with a work-done token of their own, show the server's progress as a
 * cancellable notification and apply the edits only when the document is still at the version the server
 * read; the result's marks are drawn then. `diffill.fillHoles` and `diffill.rewriteRange` are also server
 * commands: the language client registers them, and the `executeCommand` middleware (see extension.ts)
 * routes them here, so the palette entry and the server's own code-action commands run the same code.
 */
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest, LanguageClient, WorkDoneProgress, WorkDoneProgressCancelNotification,
} from 'vscode-languageclient/node';
import { adaptMode, holeMarker, lightStrength } from './config';
import {
  CMD_ADAPT_NOW, FILL_REQUEST, FillResult, ProgressSteps, ProgressValue, adaptAnswer, fillParams, outcome,
  outcomeMessage, rewriteArguments, targetUri,
} from './lib/fill';
import { parseStrength, percent, strengthChoices } from './lib/strength';
import { MarksView, toRange, toWire } from './marks';
import { PreviewView } from './preview';
import { Runs } from './runs';
import { StatusBar } from './status';

export interface Host {
  readonly client: LanguageClient | undefined;
  readonly status: StatusBar;
  readonly log: vscode.LogOutputChannel;
  readonly marks: MarksView;
  readonly previews: PreviewView;
  readonly runs: Runs;
  restart(): Promise<void>;
}

let tokens = 0;

function asTextEdit(edit: FillResult['edits'][number]): vscode.TextEdit {
  return new vscode.TextEdit(toRange(edit.range), edit.newText);
}

function notRunning(): void {
  void vscode.window.showWarningMessage('diffill: the language server is not running (try "diffill: Restart server")');
}

/**
 * Run `diffill/fill` for `document` with a cancellable progress notification; apply its edits and draw its
 * marks. The notification's Cancel and Escape over the preview (host.runs) both stop it; a cancelled fill
 * changes nothing, even if its answer was already on the way.
 */
async function fill(host: Host, document: vscode.TextDocument, range?: vscode.Range, strength?: number): Promise<void> {
  const client = host.client;
  if (client === undefined || !client.isRunning()) {
    notRunning();
    return;
  }
  const what = range === undefined ? 'fill' : 'rewrite';
  const uri = document.uri.toString();
  const token = `diffill-client-${++tokens}`;
  const title = range === undefined ? 'diffill: filling holes' : `diffill: rewriting the selection (${percent(strength ?? 1)})`;
  const params = fillParams(uri, token, range && toWire(range), strength);
  const run = host.runs.start(uri);
  run.onCancel(() => void client.sendNotification(WorkDoneProgressCancelNotification.type, { token }));
  let result: FillResult | undefined;
  try {
    result = await host.status.track(vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      async (progress, cancel) => {
        const steps = new ProgressSteps();
        const listening = client.onProgress(WorkDoneProgress.type, token, (value: ProgressValue) => {
          const step = steps.next(value);
          if (step) progress.report(step);
        });
        const cancelling = cancel.onCancellationRequested(() => run.cancel());
        try {
          return await client.sendRequest<FillResult>(FILL_REQUEST, params, run.token);
        } catch (error) {
          if (run.cancelled) return undefined; // the answer to a cancel may be an error: nothing to apply
          throw error;
        } finally {
          listening.dispose();
          cancelling.dispose();
        }
      },
    ));
  } finally {
    run.dispose();
    if (run.cancelled || result === undefined) host.previews.clear(uri, run.cancelled);
  }
  if (run.cancelled || result === undefined) {
    void vscode.window.showInformationMessage(outcomeMessage(what, 'cancelled') ?? '');
    return;
  }
  const state = outcome(result, document.isClosed ? null : document.version);
  if (state === 'applied') {
    const edit = new vscode.WorkspaceEdit();
    edit.set(document.uri, result.edits.map(asTextEdit));
    const applied = await vscode.workspace.applyEdit(edit);
    host.previews.clear(uri); // the edit's change event cleared it already; a refused edit leaves it
    if (applied) host.marks.set(uri, result.marks ?? []);
    else void vscode.window.showWarningMessage(`diffill: VS Code did not apply the ${what}`);
    return;
  }
  host.previews.clear(uri); // a finished preview whose edit will not come
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

/** `diffill.rewriteRange [uri, range, strength?]` (the server's code-action command): rewrite that range. */
export async function rewriteRange(host: Host, args: readonly unknown[]): Promise<void> {
  const parsed = rewriteArguments(args);
  const document = parsed && vscode.workspace.textDocuments.find((doc) => doc.uri.toString() === parsed.uri);
  if (parsed === undefined || document === undefined) {
    host.log.warn(`diffill.rewriteRange: no open document for ${JSON.stringify(args)}`);
    return;
  }
  try {
    await fill(host, document, toRange(parsed.range), parsed.strength);
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

/** Escape over a preview: stop the active document's running fill; its document stays as it is. */
function cancelFill(host: Host): void {
  const uri = vscode.window.activeTextEditor?.document.uri.toString();
  if (uri === undefined) return;
  if (!host.runs.cancel(uri)) host.log.info(`no fill of ${uri} to cancel; hiding its preview`);
  host.previews.clear(uri, true);
}

function selectMark(host: Host, forward: boolean): void {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined || !host.marks.select(editor, forward)) {
    void vscode.window.showInformationMessage('diffill: no uncertain parts in this file');
  }
}

/** The workspace folder to learn: the active file's, the only one, or one the user picks. */
async function folderToLearn(): Promise<vscode.WorkspaceFolder | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  const own = active && vscode.workspace.getWorkspaceFolder(active);
  if (own) return own;
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length <= 1) return folders[0];
  return vscode.window.showWorkspaceFolderPick({ placeHolder: 'diffill: which folder should the model learn?' });
}

/** "Learn this workspace (adapt now)": `workspace/executeCommand diffill.adaptNow [folderUri]`. */
export async function learnWorkspace(host: Host): Promise<void> {
  const client = host.client;
  if (client === undefined || !client.isRunning()) {
    notRunning();
    return;
  }
  if (adaptMode() === 'off') {
    const choice = await vscode.window.showWarningMessage(
      'diffill: learning the workspace is off (diffill.adapt). Turn it on (manual) and learn now?', 'Turn on', 'Open setting',
    );
    if (choice === 'Open setting') void vscode.commands.executeCommand('workbench.action.openSettings', 'diffill.adapt');
    if (choice !== 'Turn on') return;
    await vscode.workspace.getConfiguration('diffill').update('adapt', 'manual', vscode.ConfigurationTarget.Global);
  }
  const folder = await folderToLearn();
  const args = folder ? [folder.uri.toString()] : [];
  try {
    const answer = await client.sendRequest(ExecuteCommandRequest.type, { command: CMD_ADAPT_NOW, arguments: args });
    const { started, message } = adaptAnswer(answer);
    if (started) {
      void vscode.window.showInformationMessage(
        `diffill: learning ${folder?.name ?? 'the workspace'} in the background; the status bar shows how far it is.`,
      );
    } else {
      void vscode.window.showWarningMessage(`diffill: ${message ?? 'learning the workspace did not start'}`);
    }
  } catch (error) {
    report(host, error);
  }
}

/** The client-side commands (`diffill.fillHoles` comes through the language client, see above). */
export function registerCommands(host: Host): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('diffill.rewriteSelection', (strength?: unknown) => rewriteSelection(host, strength)),
    vscode.commands.registerCommand('diffill.nextUncertain', () => selectMark(host, true)),
    vscode.commands.registerCommand('diffill.previousUncertain', () => selectMark(host, false)),
    vscode.commands.registerCommand('diffill.clearUncertain', () => host.marks.clear(vscode.window.activeTextEditor?.document.uri.toString())),
    vscode.commands.registerCommand('diffill.cancelFill', () => cancelFill(host)),
    vscode.commands.registerCommand('diffill.learnWorkspace', () => learnWorkspace(host)),
    vscode.commands.registerCommand('diffill.restartServer', () => host.restart()),
    vscode.commands.registerCommand('diffill.showLog', () => host.log.show(true)),
  ];
}
