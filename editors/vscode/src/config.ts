/** Reading the `diffill` settings from VS Code; the mapping itself lives in lib/settings.ts. */
import * as vscode from 'vscode';
import { RESTART_KEYS, ServerCommand, Settings, serverCommand, serverSettings } from './lib/settings';

export const SECTION = 'diffill';

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

/** The server's settings, for `initializationOptions` and `workspace/didChangeConfiguration`. */
export function readServerSettings(): Settings {
  const section = config();
  return serverSettings({ get: (key) => section.get(key) });
}

export function readServerCommand(): ServerCommand {
  const section = config();
  return serverCommand({
    command: section.get<string[]>('server.command'),
    pythonPath: section.get<string>('server.pythonPath'),
    logLevel: section.get<string>('server.logLevel'),
  });
}

export function enabledLanguages(): string[] {
  return config().get<string[]>('enabledLanguages') ?? ['python'];
}

export function lightStrength(): number {
  return config().get<number>('lightStrength') ?? 0.4;
}

export function holeMarker(): string {
  return config().get<string>('holeMarker') ?? '???';
}

export function adaptMode(): string {
  return config().get<string>('adapt') ?? 'manual';
}

export function prefetchEnabled(): boolean {
  return config().get<boolean>('prefetch') ?? true;
}

/** Whether a change needs a new client (server command, languages) rather than a settings notification. */
export function needsRestart(event: vscode.ConfigurationChangeEvent): boolean {
  return RESTART_KEYS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
}
