// Writer thread entry (store/history-store.ts starts it as new URL('./history-writer.ts',
// import.meta.url)): wires one BatchWriter to the store's port. Each 'write' is one transaction,
// answered 'written' or 'write-failed'; a failed batch never ends the thread, the next is tried.
// Runs in the history writer thread only; owns the only write connection to history.sqlite.

import { parentPort, workerData } from 'node:worker_threads';
import { BatchWriter } from './batch-writer.ts';
import { sqliteCodeName, sqliteReason } from './history-schema.ts';
import type { FromWriter, ToWriter, WriterSettings } from './messages.ts';

if (parentPort === null) throw new Error('store/history-writer.ts runs as a worker thread; open the store with openHistoryStore');
const port = parentPort;
const post = (message: FromWriter): void => port.postMessage(message);

function openWriter(): BatchWriter | null {
  try {
    return new BatchWriter(workerData as WriterSettings);
  } catch (error) {
    post({ type: 'open-failed', code: sqliteCodeName(error), reason: sqliteReason(error) });
    return null;
  }
}

function serve(writer: BatchWriter, message: ToWriter): void {
  switch (message.type) {
    case 'write': {
      const started = performance.now();
      try {
        writer.write(message.entries);
        post({ type: 'written', batch: message.batch, count: message.entries.length, durationMs: performance.now() - started });
      } catch (error) {
        post({ type: 'write-failed', batch: message.batch, count: message.entries.length, code: sqliteCodeName(error), reason: sqliteReason(error) });
      }
      return;
    }
    case 'close':
      writer.close();
      post({ type: 'closed' });
      port.close(); // nothing else holds the thread: it ends
      return;
  }
}

const writer = openWriter();
// Without a writer the port is closed and the thread ends; a message already posted still arrives.
if (writer === null) port.close();
else port.on('message', (message: ToWriter) => serve(writer, message));
