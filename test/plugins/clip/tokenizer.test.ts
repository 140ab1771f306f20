/**
 * CLIP's BPE tokenizer (plugins/clip/src/tokenizer.ts) against ids derived by hand.
 *
 * The test vocabulary (VOCAB below) has 5 merges. The token ids follow from the
 * vocabulary construction of CLIP's simple_tokenizer.py:
 *   - ids 0..255: the byte tokens in bytes_to_unicode() order. Bytes '!'..'~' (0x21..0x7e)
 *     come first, so a printable ASCII character c has id  ord(c) − 33:
 *       '!' 0, '"' 1, '&' 5, "'" 6, '2' 17, '4' 19, 'd' 67, 'e' 68, 'h' 71, 'i' 72,
 *       'l' 75, 'o' 78, 'r' 81, 's' 82, 'w' 86.
 *     Then '¡'..'¬' (0xa1..0xac) → ids 94..105, then '®'..'ÿ' (0xae..0xff) → ids 106..187,
 *     then the 68 remaining bytes (0x00..0x20, 0x7f..0xa0, 0xad) → ids 188..255.
 *   - ids 256..511: the same 256 tokens + '</w>' (end of word): id = 256 + byte id,
 *       '!</w>' 256, '"</w>' 257, '&</w>' 261, '2</w>' 273, '4</w>' 275, 'd</w>' 323,
 *       'i</w>' 328, 'l</w>' 331, 'o</w>' 334, 's</w>' 338.
 *   - ids 512..: one per merge, in file order (rank r → id 512 + r):
 *       rank 0 "h e" → 'he' 512, rank 1 "l l" → 'll' 513, rank 2 "l o</w>" → 'lo</w>' 514,
 *       rank 3 "he ll" → 'hell' 515, rank 4 "hell o</w>" → 'hello</w>' 516.
 *   - then '<|startoftext|>' 517 and '<|endoftext|>' 518 (vocabulary size 519).
 */
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import type { AddressInfo } from 'net';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tok = require('../../../plugins/clip/src/tokenizer');

const VOCAB = ['#version: 0.2', 'h e', 'l l', 'l o</w>', 'he ll', 'hell o</w>', ''].join('\n');
const SOT = 517;
const EOT = 518;

let dir: string;
let t: any;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptgen-clip-tok-'));
  fs.writeFileSync(path.join(dir, 'vocab.txt'), VOCAB);
  fs.writeFileSync(path.join(dir, 'vocab.txt.gz'), zlib.gzipSync(Buffer.from(VOCAB)));
  t = new tok.ClipTokenizer(VOCAB);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The 77-long row CLIP's tokenize() returns: [sot, ...ids, eot, 0, 0, ...]. */
const row = (ids: number[]) => {
  const r = new Int32Array(77);
  r.set([SOT, ...ids, EOT]);
  return r;
};

test('byte-to-unicode table: 256 entries, printable Latin-1 to itself, the rest from U+0100 in byte order', () => {
  const m: Map<number, string> = tok.bytesToUnicode();
  expect(m.size).toBe(256);
  const order = [...m.keys()];
  expect(order.slice(0, 3)).toEqual([0x21, 0x22, 0x23]); // '!' '"' '#': ids 0, 1, 2
  expect(order[93]).toBe(0x7e); // '~' → id 93
  expect(order[94]).toBe(0xa1); // '¡' → id 94
  expect(order[106]).toBe(0xae); // '®' → id 106
  expect(order[188]).toBe(0x00); // first unprintable byte → id 188, character U+0100
  expect(m.get(0x00)).toBe('\u0100');
  expect(m.get(0x20)).toBe('\u0120'); // space is the 33rd unprintable byte: 'Ġ'
  expect(m.get(0xad)).toBe('\u0143'); // the last one (soft hyphen): U+0100 + 67
  expect(m.get(0x68)).toBe('h');
  expect(new Set(m.values()).size).toBe(256);
});

