// The primary's side of one broadcast: the chat line's text (encodeChat), its bytes (encodeText,
// as server/bytes.ts does for every message that crosses to a worker), and the Dispatcher's
// flush of one turn to two workers. Fixtures are built outside the timed functions.

import { encodeChat } from '../../protocol/index.ts';
import { encodeText } from '../../server/bytes.ts';
import { Dispatcher, type DeliveryTarget } from '../../server/dispatcher.ts';
import { NOBODY } from '../../room/delivery.ts';
import { MAX_WORKERS, type DeliveryOp } from '../../server/messages.ts';
import { addBatched, consume, createBench, runAndReport, type OperationSize } from './harness.ts';

const ADDR = '127.0.0.1:52814';
const NAME = 'alice';
const TEXT_BYTES = 64;
// Several texts, so no call can reuse the string of the one before.
const TEXTS = Array.from({ length: 16 }, (_, i) => `#${i.toString().padStart(2, '0')} ${'lorem ipsum dolor sit amet, '.repeat(3)}`.slice(0, TEXT_BYTES));
for (const text of TEXTS) if (Buffer.byteLength(text) !== TEXT_BYTES) throw new Error(`fixture text is not ${TEXT_BYTES} B`);
const LINES = TEXTS.map((text) => encodeChat(ADDR, NAME, text));

/** Two running workers; `post` only keeps what it was given, as the brief for this bench asks. */
class StoringTarget implements DeliveryTarget {
  readonly posted: DeliveryOp[][] = [[], []];
  readonly #indexes = [0, 1] as const;
  post(workerIndex: number, ops: DeliveryOp[]): void {
    this.posted[workerIndex] = ops;
  }
  workerIndexes(): Iterable<number> {
    return this.#indexes;
  }
}

const bench = createBench('encode: broadcast lines -> bytes -> one deliver per worker');
const sizes: Record<string, OperationSize> = {};
const target = new StoringTarget();
const textMask = TEXTS.length - 1;

addBatched(bench, `encodeChat, ${TEXT_BYTES} B text`, {
  calls: 1000,
  call: (i) => consume(encodeChat(ADDR, NAME, TEXTS[i & textMask]!).length),
});
addBatched(bench, `encodeChat + encodeText (TextEncoder), ${TEXT_BYTES} B text`, {
  calls: 1000,
  call: (i) => consume(encodeText(encodeChat(ADDR, NAME, TEXTS[i & textMask]!)).byteLength),
});

/**
 * Flush of one turn holding `broadcasts` chat lines. Each sample flushes `calls` dispatchers that
 * prepare() filled beforehand, so only flush() is timed. Filling one schedules its own flush on
 * setImmediate; prepare first yields one turn so those (now empty) flushes run instead of piling up.
 */
function addFlushTask(broadcasts: number, except: number, calls: number): void {
  const dispatchers = Array.from({ length: calls }, () => {
    const dispatcher = new Dispatcher(target);
    // A client online on each worker: a broadcast goes only where someone is.
    dispatcher.admit(MAX_WORKERS);
    dispatcher.admit(MAX_WORKERS + 1);
    dispatcher.flush();
    return dispatcher;
  });
  const who = except === NOBODY ? 'to everyone' : 'each except its sender';
  const name = `Dispatcher.flush, ${broadcasts} broadcast(s) ${who}, 2 workers`;
  addBatched(bench, name, {
    calls,
    prepare: async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (const dispatcher of dispatchers) {
        for (let i = 0; i < broadcasts; i++) dispatcher.broadcast(LINES[i & textMask]!, except);
      }
    },
    call: (i) => {
      dispatchers[i]!.flush();
      consume(target.posted[0]!.length);
    },
  });
  sizes[name] = { items: { count: broadcasts, unit: 'broadcast' } };
}

addFlushTask(1, NOBODY, 500);
addFlushTask(10, NOBODY, 200);
addFlushTask(100, NOBODY, 50);
// Renames and time-outs skip one client, so consecutive ones are not merged into one buffer.
addFlushTask(100, 12_345 * 256, 50);

await runAndReport(bench, sizes);
