// Client bytes -> lines -> commands: the LineReader on the chunk shapes a worker sees, and
// decodeLine (UTF-8, sanitize, parse) on the line shapes people type. Every fixture is built
// once, outside the timed functions (after ws bench/parser.benchmark.js).

import {
  decodeLine,
  DEFAULT_MAX_LINE_BYTES,
  LineReader,
  TELNET_IAC,
  TELNET_SB,
  TELNET_SE,
  TELNET_WILL,
  type LineHandler,
} from '../../protocol/index.ts';
import { addBatched, consume, createBench, runAndReport, type OperationSize } from './harness.ts';

const CHUNK_BYTES = 64 * 1024;
/** A telnet client's opening: IAC WILL NAWS, then IAC SB NAWS 80x24 IAC SE (RFC 1073). */
const TELNET_NAWS = 31;
const TELNET_OPENING = [TELNET_IAC, TELNET_WILL, TELNET_NAWS, TELNET_IAC, TELNET_SB, TELNET_NAWS, 0, 80, 0, 24, TELNET_IAC, TELNET_SE];

const CHAT_TEXTS = [
  'hi all',
  'anyone up for lunch at noon?',
  'the build is green again, thanks bob',
  'brb',
  'did you see the new release notes? the parser got faster',
  'ok',
  '¿qué tal? ça va, merci 🙂',
  'meeting moved to 3pm',
];

/** Chat lines joined with `eol` until exactly `bytes` bytes, after `prefix`; it ends on a line end. */
function chunkOfLines(eol: string, bytes: number, prefix: readonly number[] = []): Buffer {
  const parts: Buffer[] = [Buffer.from(prefix)];
  let length = prefix.length;
  for (let i = 0; ; i++) {
    const line = Buffer.from(`${CHAT_TEXTS[i % CHAT_TEXTS.length]!} #${i}${eol}`);
    if (length + line.length + eol.length + 1 > bytes) break;
    parts.push(line);
    length += line.length;
  }
  // Pad with one last line so the chunk is exactly `bytes` long and leaves nothing partial.
  parts.push(Buffer.from(`${'x'.repeat(bytes - length - eol.length)}${eol}`));
  const chunk = Buffer.concat(parts);
  if (chunk.length !== bytes) throw new Error(`fixture is ${chunk.length} bytes, not ${bytes}`);
  return chunk;
}

/** Counts what the reader reports; a handler that drops lines would let the engine skip work. */
class CountingHandler implements LineHandler {
  lines = 0;
  bytes = 0;
  onLine(line: Buffer): void {
    this.lines++;
    this.bytes += line.length;
  }
  onLineTooLong(): void {
    throw new Error('no fixture line is too long');
  }
  onDiscardedLineEnd(): void {
    throw new Error('no fixture line is too long');
  }
}

/** What Connection.onLine does with every line: decode it into a command. */
class DecodingHandler extends CountingHandler {
  texts = 0;
  override onLine(line: Buffer): void {
    super.onLine(line);
    if (decodeLine(line).type === 'text') this.texts++;
  }
}

const lfChunk = chunkOfLines('\n', CHUNK_BYTES);
const crlfChunk = chunkOfLines('\r\n', CHUNK_BYTES);
const telnetChunk = chunkOfLines('\r\n', CHUNK_BYTES, TELNET_OPENING);
const LONG_LINE_BYTES = 1024;
const SMALL_CHUNK_BYTES = 16;
const longLine = Buffer.from(`${'a long pasted paragraph, '.repeat(64).slice(0, LONG_LINE_BYTES - 1)}\n`);
const longLinePieces: Buffer[] = [];
for (let at = 0; at < longLine.length; at += SMALL_CHUNK_BYTES) longLinePieces.push(longLine.subarray(at, at + SMALL_CHUNK_BYTES));

const cleanLine = Buffer.from('anyone up for lunch at noon? the usual place');
// A telnet client ends every line in CR LF and the LineReader leaves the CR on the line (§2.1).
const cleanLineCr = Buffer.from('anyone up for lunch at noon? the usual place\r');
const escapeLine = Buffer.from('\x1b[1;31mALERT\x1b[0m deploy \x1b]8;;https://ci.example/42\x07log\x1b]8;;\x07 \x1b[2Kdone');
const renameLine = Buffer.from('rename|alice_42');

const bench = createBench('line-reader: chunks -> lines -> commands');
const sizes: Record<string, OperationSize> = {};
const DECODE_CALLS = 1000;

function addChunkTask(name: string, chunk: Buffer, handler: CountingHandler): void {
  const reader = new LineReader(DEFAULT_MAX_LINE_BYTES, handler);
  bench.add(name, () => reader.push(chunk), { async: false });
  sizes[name] = { bytes: chunk.length };
}

addChunkTask('push 64 KiB chunk, LF lines', lfChunk, new CountingHandler());
addChunkTask('push 64 KiB chunk, CRLF lines', crlfChunk, new CountingHandler());
addChunkTask('push 64 KiB chunk, CRLF + telnet IAC (slow path)', telnetChunk, new CountingHandler());
addChunkTask('push 64 KiB chunk, LF lines + decodeLine each', lfChunk, new DecodingHandler());
addChunkTask('push 64 KiB chunk, CRLF lines + decodeLine each', crlfChunk, new DecodingHandler());

const splitName = `push 1 KiB line in ${longLinePieces.length} chunks of ${SMALL_CHUNK_BYTES} B`;
const splitReader = new LineReader(DEFAULT_MAX_LINE_BYTES, new CountingHandler());
bench.add(
  splitName,
  () => {
    for (const piece of longLinePieces) splitReader.push(piece);
  },
  { async: false },
);
sizes[splitName] = { bytes: longLine.length };

for (const [name, line] of [
  ['decodeLine clean line (LF client)', cleanLine],
  ['decodeLine clean line + CR (telnet client)', cleanLineCr],
  ['decodeLine line with escape sequences', escapeLine],
  ['decodeLine rename|name', renameLine],
] as const) {
  addBatched(bench, name, { calls: DECODE_CALLS, call: () => consume(decodeLine(line).type.length) });
}

await runAndReport(bench, sizes);
console.log(`lines per 64 KiB chunk: LF ${countLines(lfChunk)}, CRLF ${countLines(crlfChunk)}`);

function countLines(chunk: Buffer): number {
  const handler = new CountingHandler();
  new LineReader(DEFAULT_MAX_LINE_BYTES, handler).push(chunk);
  return handler.lines;
}
