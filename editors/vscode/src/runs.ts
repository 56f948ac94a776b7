/**
 * The fills and rewrites running per document, so that Escape ("diffill: Cancel the running fill") can stop
 * the one whose preview shows: the client's own `diffill/fill` requests (commands.ts) and the code actions
 * the server resolves (extension.ts's resolveCodeAction middleware).
 */
import * as vscode from 'vscode';

export class Run implements vscode.Disposable {
  private readonly source = new vscode.CancellationTokenSource();
  private readonly listeners: (() => void)[] = [];
  cancelled = false;

  constructor(readonly uri: string, private readonly done: (run: Run) => void) {}

  /** Cancelled when the user cancels: pass it with the request ($/cancelRequest). */
  get token(): vscode.CancellationToken {
    return this.source.token;
  }

  /** Also run `listener` on cancel (e.g. a work-done progress cancel). */
  onCancel(listener: () => void): void {
    this.listeners.push(listener);
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const listener of this.listeners) listener();
    this.source.cancel();
  }

  dispose(): void {
    this.done(this);
    this.source.dispose();
  }
}

export class Runs {
  private readonly byUri = new Map<string, Set<Run>>();

  /** A run of `uri`; dispose it when its request is answered. */
  start(uri: string): Run {
    const run = new Run(uri, (finished) => {
      const runs = this.byUri.get(uri);
      runs?.delete(finished);
      if (runs?.size === 0) this.byUri.delete(uri);
    });
    const runs = this.byUri.get(uri) ?? new Set<Run>();
    runs.add(run);
    this.byUri.set(uri, runs);
    return run;
  }

  /** Cancel every run of `uri`; whether there was one. */
  cancel(uri: string): boolean {
    const runs = [...(this.byUri.get(uri) ?? [])];
    runs.forEach((run) => run.cancel());
    return runs.length > 0;
  }

  has(uri: string): boolean {
    return (this.byUri.get(uri)?.size ?? 0) > 0;
  }
}
