// What a client line means once it is decoded and sanitized (PROTOCOL.md §3), and the table of
// commands that /help prints. Pure data and types, shared by the parser, the server and the docs.

import type { ProtocolError } from './errors.ts';

/** A client line, parsed. Every variant but `invalid` is carried out by the primary. */
export type Command =
  | { readonly type: 'empty' }
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'who' }
  | { readonly type: 'rename'; readonly name: string }
  | { readonly type: 'msg'; readonly to: string; readonly text: string }
  | { readonly type: 'quit' }
  | { readonly type: 'help' }
  | { readonly type: 'invalid'; readonly error: ProtocolError };

export interface SlashCommand {
  readonly name: string;
  readonly usage: string;
  readonly description: string;
}

/** The slash commands, in the order /help lists them. */
export const SLASH_COMMANDS: readonly SlashCommand[] = [
  { name: 'who', usage: '/who', description: 'list who is online (same as: who)' },
  { name: 'rename', usage: '/rename NEW', description: 'change your name (same as: rename|NEW)' },
  { name: 'msg', usage: '/msg NAME TEXT', description: 'send TEXT to NAME only' },
  { name: 'quit', usage: '/quit', description: 'leave the chat' },
  { name: 'help', usage: '/help', description: 'show this list' },
];