test('vocabulary construction: 256 bytes, 256 bytes+</w>, merges, then the two special tokens', () => {
  expect(t.vocabSize).toBe(519);
  expect(t.mergeCount).toBe(5);
  expect(t.sotToken).toBe(SOT);
  expect(t.eotToken).toBe(EOT);
  expect(t.encoder.get('h')).toBe(71); // ord('h') − 33
  expect(t.encoder.get('o</w>')).toBe(334); // 256 + 78
  expect(t.encoder.get('hello</w>')).toBe(516); // rank 4 → 512 + 4
});

test('BPE applies merges by rank: "hello" → he, ll, hell, hello</w>', () => {
  // ('h','e','l','l','o</w>'): ranked pairs (h,e)=0, (l,l)=1, (l,o</w>)=2.
  // rank 0 → ('he','l','l','o</w>'); rank 1 → ('he','ll','o</w>') — (l,o</w>) is gone, so
  // rank 2 never applies; rank 3 (he,ll) → ('hell','o</w>'); rank 4 → ('hello</w>').
  expect(t.bpe('hello')).toBe('hello</w>');
  // "hel": ('h','e','l</w>') → rank 0 → ('he','l</w>'); (he,l</w>) is no merge → ids [512, 331].
  expect(t.encode('hel')).toEqual([512, 331]);
  // "lo": ('l','o</w>') → rank 2 → 'lo</w>' = 514.
  expect(t.encode('lo')).toEqual([514]);
  // "hellos": ('h','e','l','l','o','s</w>') → he, ll, hell; (hell,o) is not (hell,o</w>): ids [515, 78, 338].
  expect(t.encode('hellos')).toEqual([515, 78, 338]);
});

test('tokenize: clean-up, lower-casing, pre-tokenisation, start/end tokens, zero padding to 77', () => {
  // "Hello hello!" → "hello hello!" → pre-tokens "hello", "hello", "!" → 516, 516, '!</w>' 256.
  expect(t.tokenize('Hello hello!')).toEqual(row([516, 516, 256]));
  // Whitespace collapsed; "world" has no merges → w o r l d</w> = 86 78 81 75 323; "'s" is one
  // pre-token → ("'", "s</w>") = 6, 338.
  expect(t.tokenize("  HELLO\n\t world's  ")).toEqual(row([516, 86, 78, 81, 75, 323, 6, 338]));
  // Digits are single pre-tokens: '4</w>' 275, '2</w>' 273.
  expect(t.tokenize('42')).toEqual(row([275, 273]));
  // Non-ASCII goes byte-wise: 'é' = UTF-8 c3 a9; 0xc3 → id 106 + (0xc3 − 0xae) = 127 ('Ã'),
  // 0xa9 → id 94 + (0xa9 − 0xa1) = 102 ('©'), last in the word → 256 + 102 = 358.
  expect(t.encode('É')).toEqual([127, 358]);
  // HTML is unescaped twice (&amp;amp; → &amp; → &): '&</w>' = 261.
  expect(t.encode('&amp;amp;')).toEqual([261]);
  // Curly quotes become straight: '"</w>' 257, then "hi" → h, i</w> = 71, 328.
  expect(t.encode('\u201cHi\u201d')).toEqual([257, 71, 328, 257]);
  // The special tokens in the text map to their ids.
  expect(t.encode('<|endoftext|>')).toEqual([EOT]);
  expect(t.decode(t.encode("Hello   World's"))).toBe("hello world 's");
});

test('long texts are truncated to 77 with the end token last, or rejected with truncate: false', () => {
  const text = Array(100).fill('hello').join(' ');
  const { ids, length, truncated } = t.tokenizeWithInfo(text);
  expect(truncated).toBe(true);
  expect(length).toBe(77);
  expect(ids[0]).toBe(SOT);
  expect(Array.from(ids.slice(1, 76) as Int32Array).every((v) => v === 516)).toBe(true);
  expect(ids[76]).toBe(EOT);
  expect(() => t.tokenize(text, { truncate: false })).toThrow(
    /too long for context length 77 \(102 tokens\)/,
  );
  // Exactly 75 words fit: sot + 75 + eot = 77.
  expect(t.tokenizeWithInfo(Array(75).fill('hello').join(' ')).truncated).toBe(false);
});

