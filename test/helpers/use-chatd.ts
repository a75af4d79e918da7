// One chatd for a test file or describe block: started before its first test, every client
// disconnected after each test (so the next never sees a stale `login out`), stopped at the end.

import { afterAll, afterEach, beforeAll } from 'vitest';
import { disconnectAll } from './chat-client.ts';
import { startChatd, stopAllChatd, type ChatdProcess } from './start-server.ts';

/** Registers the hooks; the returned function gives the running server inside a test. */
export function useChatd(args: readonly string[] = []): () => ChatdProcess {
  let server: ChatdProcess | undefined;
  beforeAll(async () => {
    server = await startChatd(args);
  });
  afterEach(() => disconnectAll(server));
  afterAll(stopAllChatd);
  return () => {
    if (server === undefined) throw new Error('useChatd: the server has not started; use it inside a test');
    return server;
  };
}
