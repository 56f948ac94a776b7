/** The status-bar item's text and tooltip from the server's `diffill/status` and the client's own state. */

export type ModelState = 'loading' | 'ready' | 'failed' | 'busy';

export type AdaptationState = 'idle' | 'running' | 'ready' | 'failed';

/** Where learning the workspace stands (`adaptation` in `diffill/status`). */
export interface Adaptation {
  state: AdaptationState;
  workspace?: string | null;
  /** 0..1, or null when unknown. */
  progress?: number | null;
  /** The adapted model's directory. */
  model?: string | null;
  message?: string | null;
}

/** The result of `diffill/status` and the params of `diffill/statusChanged`. */
export interface ServerStatus {
  state: ModelState;
  model: string | null;
  device: string | null;
  error: string | null;
  settings?: Record<string, unknown> | null;
  adaptation?: Adaptation | null;
  /** Which model answers now (absent: base). */
  serving?: 'base' | 'adapted';
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

/** The status-bar text of an adaptation ('' when there is nothing to say) and its tooltip line. */
export function formatAdaptation(adaptation: Adaptation | null | undefined): { text: string; line?: string } {
  if (!adaptation) return { text: '' };
  const where = adaptation.workspace ? ` ${modelName(adaptation.workspace)}` : ' the workspace';
  const note = adaptation.message ? ` (${adaptation.message})` : '';
  switch (adaptation.state) {
    case 'running': {
      const share = typeof adaptation.progress === 'number' ? `${Math.round(Math.min(Math.max(adaptation.progress, 0), 1) * 100)}%` : '';
      return { text: ` · $(mortar-board) ${share || 'learning'}`, line: `learning${where}${share ? `: ${share}` : ''}${note}` };
    }
    case 'failed':
      return { text: '', line: `learning${where} failed${note}` };
    case 'ready':
      return { text: '', line: `learned${where}${adaptation.model ? ` (${adaptation.model})` : ''}` };
    default:
      return { text: '' };
  }
}

const trimPath = (path: string) => path.replace(/[\\/]+$/, '');

/** The name of the model serving adapted: the base model's, or the workspace's when the path is the adapted model's. */
function adaptedName(status: ServerStatus): string {
  const adaptedModel = status.adaptation?.model;
  if (status.model && adaptedModel && trimPath(status.model) === trimPath(adaptedModel)) {
    return status.adaptation?.workspace ? modelName(status.adaptation.workspace) : 'workspace';
  }
  return modelName(status.model);
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
  const adapted = status.serving === 'adapted';
  const name = adapted ? `${adaptedName(status)} (adapted)` : modelName(status.model);
  const where = status.device ? ` · ${status.device}` : '';
  const lines = [`diffill: model ${status.model ?? 'bundled'}${status.device ? ` on ${status.device}` : ''}`];
  if (state === 'failed') {
    lines.push(`failed to load: ${status.error ?? 'unknown error'}`);
    return { text: `${ICONS.failed} diffill`, tooltip: lines.join('\n'), error: true };
  }
  lines.push(adapted
    ? `serving: adapted to the workspace${status.adaptation?.model ? ` (${status.adaptation.model})` : ''}`
    : 'serving: the base model');
  lines.push(state === 'loading' ? 'loading…' : state === 'busy' ? 'generating…' : 'ready');
  const learning = formatAdaptation(status.adaptation);
  if (learning.line) lines.push(learning.line);
  return { text: `${ICONS[state]} ${name}${where}${learning.text}`, tooltip: lines.join('\n'), error: false };
}
