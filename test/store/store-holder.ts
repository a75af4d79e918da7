// A process that holds a history store until the test kills it with SIGKILL
// (test/store/history-store.test.ts). It prints each step on stdout with a synchronous write,
// so that a line the test has read was true before the kill.
//
//   node store-holder.ts queued DIR WRITTEN QUEUED
//     appends WRITTEN entries, waits until the writer has them, appends QUEUED more, prints
//     "ready", then blocks its event loop for ever: the QUEUED ones can never be posted.
//   node store-holder.ts stream DIR
//     appends entries without end and prints "written N" each time the writer's count grows.

import { writeSync } from 'node:fs';
import type { HistoryEntry } from '../../room/history.ts';
import { openHistoryStore } from '../../store/history-store.ts';

const [mode, dir, writtenArgument, queuedArgument] = process.argv.slice(2);
if (dir === undefined || (mode !== 'queued' && mode !== 'stream')) {
  throw new Error('usage: node store-holder.ts queued DIR WRITTEN QUEUED | stream DIR');
}
const say = (line: string): void => {
  writeSync(1, `${line}\n`);
};
const entry = (position: number): HistoryEntry => ({
  position,
  time: 1_764_638_400_000 + position,
  kind: 'chat',
  addr: '127.0.0.1:40512',
  name: 'alice',
  text: `line ${position}`,
});

const { store } = openHistoryStore({
  dir,
  capacity: 100_000,
  onWriteFailure: (failure) => say(`failure ${failure.message}`),
});

async function waitForWritten(count: number): Promise<void> {
  while (store.counters.writtenEntries < count) await new Promise((resolve) => setTimeout(resolve, 2));
}

if (mode === 'queued') {
  const written = Number(writtenArgument);
  const queued = Number(queuedArgument);
  for (let position = 1; position <= written; position++) store.append(entry(position));
  await waitForWritten(written);
  for (let position = written + 1; position <= written + queued; position++) store.append(entry(position));
  say('ready');
  // The flush timer of the entries just queued can never fire: a kill finds them in the queue.
  for (;;);
} else {
  let position = 0;
  let reported = 0;
  const appendSome = (): void => {
    for (let i = 0; i < 20; i++) store.append(entry(++position));
    const written = store.counters.writtenEntries;
    if (written > reported) {
      reported = written;
      say(`written ${written}`);
    }
    setTimeout(appendSome, 1);
  };
  say('ready');
  appendSome();
}
