// The public surface of the protocol package: everything the server and the bench use.

export * from './constants.ts';
export * from './errors.ts';
export * from './commands.ts';
export { LineReader, type LineHandler } from './line-reader.ts';
export { sanitizeText } from './sanitize.ts';
export { parseLine } from './parse.ts';
export { checkName, isSameName, nameKeys, type NameKeys } from './names.ts';
export { formatAddress } from './address.ts';
export * from './encode.ts';
export { decodeLine, decodeText } from './decode.ts';
