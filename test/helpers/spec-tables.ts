// Reads the example tables of docs/PROTOCOL.md, so the spec's examples are the tests' vectors.

import { readFileSync } from 'node:fs';

const SPEC_PATH = new URL('../../docs/PROTOCOL.md', import.meta.url);

/** The body rows of the first table under the heading that starts with `heading`, cells unquoted. */
export function specTable(heading: string): string[][] {
  const lines = readFileSync(SPEC_PATH, 'utf8').split('\n');
  const start = lines.findIndex((line) => line.startsWith(heading));
  if (start === -1) throw new Error(`docs/PROTOCOL.md has no heading "${heading}"`);
  const rows: string[][] = [];
  let i = start + 1;
  while (i < lines.length && !lines[i]!.startsWith('|')) {
    if (lines[i]!.startsWith('#')) throw new Error(`no table under "${heading}"`);
    i++;
  }
  for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) rows.push(splitRow(lines[i]!));
  return rows;
}

/** Splits a Markdown table row on the bars that are not escaped as `\|`. */
function splitRow(line: string): string[] {
  const cells = line.slice(1, -1).split(/(?<!\\)\|/);
  return cells.map((cell) => cell.trim().replace(/^`([^`]*)`$/, '$1'));
}

/**
 * The bytes a cell stands for: C escapes `\n \r \t \\ \xHH \u{H}`, `\|` for a bar, and any
 * other character as its UTF-8.
 */
export function unescapeBytes(cell: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < cell.length; i++) {
    const char = cell[i]!;
    if (char !== '\\') {
      bytes.push(...Buffer.from(char, 'utf8'));
      continue;
    }
    const next = cell[++i];
    if (next === 'n') bytes.push(0x0a);
    else if (next === 'r') bytes.push(0x0d);
    else if (next === 't') bytes.push(0x09);
    else if (next === '\\' || next === '|') bytes.push(next.charCodeAt(0));
    else if (next === 'x') {
      bytes.push(Number.parseInt(cell.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (next === 'u') {
      const end = cell.indexOf('}', i);
      bytes.push(...Buffer.from(String.fromCodePoint(Number.parseInt(cell.slice(i + 2, end), 16)), 'utf8'));
      i = end;
    } else throw new Error(`unknown escape \\${next} in "${cell}"`);
  }
  return Buffer.from(bytes);
}

/** The text a cell stands for (same escapes, read as UTF-8). */
export function unescapeText(cell: string): string {
  return unescapeBytes(cell).toString('utf8');
}
