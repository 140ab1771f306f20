/**
 * CLIP's byte-pair-encoding tokenizer in TypeScript, no dependencies: a port of
 * `clip/simple_tokenizer.py` (openai/CLIP) and its `tokenize()`.
 *
 * Vocabulary construction (the same as CLIP's, for a merges file of M merges):
 *   ids 0..255            the 256 byte tokens, in the order of `bytesToUnicode()`
 *   ids 256..511          the same 256 tokens + '</w>' (end of word)
 *   ids 512..512+M-1      one token per merge, in the order of the merges file
 *   id 512+M              '<|startoftext|>'
 *   id 512+M+1            '<|endoftext|>'
 * With CLIP's `bpe_simple_vocab_16e6.txt` (48 894 merges are used) that is the
 * familiar 49 408-token vocabulary: start 49406, end 49407.
 *
 * Text clean-up: CLIP runs `ftfy.fix_text` and a double `html.unescape` before
 * collapsing whitespace and lower-casing. ftfy is not ported; `basicClean` does the
 * parts of it that matter for prompts typed by people (see its comment), and
 * HTML unescaping covers the named entities listed in HTML_ENTITIES plus numeric
 * ones. Mojibake repair (ftfy's `fix_encoding`) is not done.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { fileURLToPath } from 'url';

export const SOT = '<|startoftext|>';
export const EOT = '<|endoftext|>';
export const CONTEXT_LENGTH = 77;
/** CLIP reads `merges[1 : 49152 - 256 - 2 + 1]`: at most 48 894 merges after the version line. */
export const MAX_MERGES = 49152 - 256 - 2;

/**
 * GPT-2/CLIP's reversible byte → unicode-character table: printable Latin-1 bytes
 * map to themselves, the other 68 bytes (control characters, space, 0x7f–0xa0, 0xad)
 * to U+0100 onwards, in byte order.
 * Insertion order of the map = token id order (0..255).
 */
export function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b); // '!'..'~'
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b); // '¡'..'¬'
  for (let b = 0xae; b <= 0xff; b++) bs.push(b); // '®'..'ÿ'
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const map = new Map<number, string>();
  bs.forEach((b, i) => map.set(b, String.fromCodePoint(cs[i])));
  return map;
}

const HTML_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  eacute: 'é',
  egrave: 'è',
  ecirc: 'ê',
  aacute: 'á',
  agrave: 'à',
  acirc: 'â',
  iacute: 'í',
  oacute: 'ó',
  uacute: 'ú',
  auml: 'ä',
  ouml: 'ö',
  uuml: 'ü',
  szlig: 'ß',
  ntilde: 'ñ',
  ccedil: 'ç',
  deg: '°',
  times: '×',
  middot: '·',
};

/** Python's html.unescape for numeric references and the entities above (with or without ';' for the common five). */
export function htmlUnescape(s: string): string {
  return s.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?/g, (m, body: string) => {
    if (body[0] === '#') {
      const cp =
        body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      if (!Number.isFinite(cp) || cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return '\ufffd';
      return String.fromCodePoint(cp);
    }
    const v = HTML_ENTITIES[body];
    if (v === undefined) return m;
    if (!m.endsWith(';') && !['amp', 'lt', 'gt', 'quot', 'apos'].includes(body)) return m;
    return v;
  });
}

const LIGATURES: Record<string, string> = {
  ﬀ: 'ff',
  ﬁ: 'fi',
  ﬂ: 'fl',
  ﬃ: 'ffi',
  ﬄ: 'ffl',
  ﬅ: 'st',
  ﬆ: 'st',
  Ĳ: 'IJ',
  ĳ: 'ij',
  Ŀ: 'L·',
  ŀ: 'l·',
  ŉ: "'n",
};

/**
 * The simplified ftfy.fix_text + double html.unescape + strip of CLIP's basic_clean:
 * what ftfy's defaults do that changes ordinary prompts — curly quotes → straight
 * (uncurl_quotes), ligatures split (fix_latin_ligatures), full-width ASCII → ASCII
 * (fix_character_width), control characters dropped except tab/newline
 * (remove_control_chars), CRLF/CR → LF (fix_line_breaks), NFC normalisation.
 */
