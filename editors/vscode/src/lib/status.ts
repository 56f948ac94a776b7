/** The status-bar item's text and tooltip from the server's `diffill/status` and the client's own state. */

export type ModelState = 'loading' | 'ready' | 'failed' | 'busy';

/** The result of `diffill/status` and the params of `diffill/statusChanged`. */
export interface ServerStatus {
  state: ModelState;
  model: string | null;
  device: string | null;
  error: string | null;
  settings?: Record<string, unknown> | null;
}

export type ClientState = 'starting' | 'running' | 'stopped';

export interface StatusView {
  text: string;
  tooltip: string;
  /** Draw the item as an error. */
  error: boolean;
}

const ICONS: Record<ModelState, string> = {
  loading: '$(loading~spin)',
  ready: '$(sparkle)',
  busy: '$(sync~spin)',
  failed: '$(error)',
};

/** `/x/models/default` -> `default`; null -> `bundled`. */
export function modelName(model: string | null | undefined): string {
  if (!model) return 'bundled';
  const parts = model.replace(/[\\/]+$/, '').split(/[\\/]/);
  return parts[parts.length - 1] || model;
}

/**
 * What the item shows. `busy` counts the client's own fills in flight: the server only reports busy
 * while it generates, and a fill queued behind a completion should already show as busy.
 */
export function formatStatus(client: ClientState, status: ServerStatus | undefined, busy = 0): StatusView {
  if (client === 'stopped') {
    return { text: '$(circle-slash) diffill', tooltip: 'diffill: the language server is not running', error: true };
  }
  if (client === 'starting' || status === undefined) {
    return { text: '$(loading~spin) diffill', tooltip: 'diffill: starting the language server', error: false };
  }
  const state: ModelState = status.state === 'ready' && busy > 0 ? 'busy' : status.state;
  const name = modelName(status.model);
  const where = status.device ? ` · ${status.device}` : '';
  const lines = [`diffill: model ${status.model ?? 'bundled'}${status.device ? ` on ${status.device}` : ''}`];
  if (state === 'failed') {
    lines.push(`failed to load: ${status.error ?? 'unknown error'}`);
    return { text: `${ICONS.failed} diffill`, tooltip: lines.join('\n'), error: true };
  }
  lines.push(state === 'loading' ? 'loading…' : state === 'busy' ? 'generating…' : 'ready');
  return { text: `${ICONS[state]} ${name}${where}`, tooltip: lines.join('\n'), error: false };
}
