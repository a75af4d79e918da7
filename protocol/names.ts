// The rules for names (PROTOCOL.md §4): what a valid name is, and when two names are the same.
// Pure; the worker checks syntax when it parses a rename, the primary checks uniqueness.

import { MAX_NAME_CHARS } from './constants.ts';
import { nameEmpty, nameInvalid, nameTooLong, type ProtocolError } from './errors.ts';

// White space (any Unicode White_Space), controls (Cc), bidi controls, and the characters that
// delimit the `[ADDR]NAME:` prefix or the rename command: a name may not forge either.
const FORBIDDEN = /[\s\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069[\]:|]/u;

/** Returns the name as stored (NFC), or the error that says why it is refused. */
export function checkName(raw: string): { readonly name: string } | { readonly error: ProtocolError } {
  const name = raw.normalize('NFC');
  if (name.length === 0) return { error: nameEmpty() };
  if (FORBIDDEN.test(name)) return { error: nameInvalid() };
  // Characters are code points: an emoji counts as one, as a person would count it.
  let chars = 0;
  for (const _ of name) if (++chars > MAX_NAME_CHARS) return { error: nameTooLong() };
  return { name };
}

/** Two names are the same name when their keys are equal: case is ignored. */
export function nameKey(name: string): string {
  return name.toLowerCase();
}
