// A Server-Sent Events client for the live suites: what EventSource does, over fetch.

/** One message of a stream. */
export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

/** An open stream: its messages as they come, and comments (heartbeats) counted. */
export interface SseStream {
  response: Response;
  messages: SseMessage[];
  comments: number;
  /** Resolves with the messages once `predicate` holds (or rejects after `timeoutMs`). */
  until(predicate: (messages: SseMessage[]) => boolean, timeoutMs?: number): Promise<SseMessage[]>;
  close(): void;
}

/** Opens `url` as an event stream (with `Last-Event-ID` when given); returns once the headers came. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const stream: SseStream = {
    response,
    messages: [],
    comments: 0,
    async until(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(stream.messages)) {
        if (Date.now() > deadline) {
          throw new Error(
            `the stream did not get there in ${timeoutMs} ms; it has ${JSON.stringify(stream.messages.map((m) => [m.id, m.event]))}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return stream.messages;
    },
    close: () => abort.abort(),
  };
  if (!response.ok || !response.body) return stream;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message: SseMessage = { id: undefined, event: 'message', data: '' };
          let data: string[] = [];
          let isComment = true;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            isComment = false;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') message.id = value;
            else if (field === 'event') message.event = value;
            else if (field === 'data') data.push(value);
          }
          if (isComment) stream.comments++;
          else if (data.length > 0) {
            message.data = data.join('\n');
            stream.messages.push(message);
          }
          data = [];
        }
      }
    } catch {
      // Closed.
    }
  })();
  return stream;
}
