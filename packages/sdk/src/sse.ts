/** One Server-Sent Event: its `event:` name (default `message`), `data:` lines joined by `\n`, and `id:`. */
export interface SseMessage {
  event: string;
  data: string;
  id: string | undefined;
}

const EOL = /\r\n|\r|\n/g;

/**
 * Reads Server-Sent Events from a response body, as the HTML spec's event-stream format:
 * lines end in LF, CR or CRLF; a blank line ends an event; lines starting with `:` are
 * comments (keep-alives) and are skipped; an event without data is not dispatched; an
 * unfinished event at the end of the stream is dropped. Cancels the body when the caller
 * stops early.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let buf = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let finished = false;
  try {
    for (;;) {
      const chunk = await reader.read();
      finished = chunk.done;
      buf += chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      let pos = 0;
      EOL.lastIndex = 0;
      for (let m = EOL.exec(buf); m; m = EOL.exec(buf)) {
        // A CR at the very end may be the first half of a CRLF split across chunks.
        if (m[0] === '\r' && m.index === buf.length - 1 && !finished) break;
        const line = buf.slice(pos, m.index);
        pos = m.index + m[0].length;
        if (line === '') {
          if (data.length) yield { event: event || 'message', data: data.join('\n'), id };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id' && !value.includes('\0')) id = value;
        // `retry:` and unknown fields are ignored.
      }
      buf = buf.slice(pos);
      if (finished) return;
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
