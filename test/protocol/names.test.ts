// The name profile of PROTOCOL.md §4, unit by unit: what is refused and why, what is stored, and
// when two names are the same name (#10 §3, §4). The wire can hide some of these characters
// (§2.3 removes controls and bidi controls first); checkName sees whatever reaches it.

import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkName, ERROR_CODES, isSameName, MAX_NAME_CHARS, nameKeys } from '../../protocol/index.ts';

const NAME_INVALID_MESSAGE =
  'a name may not contain white space, invisible, control or unassigned characters, [ ] : | or a look-alike of them, nor start with a combining mark';

/** The code checkName refuses a name with, or null when it takes it. */
function refusal(raw: string): string | null {
  const checked = checkName(raw);
  return 'error' in checked ? checked.error.code : null;
}

function stored(raw: string): string {
  const checked = checkName(raw);
  if ('error' in checked) throw new Error(`${JSON.stringify(raw)} was refused: ${checked.error.message}`);
  return checked.name;
}

/** `U+XXXX` for each code point, so a failing row says which invisible character it was. */
function codePoints(text: string): string {
  return [...text].map((char) => `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`).join(' ');
}

describe('checkName', () => {
  it('refuses an invalid name with CHAT_ERR_NAME_INVALID, a message that says why, and keeps the connection', () => {
    expect(checkName('al\u200bice')).toEqual({
      error: { code: ERROR_CODES.NAME_INVALID, message: NAME_INVALID_MESSAGE, fatal: false },
    });
  });

  it.each([
    ['a plain name', 'alice', 'alice'],
    ['capitals, kept as typed', 'Alice', 'Alice'],
    ['a decomposed accent, composed', 'e\u0301mile', '\u00e9mile'],
    ['fullwidth letters, narrowed (RFC 8266 width mapping)', '\uff41\uff4c\uff49\uff43\uff45', 'alice'],
    ['a ligature, spelled out', '\ufb01ona', 'fiona'],
    ['mathematical bold letters, plain', '\u{1d41a}\u{1d41b}', 'ab'],
    ['Hangul typed as conjoining jamo, composed into a syllable', '\u1112\u1161\u11ab', '\ud55c'],
    ['an emoji', '\u{1f600}', '\u{1f600}'],
    ['Cyrillic', '\u0430\u043d\u044f', '\u0430\u043d\u044f'],
    ['Greek with its final sigma', '\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03cd\u03c2', '\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03cd\u03c2'],
    ['Arabic', '\u0639\u0644\u064a', '\u0639\u0644\u064a'],
    ['Hebrew', '\u05d3\u05d5\u05d3', '\u05d3\u05d5\u05d3'],
    ['Devanagari with a vowel sign after its consonant', '\u0926\u0947\u0935\u0940', '\u0926\u0947\u0935\u0940'],
    ['Han', '\u674e\u5c0f\u9f8d', '\u674e\u5c0f\u9f8d'],
    ['parentheses, which are not brackets', 'bob(away)', 'bob(away)'],
    ['punctuation that delimits nothing', 'o\u2019brien-smith_2.0', 'o\u2019brien-smith_2.0'],
    ['ß, kept (it only folds for comparison)', 'stra\u00dfe', 'stra\u00dfe'],
  ])('takes %s and stores it in NFKC', (_why, raw, name) => {
    expect(stored(raw)).toBe(name);
  });

  it('stores a fixed point: checking a stored name again gives the same name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 12 }), (raw) => {
        const checked = checkName(raw);
        if ('error' in checked) return;
        expect(checkName(checked.name)).toEqual({ name: checked.name });
      }),
      { numRuns: 2000 },
    );
  });

  describe('refuses look-alikes of the characters that delimit [ADDR]NAME: and rename|', () => {
    it.each([
      ['U+A789 MODIFIER LETTER COLON, an address look-alike', '127.0.0.1\ua78938598'],
      ['U+2236 RATIO, an address look-alike', '127.0.0.1\u223638598'],
      ['U+FF1A FULLWIDTH COLON', '127.0.0.1\uff1a38598'],
      ['U+FE55 SMALL COLON', 'a\ufe55b'],
      ['U+FE13 PRESENTATION FORM FOR VERTICAL COLON', 'a\ufe13b'],
      ['U+02D0 MODIFIER LETTER TRIANGULAR COLON', 'a\u02d0b'],
      ['U+0589 ARMENIAN FULL STOP', 'a\u0589b'],
      ['U+0903 DEVANAGARI SIGN VISARGA', '\u0926\u0941\u0903\u0916'],
      ['U+205A TWO DOT PUNCTUATION', 'a\u205ab'],
      ['U+1365 ETHIOPIC COLON', 'a\u1365b'],
      ['U+2237 PROPORTION', 'a\u2237b'],
      ['U+2982 Z NOTATION TYPE COLON', 'a\u2982b'],
      ['U+FF3B and U+FF3D FULLWIDTH SQUARE BRACKETS', '\uff3b127.0.0.1\uff1a1\uff3dbob'],
      ['U+FE47 PRESENTATION FORM FOR VERTICAL LEFT SQUARE BRACKET', '\ufe47bob'],
      ['U+27E6 MATHEMATICAL LEFT WHITE SQUARE BRACKET', '\u27e6bob'],
      ['U+2045 LEFT SQUARE BRACKET WITH QUILL', '\u2045bob'],
      ['U+23A6 RIGHT SQUARE BRACKET LOWER CORNER', 'bob\u23a6'],
      ['U+298B LEFT SQUARE BRACKET WITH UNDERBAR', '\u298bbob'],
      ['U+301A LEFT WHITE SQUARE BRACKET', '\u301abob'],
      ['U+2308 LEFT CEILING', '\u2308bob'],
      ['U+FF5C FULLWIDTH VERTICAL LINE', 'a\uff5cb'],
      ['U+2223 DIVIDES', 'a\u2223b'],
      ['U+00A6 BROKEN BAR', 'a\u00a6b'],
      ['U+01C0 LATIN LETTER DENTAL CLICK', 'a\u01c0b'],
      ['U+05C0 HEBREW PUNCTUATION PASEQ', 'a\u05c0b'],
      ['U+2502 BOX DRAWINGS LIGHT VERTICAL', 'a\u2502b'],
      ['U+FFE8 HALFWIDTH FORMS LIGHT VERTICAL', 'a\uffe8b'],
      ['U+2758 LIGHT VERTICAL BAR', 'a\u2758b'],
      ['the ASCII [', '[bob'],
      ['the ASCII ]', 'bob]'],
      ['the ASCII :', 'a:b'],
      ['the ASCII |', 'a|b'],
    ])('%s', (_why, raw) => {
      expect(refusal(raw), codePoints(raw)).toBe(ERROR_CODES.NAME_INVALID);
    });

    // The data, not a hand list, decides what looks like ':' (#10 §3): every character that
    // confusables.txt (as unhomoglyph ships it) maps to a prototype with a colon is refused.
    const confusables = createRequire(import.meta.url)('unhomoglyph/data.json') as Record<string, string>;
    const colonLike = Object.keys(confusables).filter((char) => confusables[char]!.includes(':'));
    const barLike = Object.keys(confusables).filter(
      (char) => /^l+$/.test(confusables[char]!) && !/[\p{L}\p{N}]/u.test(char.normalize('NFKC')),
    );

    it('finds the look-alikes of : and | in the confusables data', () => {
      expect(colonLike.length).toBeGreaterThanOrEqual(15);
      expect(barLike).toContain('\u2223');
    });

    // A name is checked in NFKC, the form it is shown in: a character that NFKC turns into one
    // that does not look like a colon (U+FE30 into two full stops) may stay, as that.
    it.each(colonLike.map((char) => [codePoints(char), char]))('refuses %s, which confusables.txt maps to a colon', (_code, char) => {
      const checked = checkName(`a${char}b`);
      if ('name' in checked) {
        expect(checked.name).not.toContain(char);
        for (const shown of checked.name.normalize('NFD')) expect(confusables[shown] ?? shown).not.toContain(':');
      } else {
        expect(checked.error.code).toBe(ERROR_CODES.NAME_INVALID);
      }
    });

    it('stores U+FE30 as the two full stops NFKC makes of it, which do not look like a colon', () => {
      expect(stored('a\ufe30b')).toBe('a..b');
    });

    it.each(barLike.map((char) => [codePoints(char), char]))('refuses %s, a bar that confusables.txt maps to l', (_code, char) => {
      expect(refusal(`a${char}b`)).toBe(ERROR_CODES.NAME_INVALID);
    });
  });

  describe('refuses invisible and empty-looking names, and invisible characters inside a name', () => {
    const INVISIBLE: readonly (readonly [string, string])[] = [
      ['U+200B ZERO WIDTH SPACE', '\u200b'],
      ['U+200C ZERO WIDTH NON-JOINER', '\u200c'],
      ['U+200D ZERO WIDTH JOINER', '\u200d'],
      ['U+2060 WORD JOINER', '\u2060'],
      ['U+FEFF ZERO WIDTH NO-BREAK SPACE', '\ufeff'],
      ['U+034F COMBINING GRAPHEME JOINER', '\u034f'],
      ['U+FE0F VARIATION SELECTOR-16', '\ufe0f'],
      ['U+E0100 VARIATION SELECTOR-17', '\u{e0100}'],
      ['U+E0061 TAG LATIN SMALL LETTER A', '\u{e0061}'],
      ['U+E0001 LANGUAGE TAG', '\u{e0001}'],
      ['U+180E MONGOLIAN VOWEL SEPARATOR', '\u180e'],
      ['U+180B MONGOLIAN FREE VARIATION SELECTOR ONE', '\u180b'],
      ['U+3164 HANGUL FILLER', '\u3164'],
      ['U+115F HANGUL CHOSEONG FILLER', '\u115f'],
      ['U+FFA0 HALFWIDTH HANGUL FILLER', '\uffa0'],
      ['U+2800 BRAILLE PATTERN BLANK', '\u2800'],
      ['U+00AD SOFT HYPHEN', '\u00ad'],
      ['U+2061 FUNCTION APPLICATION', '\u2061'],
      ['U+FFF9 INTERLINEAR ANNOTATION ANCHOR', '\ufff9'],
      ['U+061C ARABIC LETTER MARK', '\u061c'],
      ['U+202E RIGHT-TO-LEFT OVERRIDE', '\u202e'],
      ['U+2066 LEFT-TO-RIGHT ISOLATE', '\u2066'],
      ['U+2028 LINE SEPARATOR', '\u2028'],
      ['U+00A0 NO-BREAK SPACE', '\u00a0'],
      ['U+3000 IDEOGRAPHIC SPACE', '\u3000'],
      ['U+1680 OGHAM SPACE MARK', '\u1680'],
      ['U+0007 BELL', '\u0007'],
      ['U+0085 NEXT LINE', '\u0085'],
    ];

    it.each(INVISIBLE)('refuses %s as the whole name', (_why, char) => {
      expect(refusal(char)).toBe(ERROR_CODES.NAME_INVALID);
    });

    it.each(INVISIBLE)('refuses %s inside a name (a\u2026lice beside alice)', (_why, char) => {
      expect(refusal(`a${char}lice`)).toBe(ERROR_CODES.NAME_INVALID);
    });

    it.each([
      ['a lone combining mark', '\u0301'],
      ['a name that starts with a combining mark', '\u0301alice'],
      ['a name that starts with an enclosing mark', '\u20ddalice'],
      ['a name that starts with a spacing mark', '\u0903a'],
      ['an unassigned code point', 'a\u0378b'],
      ['a noncharacter', 'a\uffffb'],
      ['a private-use character', 'a\ue000b'],
      ['a lone surrogate', 'a\ud800b'],
      ['a conjoining jamo NFKC cannot compose', 'a\u1100'],
      ['the Arabic tatweel, which stretches a word without changing it', '\u0639\u0640\u0644\u064a'],
    ])('refuses %s', (_why, raw) => {
      expect(refusal(raw), codePoints(raw)).toBe(ERROR_CODES.NAME_INVALID);
    });

    it('still takes a combining mark after a letter', () => {
      expect(stored('a\u0308b')).toBe('\u00e4b');
    });
  });

  it.each([
    ['nothing', '', ERROR_CODES.NAME_EMPTY],
    [`${MAX_NAME_CHARS + 1} letters`, 'a'.repeat(MAX_NAME_CHARS + 1), ERROR_CODES.NAME_TOO_LONG],
    ['a character NFKC spells out past the limit', `${'a'.repeat(MAX_NAME_CHARS - 1)}\ufb03`, ERROR_CODES.NAME_TOO_LONG],
  ])('refuses %s with its own code', (_why, raw, code) => {
    expect(refusal(raw)).toBe(code);
  });

  it(`takes ${MAX_NAME_CHARS} characters counted after NFKC`, () => {
    expect(stored(`${'a'.repeat(MAX_NAME_CHARS - 1)}e\u0301`)).toHaveLength(MAX_NAME_CHARS);
  });
});

