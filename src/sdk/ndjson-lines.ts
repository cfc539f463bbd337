/**
 * Splits a byte stream into lines (UTF-8, `\n` or `\r\n`), decoding across chunk boundaries.
 * Yields complete lines only: a final fragment without its newline is yielded when the stream ends
 * normally, never when it breaks (the caller resumes from the last complete line).
 */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let nl = pending.indexOf('\n');
      if (nl === -1) continue;
      let start = 0;
      while (nl !== -1) {
        const line = pending.slice(start, nl);
        yield line.endsWith('\r') ? line.slice(0, -1) : line;
        start = nl + 1;
        nl = pending.indexOf('\n', start);
      }
      pending = pending.slice(start);
    }
    pending += decoder.decode();
    if (pending.length > 0) yield pending.endsWith('\r') ? pending.slice(0, -1) : pending;
  } finally {
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
