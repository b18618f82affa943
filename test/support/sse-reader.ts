export interface SseEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** A real SSE client over fetch: parses events as they arrive and keeps comments. */
export class SseReader {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  status = 0;
  private readonly abort = new AbortController();
  private done?: Promise<void>;

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const reader = new SseReader();
    const res = await fetch(url, { headers, signal: reader.abort.signal });
    reader.status = res.status;
    if (res.status !== 200 || !res.body) {
      reader.body = await res.text();
      return reader;
    }
    reader.done = reader.consume(res.body).catch(() => undefined);
    return reader;
  }

  body = '';

  private async consume(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: Partial<SseEvent> & { lines: string[] } = { lines: [] };
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
          else if (line.startsWith('id: ')) event.id = line.slice(4);
          else if (line.startsWith('event: ')) event.event = line.slice(7);
          else if (line.startsWith('data: ')) event.lines.push(line.slice(6));
        }
        if (event.lines.length > 0) {
          this.events.push({
            id: event.id,
            event: event.event ?? 'message',
            data: JSON.parse(event.lines.join('\n')) as Record<string, unknown>,
          });
        }
      }
    }
  }

  /** The EventSource rule: the last id seen so far. */
  get lastEventId(): string | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      if (this.events[i].id !== undefined) return this.events[i].id;
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}
