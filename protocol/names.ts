// The rules for names (PROTOCOL.md §4): what a valid name is, and when two names are the same.
// Pure; the worker checks a name when it parses a rename, the primary (or Redis, in a cluster)
// checks uniqueness by the key. A nickname profile after RFC 8265/8266 (PRECIS) with a UTS #39
// confusables skeleton for uniqueness, as ergo does (#10 §3, §4).

import { caseFold } from 'unicode-case-folding';
import unhomoglyph from 'unhomoglyph';
import { MAX_NAME_CHARS } from './constants.ts';
import { nameEmpty, nameInvalid, nameTooLong, type ProtocolError } from './errors.ts';

// §4 rule 2: what no name may contain, checked on the NFKC form (so `：`, `［` and `｜` are the
// ASCII ones by then). Each line gives its reason:
const FORBIDDEN = new RegExp(
  `[${[
    // White space, controls, format characters (bidi controls, zero-width space and joiners, word
    // joiner, soft hyphen, tags, Mongolian vowel separator), line and paragraph separators.
    String.raw`\p{White_Space}\p{Cc}\p{Cf}\p{Zl}\p{Zp}`,
    // Invisible by definition: combining grapheme joiner, variation selectors, Hangul fillers...
    // (RFC 8264 §9.13 disallows Default_Ignorable_Code_Point).
    String.raw`\p{Default_Ignorable_Code_Point}`,
    // Unassigned (and noncharacters, which are Cn), private use, lone surrogates: no one can tell
    // what they look like (RFC 8264 §9.12 and §8, "Else DISALLOWED").
    String.raw`\p{Cn}\p{Co}\p{Cs}`,
    // The braille blank: a symbol, not ignorable, but shown as nothing.
    String.raw`\u2800`,
    // Conjoining Hangul jamo that NFKC did not compose into a syllable (RFC 8264 §9.9, OldHangulJamo).
    String.raw`\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff`,
    // RFC 5892 §2.6 exceptions that PRECIS disallows: the Arabic tatweel (stretches a word without
    // changing it), the NKo lajanyalan, the Hangul tone marks and the vertical kana repeat marks.
    String.raw`\u0640\u07fa\u302e\u302f\u3031-\u3035\u303b`,
    // The characters that delimit `[ADDR]NAME:` and `rename|`.
    String.raw`\[\]:|`,
    // Look-alikes of [ and ]: ⁅⁆ ⌈⌉⌊⌋ ⎡⎢⎣⎤⎥⎦ ⟦⟧ ⦋⦌⦍⦎⦏⦐ ⹕⹖⹗⹘ 〚〛. (confusables.txt maps none of them
    // to a bracket, so they are listed by hand from their Unicode names.)
    String.raw`\u2045\u2046\u2308-\u230b\u23a1-\u23a6\u27e6\u27e7\u298b-\u2990\u2e55-\u2e58\u301a\u301b`,
    // Look-alikes of | (confusables.txt folds | into l, so its class holds letters; these are the
    // bars themselves): ¦ ǀ ǁ ׀ ‖ ∣ ∥ ⎜ ⎟ ⎪ ⎸ ⎹ ⏐ ⏽ │ ┃ ┆ ┇ ┊ ┋ ╎ ╏ ║ ❘ ❙ ❚ ⸠ ⸡ ⫾ ⫿ ￨.
    String.raw`\u00a6\u01c0\u01c1\u05c0\u2016\u2223\u2225\u239c\u239f\u23aa\u23b8\u23b9\u23d0\u23fd`,
    String.raw`\u2502\u2503\u2506\u2507\u250a\u250b\u254e\u254f\u2551\u2758-\u275a\u2e20\u2e21\u2afe\u2aff\uffe8`,
    // Look-alikes of : that confusables.txt does not map to it (those it does are caught by the
    // skeleton below): Syriac, Ethiopic, Mongolian, Bamum and cuneiform colons, ∷ ≔ ≕ ⦂ ⫶.
    String.raw`\u0705-\u0709\u1365\u1366\u1804\ua6f4\u{12471}\u{12472}\u2237\u2254\u2255\u2982\u2af6`,
  ]
    .join('')}]`,
  'u',
);

// RFC 5891 §4.2.3.2, as the issue asks of PRECIS: a mark has nothing to combine with at the start.
const LEADING_MARK = /^\p{M}/u;

/** Returns the name as stored and shown (NFKC), or the error that says why it is refused. */
export function checkName(raw: string): { readonly name: string } | { readonly error: ProtocolError } {
  // RFC 8266 §2.2: the enforced form of a nickname is NFKC, which also maps fullwidth forms to ASCII.
  const name = raw.normalize('NFKC');
  if (name.length === 0) return { error: nameEmpty() };
  if (FORBIDDEN.test(name) || LEADING_MARK.test(name)) return { error: nameInvalid() };
  // Any character that UTS #39 holds confusable with ':' (꞉ U+A789, ∶ U+2236, ː, the visarga...):
  // the name has no ':' of its own by now, so a ':' in its skeleton came from a look-alike.
  if (skeleton(name).includes(':')) return { error: nameInvalid() };
  // Characters are code points: an emoji counts as one, as a person would count it.
  let chars = 0;
  for (const _ of name) if (++chars > MAX_NAME_CHARS) return { error: nameTooLong() };
  return { name };
}

/**
 * What makes two names the same name (§4 rule 6): they are when either key is equal. Two keys,
 * as ergo keeps them, because neither alone catches every collision a reader would see:
 * - `folded`: the name case-folded (`STRASSE` = `straße`, `IRIS` = `iris`);
 * - `skeleton`: the UTS #39 skeleton of the name as typed, then folded (`аlice` = `alice`,
 *   `b0b` = `bob`, and `Iris` = `lris`, since a capital I is taken for an l before folding).
 * A skeleton of the folded name would miss `Iris`/`lris`; a skeleton alone would miss `IRIS`/`iris`.
 */
export interface NameKeys {
  readonly folded: string;
  readonly skeleton: string;
}

/**
 * The keys of a name. They apply the whole normalization themselves, so a name looked up as the
 * user typed it (`/msg e\u0301mile`) finds the holder (#10 §4).
 */
export function nameKeys(name: string): NameKeys {
  const normal = name.normalize('NFKC');
  // An address-name (PROTOCOL.md §2.4, and `ADDR~2` in a cluster) holds a ':', which no chosen
  // name can. It is ASCII, and cluster/scripts.ts keys it with Lua's string.lower when it falls
  // back to it, so both its keys are its lower case, as Lua's; and no chosen name's key can
  // equal it, since no chosen name's skeleton holds a ':'.
  if (normal.includes(':')) {
    const lower = normal.toLowerCase();
    return { folded: lower, skeleton: lower };
  }
  // Folded again after the skeleton: some prototypes are capitals (`0` → `O`).
  return { folded: caseFold(normal), skeleton: caseFold(skeleton(normal)) };
}

/** Whether two names are the same name: one may not be held while the other is (§4 rule 6). */
export function isSameName(first: string, second: string): boolean {
  const a = nameKeys(first);
  const b = nameKeys(second);
  return a.folded === b.folded || a.skeleton === b.skeleton;
}

/** UTS #39 §4: skeleton(X) = NFD(each character of NFD(X) replaced by its prototype). */
function skeleton(text: string): string {
  return unhomoglyph(text.normalize('NFD')).normalize('NFD');
}
