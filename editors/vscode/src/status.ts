/** The status-bar item: model, device and busy state from `diffill/status`, `diffill/statusChanged` and fills. */
import * as vscode from 'vscode';
import { ClientState, ServerStatus, formatStatus } from './lib/status';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('diffill.status', vscode.StatusBarAlignment.Right, 100);
  private client: ClientState = 'starting';
  private status: ServerStatus | undefined;
  private busy = 0;

  constructor() {
    this.item.name = 'diffill';
    this.item.command = 'diffill.showLog';
    this.render();
    this.item.show();
  }

  setClient(state: ClientState): void {
    this.client = state;
    if (state !== 'running') this.status = undefined;
    this.render();
  }

  setStatus(status: ServerStatus): void {
    this.status = status;
    this.render();
  }

  /** Shows busy while `work` runs. */
  async track<T>(work: Thenable<T>): Promise<T> {
    this.busy += 1;
    this.render();
    try {
      return await work;
    } finally {
      this.busy -= 1;
      this.render();
    }
  }

  private render(): void {
    const view = formatStatus(this.client, this.status, this.busy);
    this.item.text = view.text;
    this.item.tooltip = `${view.tooltip}\nClick to show the log`;
    this.item.backgroundColor = view.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