export function basicClean(text: unknown): string {
  let s = String(text);
  s = s.replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n');
  s = s.replace(/[\u2018\u2019\u201a\u201b\u2032]/g, "'").replace(/[\u201c\u201d\u201e\u201f\u2033]/g, '"');
  s = s.replace(/[\ufb00-\ufb06\u0132\u0133\u013f\u0140\u0149]/g, (c) => LIGATURES[c] || c);
  s = s
    .replace(/[\uff01-\uff5e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/\u3000/g, ' ');
  // eslint-disable-next-line no-control-regex
  s = s.replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f-\u009f\u200b\ufeff\ufffc]/g, '');
  s = s.normalize('NFC');
  s = htmlUnescape(htmlUnescape(s));
  return s.trim();
}

/** CLIP's whitespace_clean: runs of whitespace → one space, then strip. */
export function whitespaceClean(text: string): string {
  return text.replace(/\s+/gu, ' ').trim();
}

/** CLIP's pre-tokenisation pattern (regex module, IGNORECASE; the text is lower-cased before). */
const PRE_TOKEN = () =>
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/**
 * Parses a merges file (text of `bpe_simple_vocab_16e6.txt`): an optional first line
 * `#version: ...`, then one merge "a b" per line. Empty lines are skipped; at most
 * 48 894 merges are read (as CLIP does).
 */
