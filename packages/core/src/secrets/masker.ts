/**
 * Replaces every secret value a task received with `***` in text it prints or returns:
 * log lines, outputs, error messages, callbacks' payloads. Each value is also masked in the
 * forms it is commonly printed in: %-encoded (a URI), JSON-escaped, and line by line when it
 * spans lines (a private key). Values shorter than MIN_MASKED characters are not masked: they
 * would hide every such run of letters and protect little.
 */
export const MASK = '***';
export const MIN_MASKED = 3;

export class SecretMasker {
  #values = new Set<string>();
  #re: RegExp | undefined;
  #longest = 0;

  /** The longest form masked, in characters: a stream must keep that much back to mask across chunks. */
  get longest(): number {
    return this.#longest;
  }

  get size(): number {
    return this.#values.size;
  }

  add(value: string | undefined): this {
    if (value === undefined || value.length < MIN_MASKED) return this;
    const forms = new Set([value, encodeURIComponent(value), encodeURIComponent(value).replaceAll('%20', '+'), JSON.stringify(value).slice(1, -1)]);
    if (/[\r\n]/.test(value)) for (const line of value.split(/\r?\n/)) if (line.trim().length >= MIN_MASKED) forms.add(line.trim());
    let grew = false;
    for (const f of forms) {
      if (f.length < MIN_MASKED || this.#values.has(f)) continue;
      this.#values.add(f);
      this.#longest = Math.max(this.#longest, f.length);
      grew = true;
    }
    if (grew) this.#re = undefined;
    return this;
  }

  mask(text: string): string {
    if (this.#values.size === 0 || text.length < MIN_MASKED) return text;
    return text.replace(this.#regex(), MASK);
  }

  #regex(): RegExp {
    this.#re ??= new RegExp(
      [...this.#values]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    );
    return this.#re;
  }

  /**
   * Where a stream may cut `text` (a line that never ends) so that masking the two parts
   * apart masks as much as masking them whole: far enough from the end that a value still
   * arriving is kept back, and never inside a value already there. 0 when nothing may go.
   */
  safeCut(text: string): number {
    if (this.#values.size === 0) return text.length;
    let cut = Math.max(0, text.length - (this.#longest - 1));
    const re = new RegExp(this.#regex().source, 'g');
    for (let m = re.exec(text); m && m.index < cut; m = re.exec(text)) {
      if (m.index + m[0].length > cut) cut = m.index;
    }
    return cut;
  }

  /** `value` with every string in it masked, at any depth (keys too); other values as they are. */
  maskDeep<T>(value: T): T {
    if (this.#values.size === 0) return value;
    const walk = (v: unknown, depth: number): unknown => {
      if (typeof v === 'string') return this.mask(v);
      if (depth > 64 || v === null || typeof v !== 'object') return v;
      if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
      if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) return v;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [this.mask(k), walk(x, depth + 1)]));
    };
    return walk(value, 0) as T;
  }
}
