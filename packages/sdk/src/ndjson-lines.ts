/** The lines of one chunk of a byte stream. */
export interface LineBatch {
  lines: string[];
  /** False only for the final fragment of a stream that ended without a newline after it. */
  terminated: boolean;
}

/**
 * Splits a byte stream into lines (UTF-8, `\n` or `\r\n`), decoding across chunk boundaries, and
 * yields the complete lines of each chunk read together (one string split per chunk, not a search
 * per line). A final fragment without its newline is yielded, as `terminated: false`, when the
 * stream ends normally, never when it breaks (the caller resumes from the last complete line).
 */
export async function* readLineBatches(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<LineBatch, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = pending + decoder.decode(value, { stream: true });
      const lines = text.split('\n');
      pending = lines.pop() as string;
      if (lines.length === 0) continue;
      if (text.includes('\r')) for (let i = 0; i < lines.length; i++) lines[i] = stripCr(lines[i] as string);
      yield { lines, terminated: true };
    }
    pending += decoder.decode();
    if (pending.length > 0) yield { lines: [stripCr(pending)], terminated: false };
  } finally {
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** Like readLineBatches, one line at a time. */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string, void, undefined> {
  for await (const batch of readLineBatches(body)) yield* batch.lines;
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