export function parseMerges(text: string): [string, string][] {
  const lines = String(text).split('\n');
  let start = 0;
  if (lines.length && lines[0].startsWith('#version')) start = 1;
  const merges: [string, string][] = [];
  for (let i = start; i < lines.length && merges.length < MAX_MERGES; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.trim() === '') continue;
    const parts = line.split(/\s+/).filter(Boolean);
    if (parts.length !== 2) {
      throw new Error(
        `line ${i + 1} of the vocabulary is not a BPE merge "a b": ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    merges.push([parts[0], parts[1]]);
  }
  if (!merges.length)
    throw new Error(
      'the vocabulary has no BPE merges (expected CLIP\'s bpe_simple_vocab_16e6.txt format: "#version: 0.2" then one "a b" merge per line)',
    );
  return merges;
}

/** Options of tokenize: the context length (77) and whether a longer text is cut (default) or refused. */
export interface TokenizeOptions {
  contextLength?: number;
  truncate?: boolean;
}

export class ClipTokenizer {
  readonly byteEncoder: Map<number, string>;
  readonly byteDecoder: Map<string, number>;
  /** token → id (a later duplicate wins, as in CLIP's dict(zip(...))) */
  readonly encoder: Map<string, number>;
  /** id → token */
  readonly decoder: string[];
  /** "a b" → rank (a later duplicate wins, as in CLIP) */
  readonly bpeRanks: Map<string, number>;
  private cache: Map<string, string>;
  readonly sotToken: number;
  readonly eotToken: number;
  readonly vocabSize: number;
  readonly mergeCount: number;

  /** merges: the merges file's text, or parsed merges. */
  constructor(merges: string | [string, string][]) {
    const list = typeof merges === 'string' ? parseMerges(merges) : merges.slice(0, MAX_MERGES);
    this.byteEncoder = bytesToUnicode();
    this.byteDecoder = new Map([...this.byteEncoder].map(([b, c]) => [c, b]));
    const vocab = [...this.byteEncoder.values()];
    const base = vocab.slice();
    for (const v of base) vocab.push(v + '</w>');
    for (const [a, b] of list) vocab.push(a + b);
    vocab.push(SOT, EOT);
    this.encoder = new Map();
    vocab.forEach((v, i) => this.encoder.set(v, i));
    this.decoder = vocab;
    this.bpeRanks = new Map();
    list.forEach(([a, b], i) => this.bpeRanks.set(`${a} ${b}`, i));
    this.cache = new Map([
      [SOT, SOT],
      [EOT, EOT],
    ]);
    this.sotToken = this.encoder.get(SOT)!;
    this.eotToken = this.encoder.get(EOT)!;
    this.vocabSize = vocab.length;
    this.mergeCount = list.length;
  }

  /** BPE of one pre-token (already mapped to byte characters): space-separated tokens. */
  bpe(token: string): string {
    const cached = this.cache.get(token);
    if (cached !== undefined) return cached;
    const chars = Array.from(token);
    let word = chars.slice(0, -1).concat(chars[chars.length - 1] + '</w>');
    if (word.length < 2) {
      const r = token + '</w>';
      this.cache.set(token, r);
      return r;
    }
    for (;;) {
      // The adjacent pair with the lowest merge rank.
      let best: [string, string] | null = null;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.bpeRanks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = [word[i], word[i + 1]];
        }
      }
      if (!best) break;
      const [first, second] = best;
      const next: string[] = [];
      let i = 0;
      while (i < word.length) {
        const j = word.indexOf(first, i);
        if (j < 0) {
          next.push(...word.slice(i));
          break;
        }
        next.push(...word.slice(i, j));
        i = j;
        if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
          next.push(first + second);
          i += 2;
        } else {
          next.push(word[i]);
          i += 1;
        }
      }
      word = next;
      if (word.length === 1) break;
    }
    const r = word.join(' ');
    if (this.cache.size > 10000)
      this.cache = new Map([
        [SOT, SOT],
        [EOT, EOT],
      ]);
    this.cache.set(token, r);
    return r;
  }

  /** The cleaned, lower-cased text CLIP tokenizes. */
  normalize(text: unknown): string {
    return whitespaceClean(basicClean(text)).toLowerCase();
  }

  /** Token ids of a text, without start/end tokens (CLIP's SimpleTokenizer.encode). */
  encode(text: unknown): number[] {
    const ids: number[] = [];
    const s = this.normalize(text);
    for (const m of s.matchAll(PRE_TOKEN())) {
      const bytes = Buffer.from(m[0], 'utf8');
      let t = '';
      for (const b of bytes) t += this.byteEncoder.get(b);
      for (const piece of this.bpe(t).split(' ')) {
        const id = this.encoder.get(piece);
        if (id === undefined)
          throw new Error(
            `BPE produced ${JSON.stringify(piece)}, which is not in the vocabulary (inconsistent merges file?)`,
          );
        ids.push(id);
      }
    }
    return ids;
  }

  /** Text of token ids (CLIP's decode: '</w>' becomes a space). */
  decode(ids: Iterable<number> | ArrayLike<number>): string {
    const chars = Array.from(ids, (i) => this.decoder[i] ?? '').join('');
    const bytes: number[] = [];
    for (const c of chars.replace(/<\|startoftext\|>|<\|endoftext\|>/g, '')) {
      const b = this.byteDecoder.get(c);
      if (b !== undefined) bytes.push(b);
    }
    return Buffer.from(bytes).toString('utf8').replace(/<\/w>/g, ' ').trim();
  }

  /**
   * CLIP's tokenize() for one text: [sot, ...encode(text), eot] zero-padded to
   * contextLength. Too long: with `truncate` (default) cut to contextLength with
   * eot last (CLIP's truncate=True), else throw (CLIP's default).
   */
  tokenizeWithInfo(
    text: unknown,
    options: TokenizeOptions = {},
  ): { ids: Int32Array; length: number; truncated: boolean } {
    const contextLength = options.contextLength ?? CONTEXT_LENGTH;
    const truncate = options.truncate ?? true;
    let tokens = [this.sotToken, ...this.encode(text), this.eotToken];
    let truncated = false;
    if (tokens.length > contextLength) {
      if (!truncate)
        throw new Error(
          `input text is too long for context length ${contextLength} (${tokens.length} tokens): ${JSON.stringify(String(text).slice(0, 60))}`,
        );
      tokens = tokens.slice(0, contextLength);
      tokens[contextLength - 1] = this.eotToken;
      truncated = true;
    }
    const ids = new Int32Array(contextLength);
    ids.set(tokens);
    return { ids, length: tokens.length, truncated };
  }

  /** [contextLength] Int32Array of ids (see tokenizeWithInfo). */
  tokenize(text: unknown, options?: TokenizeOptions): Int32Array {
    return this.tokenizeWithInfo(text, options).ids;
  }
}

const isHttp = (s: string): boolean => /^https?:\/\//i.test(s);

/** Where readVocabulary looks: the host's asset reader, or a resolver of package-relative paths. */
export interface VocabularyOptions {
  resolveRelative?: (p: string) => string;
  read?: (pathOrUrl: string) => Promise<Buffer>;
}

/** Gunzips when the bytes start with the gzip magic 1f 8b; decodes UTF-8. */
function decodeVocabularyBytes(buf: Buffer, where: string): string {
  let bytes = buf;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (e) {
      throw new Error(
        `vocabulary ${where} looks gzip-compressed but does not decompress: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  return bytes.toString('utf8');
}

/**
 * Reads a vocabulary (merges) file from an absolute path, a file:// URL, an http(s)
 * URL, or (with `resolveRelative`) a path inside the plugin package; plain or gzip.
 * `options.read`: the host's asset reader (used alone when given). Returns the file's text.
 */
export async function readVocabulary(pathOrUrl: unknown, options: VocabularyOptions = {}): Promise<string> {
  if (typeof pathOrUrl !== 'string' || !pathOrUrl)
    throw new Error("vocabulary must be the path or URL of CLIP's bpe_simple_vocab_16e6.txt(.gz)");
  if (options.read) {
    // The host's asset reader: it alone decides which files and URLs may be opened.
    let bytes;
    try {
      bytes = await options.read(pathOrUrl);
    } catch (e) {
      const message = (e as Error).message;
      if (/^asset not found/.test(message))
        throw new Error(
          `vocabulary file not found: ${pathOrUrl} (expected CLIP's bpe_simple_vocab_16e6.txt or .txt.gz)`,
          { cause: e },
        );
      throw new Error(`cannot read vocabulary ${pathOrUrl}: ${message}`, { cause: e });
    }
    return decodeVocabularyBytes(bytes, pathOrUrl);
  }
  if (isHttp(pathOrUrl)) {
    let res;
    try {
      res = await fetch(pathOrUrl);
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why = (err && err.cause && (err.cause.code || err.cause.message)) || err.message;
      throw new Error(`could not fetch vocabulary ${pathOrUrl}: ${why}`, { cause: e });
    }
    if (!res.ok) throw new Error(`could not fetch vocabulary ${pathOrUrl}: HTTP ${res.status}`);
    return decodeVocabularyBytes(Buffer.from(await res.arrayBuffer()), pathOrUrl);
  }
  let file: string;
  if (pathOrUrl.startsWith('file://')) file = fileURLToPath(pathOrUrl);
  else if (path.isAbsolute(pathOrUrl)) file = pathOrUrl;
  else if (options.resolveRelative) file = options.resolveRelative(pathOrUrl);
  else file = path.resolve(pathOrUrl);
  let buf;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT')
      throw new Error(
        `vocabulary file not found: ${file} (expected CLIP's bpe_simple_vocab_16e6.txt or .txt.gz)`,
        { cause: e },
      );
    if (err.code === 'EISDIR')
      throw new Error(`vocabulary ${file} is a directory, not CLIP's bpe_simple_vocab_16e6.txt(.gz)`, {
        cause: e,
      });
    throw new Error(`cannot read vocabulary ${file}: ${err.message}`, { cause: e });
  }
  return decodeVocabularyBytes(buf, file);
}

/** A tokenizer from a vocabulary path or URL (see readVocabulary). */
export async function loadTokenizer(pathOrUrl: unknown, options?: VocabularyOptions): Promise<ClipTokenizer> {
  const text = await readVocabulary(pathOrUrl, options);
  try {
    return new ClipTokenizer(text);
  } catch (e) {
    throw new Error(`vocabulary ${pathOrUrl}: ${(e as Error).message}`, { cause: e });
  }
}
