// Reads a Server-Sent Events stream from a web ReadableStream: a fetch body, or the one HeraldClient.stream returns (the CLI's `listen`, and tests).

export interface SseMessage {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: string;
}

/** Parses one block (the lines between blank lines); undefined for comment-only blocks. */
export function parseSseBlock(block: string): SseMessage | undefined {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  let any = false;
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
    else continue;
    any = true;
  }
  return any && data.length > 0 ? { event, id, data: data.join('\n') } : undefined;
}

/** Yields each event of the stream until it ends (or the request is aborted). */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (let end = blockEnd(buffer); end !== undefined; end = blockEnd(buffer)) {
        const message = parseSseBlock(buffer.slice(0, end.at));
        buffer = buffer.slice(end.at + end.length);
        if (message) yield message;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function blockEnd(buffer: string): { at: number; length: number } | undefined {
  const m = /\r\n\r\n|\n\n|\r\r/.exec(buffer);
  return m ? { at: m.index, length: m[0].length } : undefined;
}
