/**
 * Activation and the language client's lifecycle.
 *
 * One LanguageClient runs `diffill serve` over stdio for the enabled languages. Settings go to the server
 * as `initializationOptions` and, on change, as `workspace/didChangeConfiguration`; a change of the
 * server command or of the languages starts a new client. Inline completions come through the client's
 * LSP inline-completion support; the status bar follows `diffill/status` and `diffill/statusChanged`; a
 * Prefetcher per client sends `diffill/prefetch` where the caret comes to rest. `diffill/marks` and
 * `diffill/preview` go to the MarksView and PreviewView, which outlive clients; a code action the server
 * resolves registers a run (runs.ts), so Escape over its preview cancels the resolve.
 */
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification, LanguageClient, LanguageClientOptions, ServerOptions, State,
} from 'vscode-languageclient/node';
import { Host, fillHoles, registerCommands, rewriteRange } from './commands';
import { SECTION, enabledLanguages, needsRestart, readServerCommand, readServerSettings } from './config';
import { CMD_FILL_HOLES, CMD_REWRITE_RANGE, STATUS_CHANGED, STATUS_REQUEST } from './lib/fill';
import { MARKS_NOTIFICATION, MarksParams } from './lib/marks';
import { PREVIEW_NOTIFICATION, PreviewParams } from './lib/preview';
import { documentSelector } from './lib/settings';
import { ServerStatus } from './lib/status';
import { MarksView } from './marks';
import { Prefetcher } from './prefetch';
import { PreviewView } from './preview';
import { Runs } from './runs';
import { StatusBar } from './status';

class Diffill implements Host {
  client: LanguageClient | undefined;
  readonly status = new StatusBar();
  readonly log = vscode.window.createOutputChannel('diffill', { log: true });
  readonly marks = new MarksView(this.log);
  readonly previews = new PreviewView(this.log);
  readonly runs = new Runs();
  private subscriptions: vscode.Disposable[] = [];

  async start(): Promise<void> {
    const { command, args } = readServerCommand();
    // No `transport`: TransportKind.stdio would append `--stdio`, which `diffill serve` does not take.
    const serverOptions: ServerOptions = { command, args };
    const selector = documentSelector(enabledLanguages());
    const clientOptions: LanguageClientOptions = {
      documentSelector: selector,
      initializationOptions: readServerSettings(),
      outputChannel: this.log,
      middleware: {
        // The palette's "Fill holes" and the server's code-action commands both land here.
        executeCommand: (name, commandArgs, next) => {
          if (name === CMD_FILL_HOLES) return fillHoles(this, commandArgs);
          if (name === CMD_REWRITE_RANGE) return rewriteRange(this, commandArgs);
          return next(name, commandArgs);
        },
        // The server computes a code action's edit here, with a preview: Escape cancels it like a fill.
        resolveCodeAction: async (item, token, next) => {
          const uri = actionUri(item) ?? vscode.window.activeTextEditor?.document.uri.toString();
          if (uri === undefined) return next(item, token);
          const run = this.runs.start(uri);
          const cancelling = token.onCancellationRequested(() => run.cancel());
          try {
            const resolved = await next(item, run.token);
            return run.cancelled ? item : resolved;
          } finally {
            cancelling.dispose();
            run.dispose();
          }
        },
        workspace: {
          // Should the server pull its section, give it the server's keys only.
          configuration: async (params, token, next) => {
            const answers = await next(params, token);
            if (!Array.isArray(answers)) return answers;
            return params.items.map((item, i) => (item.section === SECTION ? readServerSettings() : answers[i]));
          },
        },
      },
    };
    const client = new LanguageClient('diffill', 'diffill', serverOptions, clientOptions);
    this.client = client;
    this.subscriptions = [
      client.onDidChangeState((event) => {
        this.status.setClient(event.newState === State.Running ? 'running' : event.newState === State.Starting ? 'starting' : 'stopped');
      }),
      client.onNotification(STATUS_CHANGED, (status: ServerStatus) => this.status.setStatus(status)),
      client.onNotification(MARKS_NOTIFICATION, (params: MarksParams) => this.marks.fromNotification(params)),
      client.onNotification(PREVIEW_NOTIFICATION, (params: PreviewParams) => this.previews.update(params)),
      new Prefetcher(client, selector, this.log),
    ];
    this.log.info(`starting ${command} ${args.join(' ')}`);
    this.status.setClient('starting');
    try {
      await client.start();
      this.status.setStatus(await client.sendRequest<ServerStatus>(STATUS_REQUEST, {}));
    } catch (error) {
      this.status.setClient('stopped');
      const message = error instanceof Error ? error.message : String(error);
      this.log.error(`the server did not start: ${message}`);
      void vscode.window.showErrorMessage(
        `diffill: the language server did not start (${command}): ${message}. Set diffill.server.command or diffill.server.pythonPath.`,
        'Show log',
      ).then((choice) => choice && this.log.show(true));
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.subscriptions.forEach((d) => d.dispose());
    this.subscriptions = [];
    this.previews.clearAll();
    if (client !== undefined) {
      try {
        await client.dispose(5000);
      } catch (error) {
        this.log.warn(`stopping the server: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.status.setClient('stopped');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async configurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
    if (!event.affectsConfiguration(SECTION)) return;
    if (needsRestart(event)) {
      await this.restart();
    } else if (this.client?.isRunning()) {
      await this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [SECTION]: readServerSettings() },
      });
    }
  }
}

/** The document of a listed code action: the server puts it in the action's `data`. */
function actionUri(item: vscode.CodeAction): string | undefined {
  const data = (item as { data?: { uri?: unknown } }).data;
  return typeof data?.uri === 'string' ? data.uri : undefined;
}

let diffill: Diffill | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  diffill = new Diffill();
  const host = diffill;
  context.subscriptions.push(
    host.status,
    host.marks,
    host.previews,
    host.log,
    ...registerCommands(host),
    vscode.workspace.onDidChangeConfiguration((event) => host.configurationChanged(event)),
  );
  await host.start();
}

export async function deactivate(): Promise<void> {
  const host = diffill;
  diffill = undefined;
  if (host !== undefined) {
    await host.stop();
  }
}
