/**
 * The live preview of a running fill or rewrite (`diffill/preview`), as plain state: per document, per
 * generation (`id`), the current text of each span.
 *
 * A notification holds the spans of the current round only, so a span keeps the text it last showed until
 * a later notification names it again. `done` brings every span's final text (the edit follows: the client
 * removes the preview once the edit is applied, or after a moment when none comes); `cancelled` ends the
 * generation at once. Span ranges lie in the document version the request read, so a generation is drawn
 * only while the document is still at that version. src/preview.ts draws what `spansFor` returns.
 */
import { Range, rangeKey } from './positions';

export const PREVIEW_NOTIFICATION = 'diffill/preview';
/** A token still masked, as the server writes it in a preview's text (LIGHT SHADE). */
export const PREVIEW_MASK = '\u2591';
/** The most characters of one span's preview drawn on its line. */
export const PREVIEW_MAX_CHARS = 160;
/** How long (ms) a finished preview stays when no edit follows it (a code action VS Code did not apply). */
export const DONE_LINGER_MS = 2000;

export interface PreviewSpan {
  /** The text being replaced, in the document version the request read. */
  range: Range;
  /** Its text now; still-masked tokens are PREVIEW_MASK. */
  text: string;
}

export interface PreviewParams {
  uri: string;
  version: number | null;
  id: string;
  spans: PreviewSpan[];
  /** Absent: false. */
  done?: boolean;
  /** Absent: false. */
  cancelled?: boolean;
}

interface Generation {
  version: number | null;
  spans: Map<string, PreviewSpan>;
  done: boolean;
}

/** What an update did to a document's preview. */
export type PreviewEvent = 'started' | 'updated' | 'done' | 'cancelled' | 'ignored';

export class Previews {
  private readonly byUri = new Map<string, Map<string, Generation>>();
  /** Ids already finished or cancelled: a late notification of theirs draws nothing. */
  private readonly closed = new Set<string>();

  update(params: PreviewParams): PreviewEvent {
    if (typeof params?.uri !== 'string' || typeof params.id !== 'string' || this.closed.has(params.id)) return 'ignored';
    const generations = this.byUri.get(params.uri) ?? new Map<string, Generation>();
    if (params.cancelled) {
      this.close(params.id);
      const had = generations.delete(params.id);
      this.prune(params.uri, generations);
      return had ? 'cancelled' : 'ignored';
    }
    const existing = generations.get(params.id);
    const generation = existing ?? { version: params.version ?? null, spans: new Map(), done: false };
    if (params.done) {
      generation.spans.clear(); // the final text of every span
      generation.done = true;
    }
    for (const span of params.spans ?? []) {
      if (span?.range?.start && span.range.end && typeof span.text === 'string') {
        generation.spans.set(rangeKey(span.range), { range: span.range, text: span.text });
      }
    }
    generations.set(params.id, generation);
    this.byUri.set(params.uri, generations);
    if (params.done) {
      this.close(params.id);
      return 'done';
    }
    return existing ? 'updated' : 'started';
  }

  /** The spans to draw in a document now at `version`: those of every generation that read this version. */
  spansFor(uri: string, version: number): PreviewSpan[] {
    const generations = this.byUri.get(uri);
    if (generations === undefined) return [];
    const out: PreviewSpan[] = [];
    for (const generation of generations.values()) {
      if (generation.version === null || generation.version === version) out.push(...generation.spans.values());
    }
    return out;
  }

  /** Whether a generation of `uri` is still running (not done): what Escape would cancel. */
  running(uri: string): boolean {
    return [...(this.byUri.get(uri)?.values() ?? [])].some((g) => !g.done);
  }

  /** Whether `uri` shows a finished preview, waiting for its edit. */
  hasDone(uri: string): boolean {
    return [...(this.byUri.get(uri)?.values() ?? [])].some((g) => g.done);
  }

  /** Forget the finished generations of `uri` (its edit arrived), or all of its generations with `all`. */
  clear(uri: string, all = false): boolean {
    const generations = this.byUri.get(uri);
    if (generations === undefined) return false;
    let changed = false;
    for (const [id, generation] of generations) {
      if (all || generation.done) {
        generations.delete(id);
        if (all) this.close(id);
        changed = true;
      }
    }
    this.prune(uri, generations);
    return changed;
  }

  uris(): string[] {
    return [...this.byUri.keys()];
  }

  private close(id: string): void {
    this.closed.add(id);
    if (this.closed.size > 256) this.closed.delete(this.closed.values().next().value as string);
  }

  private prune(uri: string, generations: Map<string, Generation>): void {
    if (generations.size === 0) this.byUri.delete(uri);
  }
}

/**
 * A span's text as one line drawn after its range: line breaks become " ⏎ " (the next line's indentation
 * dropped), spaces non-breaking so the editor keeps them, cut at `max` characters with an ellipsis.
 */
export function displayText(text: string, max = PREVIEW_MAX_CHARS): string {
  const lines = text.split(/\r\n|\r|\n/);
  const joined = lines.map((line, i) => (i === 0 ? line : line.trimStart())).join(' \u23ce ');
  const cut = [...joined].length > max ? `${[...joined].slice(0, max - 1).join('')}\u2026` : joined;
  return cut.replace(/ /g, '\u00a0');
}
