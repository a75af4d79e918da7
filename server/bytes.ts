// Text -> bytes for messages that cross threads.

const encoder = new TextEncoder();

/**
 * UTF-8 bytes in an ArrayBuffer of their own. Not Buffer.from: a small Buffer is a view into
 * a shared 8 KiB pool, and postMessage would copy the whole pool with it.
 */
export function encodeText(text: string): Uint8Array {
  return encoder.encode(text);
}
