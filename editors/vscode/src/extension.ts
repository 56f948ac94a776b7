/**
 * Activation and the language client's lifecycle.
 *
 * One LanguageClient runs `diffill serve` over stdio for the enabled languages. Settings go to the server
 * as `initializationOptions` and, on change, as `workspace/didChangeConfiguration`; a change of the
 * server command or of the languages starts a new client. Inline completions come through the client's
 * LSP inline-completion support; the status bar follows `diffill/status` and `diffill/statusChanged`; a
 * Prefetcher per client sends `diffill/prefetch` where the caret comes to rest.
 */
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification, LanguageClient, LanguageClientOptions, ServerOptions, State,
} from 'vscode-languageclient/node';
import { Host, fillHoles, registerCommands } from './commands';
import { SECTION, enabledLanguages, needsRestart, readServerCommand, readServerSettings } from './config';
import { CMD_FILL_HOLES, STATUS_CHANGED, STATUS_REQUEST } from './lib/fill';
import { documentSelector } from './lib/settings';
import { ServerStatus } from './lib/status';
import { Prefetcher } from './prefetch';
import { StatusBar } from './status';

class Diffill implements Host {
  client: LanguageClient | undefined;
  readonly status = new StatusBar();
  readonly log = vscode.window.createOutputChannel('diffill', { log: true });
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
        executeCommand: (name, commandArgs, next) =>
          name === CMD_FILL_HOLES ? fillHoles(this, commandArgs) : next(name, commandArgs),
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

let diffill: Diffill | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  diffill = new Diffill();
  const host = diffill;
  context.subscriptions.push(
    host.status,
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
