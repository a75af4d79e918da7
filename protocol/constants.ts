// Byte codes and protocol limits, each with the reason it has the value it has.
// Pure data: imported by the parser, the encoder, the server and the tests alike.

/** Line feed: ends a client line (PROTOCOL.md §2.1). */
export const LF = 0x0a;
/** Carriage return: ends a client line too, alone or as CR LF or CR NUL (§2.1, RFC 854). */
export const CR = 0x0d;
/** NUL: after a CR, the second half of telnet's line end in character mode (RFC 854). */
export const NUL = 0x00;

/** Every server line ends in CRLF, so a plain `telnet` shows it on a line of its own. */
export const SERVER_EOL = '\r\n';

// Telnet (RFC 854) command bytes. A telnet client may interleave these with the text at any
// time; chatd strips them and never answers a negotiation (refusing by silence is allowed).
export const TELNET_IAC = 0xff;
export const TELNET_SE = 0xf0;
export const TELNET_SB = 0xfa;
export const TELNET_WILL = 0xfb;
export const TELNET_DONT = 0xfe;

/** Default for --max-line: long enough for a pasted paragraph, short enough to bound memory per client. */
export const DEFAULT_MAX_LINE_BYTES = 4096;

/** A name is 1 to 32 characters: room for a real name, too short to flood a `who` listing. */
export const MAX_NAME_CHARS = 32;