test("consistent with CLIP's published ids: full-size vocabulary gives a</w> 320, of</w> 539, start 49406, end 49407", () => {
  // The first 28 merges of bpe_simple_vocab_16e6.txt (rank 27 is "o f</w>"), then filler merges
  // up to more than CLIP reads (it keeps 49152 − 256 − 2 = 48894 merges).
  const first = [
    'i n',
    't h',
    'a n',
    'r e',
    'a r',
    'e r',
    'th e</w>',
    'in g</w>',
    'o u',
    'o n',
    's t',
    'o r',
    'e n',
    'o n</w>',
    'a l',
    'a t',
    'e r</w>',
    'i t',
    'i n</w>',
    't o</w>',
    'r o',
    'i s</w>',
    'l e',
    'i c',
    'a t</w>',
    'an d</w>',
    'e d</w>',
    'o f</w>',
  ];
  const filler = Array.from({ length: 49000 - first.length }, (_, i) => `\u0100q${i} \u0100r${i}`);
  const big = new tok.ClipTokenizer(['#version: 0.2', ...first, ...filler].join('\n'));
  expect(big.mergeCount).toBe(48894);
  expect(big.vocabSize).toBe(49408);
  // clip.tokenize("a ... of a") starts [49406, 320, ..., 539, 320, ...]; 'a</w>' = 256 + 64.
  expect(Array.from(big.tokenize('a of a').slice(0, 5))).toEqual([49406, 320, 539, 320, 49407]);
});

test('vocabulary files: plain, gzip, file:// URL, http URL; clear errors', async () => {
  const plain = await tok.loadTokenizer(path.join(dir, 'vocab.txt'));
  const gz = await tok.loadTokenizer(path.join(dir, 'vocab.txt.gz'));
  const fileUrl = await tok.loadTokenizer('file://' + path.join(dir, 'vocab.txt.gz'));
  for (const x of [plain, gz, fileUrl]) expect(x.tokenize('Hello hello!')).toEqual(row([516, 516, 256]));

  const server = http.createServer((req, res) => {
    if (req.url === '/vocab.txt.gz') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(fs.readFileSync(path.join(dir, 'vocab.txt.gz')));
    } else {
      res.writeHead(404);
      res.end('no');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const viaHttp = await tok.loadTokenizer(`${base}/vocab.txt.gz`);
    expect(viaHttp.encode('hello')).toEqual([516]);
    await expect(tok.loadTokenizer(`${base}/missing.txt`)).rejects.toThrow(
      `could not fetch vocabulary ${base}/missing.txt: HTTP 404`,
    );
  } finally {
    await new Promise((r) => server.close(r));
  }
  await expect(tok.loadTokenizer(path.join(dir, 'nope.txt'))).rejects.toThrow(
    `vocabulary file not found: ${path.join(dir, 'nope.txt')}`,
  );
  fs.writeFileSync(path.join(dir, 'bad.txt'), '#version: 0.2\nh e\nthis has three\n');
  await expect(tok.loadTokenizer(path.join(dir, 'bad.txt'))).rejects.toThrow(
    /line 3 of the vocabulary is not a BPE merge/,
  );
  fs.writeFileSync(path.join(dir, 'empty.txt'), '#version: 0.2\n');
  await expect(tok.loadTokenizer(path.join(dir, 'empty.txt'))).rejects.toThrow(/has no BPE merges/);
  fs.writeFileSync(path.join(dir, 'broken.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  await expect(tok.loadTokenizer(path.join(dir, 'broken.gz'))).rejects.toThrow(
    /looks gzip-compressed but does not decompress/,
  );
});
