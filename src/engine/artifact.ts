/**
 * One binary container for flows and checkpoints:
 *
 *   "PGART1\0\0" | u32 header length | header JSON (utf-8) | padding to 8 | blobs
 *
 * The header holds the caller's metadata plus a table of blobs
 * ({ name, dtype, shape, offset, byteLength }); blobs are little-endian
 * float32 or raw bytes, each starting at a multiple of 8.
 */
const MAGIC = 'PGART1\0\0';

export interface Blob32 {
  name: string;
  dtype: 'float32';
  shape: number[];
  data: Float32Array;
}
export interface BlobBytes {
  name: string;
  dtype: 'uint8';
  shape: number[];
  data: Uint8Array;
}
export type ArtifactBlob = Blob32 | BlobBytes;

interface Entry {
  name: string;
  dtype: 'float32' | 'uint8';
  shape: number[];
  offset: number;
  byteLength: number;
}

export function packArtifact(meta: Record<string, unknown>, blobs: ArtifactBlob[]): Uint8Array {
  const entries: Entry[] = [];
  let offset = 0;
  for (const b of blobs) {
    const byteLength = b.data.byteLength;
    entries.push({ name: b.name, dtype: b.dtype, shape: b.shape, offset, byteLength });
    offset += Math.ceil(byteLength / 8) * 8;
  }
  const header = new TextEncoder().encode(JSON.stringify({ meta, blobs: entries }));
  const start = Math.ceil((8 + 4 + header.byteLength) / 8) * 8;
  const out = new Uint8Array(start + offset);
  for (let i = 0; i < 8; i++) out[i] = MAGIC.charCodeAt(i);
  new DataView(out.buffer).setUint32(8, header.byteLength, true);
  out.set(header, 12);
  blobs.forEach((b, i) => {
    const bytes = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
    out.set(bytes, start + entries[i].offset);
  });
  return out;
}

export interface UnpackedArtifact {
  meta: Record<string, unknown>;
  float32(name: string): { shape: number[]; data: Float32Array };
  bytes(name: string): Uint8Array;
  has(name: string): boolean;
  names(): string[];
}

export function unpackArtifact(bytes: Uint8Array): UnpackedArtifact {
  if (bytes.byteLength < 12) throw new Error('not a PromptGen artifact (too short)');
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i)) throw new Error('not a PromptGen artifact (bad magic)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen))) as {
    meta: Record<string, unknown>;
    blobs: Entry[];
  };
  const start = Math.ceil((12 + hlen) / 8) * 8;
  const byName = new Map(header.blobs.map((e) => [e.name, e]));
  const get = (name: string, dtype: string): Entry => {
    const e = byName.get(name);
    if (!e) throw new Error(`artifact has no blob '${name}'`);
    if (e.dtype !== dtype) throw new Error(`artifact blob '${name}' is ${e.dtype}, not ${dtype}`);
    if (start + e.offset + e.byteLength > bytes.byteLength)
      throw new Error(`artifact blob '${name}' is truncated`);
    return e;
  };
  return {
    meta: header.meta,
    float32(name) {
      const e = get(name, 'float32');
      // Copy: the source may not be 4-byte aligned and callers may keep the array.
      const copy = new Uint8Array(e.byteLength);
      copy.set(bytes.subarray(start + e.offset, start + e.offset + e.byteLength));
      return { shape: e.shape, data: new Float32Array(copy.buffer) };
    },
    bytes(name) {
      const e = get(name, 'uint8');
      return bytes.slice(start + e.offset, start + e.offset + e.byteLength);
    },
    has: (name) => byName.has(name),
    names: () => header.blobs.map((e) => e.name),
  };
}
