/**
 * VS Code settings -> the diffill server's settings (wire form) and the command that starts the server.
 *
 * The server knows the keys in SERVER_KEYS (camelCase, as in lsp_server/settings.py) and reports any other
 * key as an unknown setting, so only those are forwarded; `enabledLanguages` is the server's `languages`.
 * Every key is sent with its effective value (package.json holds the same defaults as the server), so a
 * setting the user removes falls back to the default rather than to an older value.
 */

/** VS Code key (under `diffill.`) -> server key. */
export const SERVER_KEYS: Readonly<Record<string, string>> = {
  model: 'model',
  device: 'device',
  dtype: 'dtype',
  threads: 'threads',
  compile: 'compile',
  steps: 'steps',
  lineLength: 'lineLength',
  multilineLength: 'multilineLength',
  inlineLength: 'inlineLength',
  endProbability: 'endProbability',
  holeMarker: 'holeMarker',
  temperature: 'temperature',
  candidates: 'candidates',
  enabledLanguages: 'languages',
  debounceMs: 'debounceMs',
  adaptiveDebounce: 'adaptiveDebounce',
  debounceMaxMs: 'debounceMaxMs',
  lightStrength: 'lightStrength',
  completeInComments: 'completeInComments',
  completeInStrings: 'completeInStrings',
  multilineOnEmptyLine: 'multilineOnEmptyLine',
  prefetch: 'prefetch',
  minConfidence: 'minConfidence',
  uncertainBelow: 'uncertainBelow',
  preview: 'preview',
  adapt: 'adapt',
  adaptMinutes: 'adaptMinutes',
  contextTokens: 'contextTokens',
};

export type Settings = Record<string, unknown>;

/** A reader of the `diffill` section: `get('steps')` is `diffill.steps` (undefined when unset). */
export type Section = { get(key: string): unknown };

/** The server's settings from the `diffill` section; an empty `model` means the bundled one (null). */
export function serverSettings(section: Section): Settings {
  const out: Settings = {};
  for (const [key, wire] of Object.entries(SERVER_KEYS)) {
    const value = section.get(key);
    if (value === undefined) continue;
    out[wire] = key === 'model' && (value === '' || value === null) ? null : value;
  }
  return out;
}

export interface ServerCommand {
  command: string;
  args: string[];
}

export interface ServerOptions {
  /** `diffill.server.command`: argv of a command that runs the server over stdio; wins when not empty. */
  command?: readonly string[];
  /** `diffill.server.pythonPath`: a Python with diffill installed, run as `python -m lsp_server.cli serve`. */
  pythonPath?: string;
  /** `diffill.server.logLevel`: the server's --log-level. */
  logLevel?: string;
}

/** How to start the server: `server.command`, else `pythonPath -m lsp_server.cli serve`, else `diffill serve`. */
export function serverCommand(options: ServerOptions): ServerCommand {
  const argv = (options.command ?? []).filter((part) => typeof part === 'string' && part !== '');
  const logArgs = options.logLevel ? ['--log-level', options.logLevel] : [];
  if (argv.length > 0) {
    return { command: argv[0], args: [...argv.slice(1), ...logArgs] };
  }
  if (options.pythonPath) {
    return { command: options.pythonPath, args: ['-m', 'lsp_server.cli', 'serve', ...logArgs] };
  }
  return { command: 'diffill', args: ['serve', ...logArgs] };
}

/** The document selector for a list of languageIds (an empty list: every language). */
export function documentSelector(languages: readonly string[]): { scheme: string; language?: string }[] {
  const schemes = ['file', 'untitled'];
  if (languages.length === 0) return schemes.map((scheme) => ({ scheme }));
  return languages.flatMap((language) => schemes.map((scheme) => ({ scheme, language })));
}

/** Settings whose change needs a new client (command line, document selector), not just a notification. */
export const RESTART_KEYS: readonly string[] = ['server', 'enabledLanguages'];