describe('nameKeys and isSameName', () => {
  it.each([
    ['case', 'Bob', 'bob'],
    ['full case folding: ß is ss', 'stra\u00dfe', 'STRASSE'],
    ['full case folding: capital ẞ is ss', '\u1e9e', 'ss'],
    ['final sigma', '\u03c3\u03bf\u03c6\u03bf\u03c2', '\u03a3\u039f\u03a6\u039f\u03a3'],
    ['Cherokee, which folds to capitals', '\uab70', '\u13a0'],
    ['a title-case digraph', '\u01c5', '\u01c6'],
    ['NFC and NFD', '\u00e9mile', 'e\u0301mile'],
    ['fullwidth and ASCII', '\uff22\uff2f\uff22', 'bob'],
    ['Cyrillic а and Latin a', '\u0430lice', 'alice'],
    ['Cyrillic and Latin, every letter', '\u0455\u0441\u043e\u0440\u0435', 'scope'],
    ['Greek omicron and Latin o', 'b\u03bfb', 'bob'],
    ['zero and O', 'b0b', 'BOB'],
    ['one and l', 'a1ice', 'alice'],
    ['a dotless i and i', '\u0131ris', 'iris'],
    ['rn and m', 'rnartin', 'martin'],
    ['a mathematical letter and its plain one', '\u{1d41a}lice', 'alice'],
    // #10 §3 as ergo does it: the skeleton of the name as typed, so a capital I is an l.
    ['a capital I and l', 'Iris', 'lris'],
    ['a capital I and l, the other way round', 'lRIS', 'IRIS'],
  ])('takes for the same name two that differ only in %s', (_why, first, second) => {
    expect(isSameName(first, second)).toBe(true);
    expect(isSameName(second, first)).toBe(true);
  });

  it('needs both keys: IRIS and iris share only the folded one, Iris and lris only the skeleton', () => {
    expect(nameKeys('IRIS').folded).toBe(nameKeys('iris').folded);
    expect(nameKeys('IRIS').skeleton).not.toBe(nameKeys('iris').skeleton);
    expect(nameKeys('Iris').skeleton).toBe(nameKeys('lris').skeleton);
    expect(nameKeys('Iris').folded).not.toBe(nameKeys('lris').folded);
  });

  it.each([
    ['different names', 'alice', 'bob'],
    ['an accent', '\u00e9mile', 'emile'],
    ['an umlaut', 'm\u00fcller', 'muller'],
    ['a capital I with a dot (Turkic folding is not used)', '\u0130ris', 'Iris'],
  ])('tells apart %s', (_why, first, second) => {
    expect(isSameName(first, second)).toBe(false);
  });

  // cluster/scripts.ts keys an address-name with Lua's string.lower when it falls back to it
  // (the `claim` function): the keys must agree, or an address would be claimable twice.
  it.each(['127.0.0.1:40512', '[::1]:40512', '[FE80::1%ETH0]:40512', '10.0.0.1:40512~2', '[::ffff:a]:1~10'])(
    'keys the address-name %s by its ASCII lower case, as the cluster script does',
    (addr) => {
      const lower = addr.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
      expect(nameKeys(addr)).toEqual({ folded: lower, skeleton: lower });
    },
  );

  it('finds an address typed in fullwidth forms', () => {
    expect(nameKeys('\uff11\uff10.0.0.1\uff1a\uff14\uff10')).toEqual(nameKeys('10.0.0.1:40'));
  });

  it('never gives a chosen name the key of an address: no valid name has a colon in its key', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 12 }), (raw) => {
        const checked = checkName(raw);
        if ('name' in checked) expect(Object.values(nameKeys(checked.name)).join('')).not.toContain(':');
      }),
      { numRuns: 2000 },
    );
  });

  it('keys a name however it was typed: the key of a stored name is the key of what was typed', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 12 }), (raw) => {
        const checked = checkName(raw);
        if ('name' in checked) expect(nameKeys(raw)).toEqual(nameKeys(checked.name));
      }),
      { numRuns: 2000 },
    );
  });
});
