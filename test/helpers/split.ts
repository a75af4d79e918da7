// Cutting a byte stream into chunks, as TCP may: the framing tests and the fuzz run share it.

/** Cuts `bytes` at `points` (any order; duplicates and points outside 0..length ignored; 0 or length give an empty chunk). */
export function splitAt<T extends Uint8Array>(bytes: T, points: readonly number[]): T[] {
  const cuts = [...new Set(points)].filter((point) => point >= 0 && point <= bytes.length).sort((a, b) => a - b);
  const chunks: T[] = [];
  let start = 0;
  for (const point of cuts) {
    chunks.push(bytes.subarray(start, point) as T);
    start = point;
  }
  chunks.push(bytes.subarray(start) as T);
  return chunks;
}
