/**
 * Statement lexer for the per-statement hot path (DESIGN.md "Hot path", step 2).
 *
 * Works directly on the bytes of a COM_QUERY payload: no string conversion of the query, no regexes,
 * ASCII case-insensitive keyword matching through a small hash table. One pass over the tokens; the only
 * allocation per call is the result object (plus strings/arrays for the rare hint / user-variable /
 * KILL / USE cases).
 *
 * The tokenizer (`Tokenizer`, `KeywordTable`) is shared with digest.ts; those exports are internal.
 */

export const enum StatementKind {
  Unknown = 0,
  Select,
  Insert,
  Update,
  Delete,
  Replace,
  Set,
  Show,
  Use,
  /** BEGIN, START TRANSACTION */
  Begin,
  Commit,
  Rollback,
  /** SAVEPOINT x, and ROLLBACK [WORK] TO [SAVEPOINT] x (does not end the transaction) */
  Savepoint,
  Release,
  /** LOCK TABLE(S), LOCK INSTANCE */
  Lock,
  Unlock,
  Create,
  Drop,
  Alter,
  Truncate,
  Rename,
  Kill,
  Prepare,
  Execute,
  /** DEALLOCATE PREPARE, DROP PREPARE */
  Deallocate,
  Call,
  Do,
  /** LOAD DATA | LOAD XML */
  Load,
  Handler,
  Flush,
  Grant,
  Revoke,
  Analyze,
  Optimize,
  Check,
  /** EXPLAIN / DESCRIBE / DESC */
  Explain,
  Help,
  /** WITH ... whose main statement could not be determined (otherwise the kind of the main statement) */
  With,
  Values,
  /** TABLE t */
  Table,
  Xa,
  /** first keyword SLUICE: our own statements */
  Sluice,
  Other,
}

export const StatementFlag = {
  FOR_UPDATE: 1 << 0,
  /** FOR SHARE or LOCK IN SHARE MODE */
  FOR_SHARE: 1 << 1,
  /** SELECT ... INTO (outfile/dumpfile/@var) */
  INTO: 1 << 2,
  /** SET @x=, @x :=, INTO @x */
  USER_VAR_WRITE: 1 << 3,
  USER_VAR_READ: 1 << 4,
  GET_LOCK: 1 << 5,
  /** RELEASE_LOCK( or RELEASE_ALL_LOCKS( */
  RELEASE_LOCK: 1 << 6,
  /** IS_FREE_LOCK, IS_USED_LOCK */
  LOCK_FUNCTION: 1 << 7,
  LAST_INSERT_ID: 1 << 8,
  SQL_CALC_FOUND_ROWS: 1 << 9,
  FOUND_ROWS: 1 << 10,
  /** CREATE TEMPORARY TABLE or DROP TEMPORARY TABLE */
  TEMPORARY: 1 << 11,
  /** a ';' outside strings/comments followed by anything but whitespace/comments */
  MULTI_STATEMENT: 1 << 12,
  LOCK_TABLES: 1 << 13,
  UNLOCK_TABLES: 1 << 14,
  /** FLUSH TABLES ... WITH READ LOCK (also FLUSH TABLES ... FOR EXPORT: both hold locks until UNLOCK TABLES) */
  FLUSH_READ_LOCK: 1 << 15,
  /** NEXTVAL( / NEXT VALUE FOR / SETVAL( / LASTVAL( / PREVIOUS VALUE FOR */
  NEXTVAL: 1 << 16,
  /** SET TRANSACTION ... (next transaction only, no GLOBAL/SESSION) */
  SET_TRANSACTION: 1 << 17,
  /** START TRANSACTION READ ONLY */
  READ_ONLY_TRANSACTION: 1 << 18,
  /** mentions mysql. / information_schema / performance_schema / sys. as a qualifier or FROM/IN/USE target */
  SYSTEM_SCHEMA: 1 << 19,
  /** CONNECTION_ID( */
  CONNECTION_ID: 1 << 20,
  /** SET of a session system variable (SET x=, SET SESSION x, SET @@x, SET @@session.x, SET NAMES,
   *  SET CHARACTER SET, SET SESSION TRANSACTION, SET ROLE) */
  SESSION_SYSVAR_WRITE: 1 << 21,
  /** SET GLOBAL / PERSIST / PERSIST_ONLY x, SET @@global.x, SET GLOBAL TRANSACTION */
  GLOBAL_SYSVAR_WRITE: 1 << 22,
  /** a sluice hint comment is present (`hint` is non-null) */
  HAS_HINT: 1 << 23,
  /** contains a /*! or /*M! comment */
  EXECUTABLE_COMMENT: 1 << 24,
  /** sets the session's autocommit (SET autocommit=, SET SESSION autocommit, SET @@autocommit, ...) */
  AUTOCOMMIT_WRITE: 1 << 25,
  /** USE db */
  DB_CHANGE: 1 << 26,
} as const;

export interface StatementInfo {
  kind: StatementKind;
  flags: number;
  /** Text of the first comment that starts with "sluice:" (e.g. "/* sluice:route=primary *\/" → "route=primary");
   *  null otherwise. "-- sluice:..." and "# sluice:..." work too. */
  hint: string | null;
  /** Names (without @, lower-cased) of user variables assigned; empty array shared constant when none. */
  userVarsAssigned: readonly string[];
  /** For KILL [HARD|SOFT] [CONNECTION|QUERY] <n>: target id and whether QUERY; KILL QUERY ID <n> → queryId. */
  kill: { id: number; query: boolean; queryId: boolean } | null;
  /** USE <db> target (unquoted), null otherwise. */
  useSchema: string | null;
}

export interface LexOptions {
  noBackslashEscapes: boolean;
  ansiQuotes: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Tokenizer (internal; shared with digest.ts)
// ---------------------------------------------------------------------------------------------------------

/** @internal */
export const enum Tok {
  EOF = 0,
  /** unquoted identifier or keyword */
  Word,
  /** numeric literal incl. 0x.. / 0b.. */
  Number,
  /** '...' , "..." (unless ANSI_QUOTES), x'..', b'..', n'..', _charset'...' */
  String,
  /** `...` or "..." with ANSI_QUOTES */
  QIdent,
  /** @name, @'name', @"name", @`name` */
  UserVar,
  /** @@name, @@scope.name */
  SysVar,
  /** any other single byte (ch) */
  Punct,
  /** := */
  Assign,
}

/** @internal character classes */
export const CC_IDENT = 1;
/** @internal */
export const CC_DIGIT = 2;
/** @internal */
export const CC_WS = 4;
/** @internal */
export const CC_HEX = 8;
/** @internal */
export const CC = /* @__PURE__ */ (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) {
    let v = 0;
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24 || c >= 0x80) v |= CC_IDENT;
    if (c >= 0x30 && c <= 0x39) v |= CC_IDENT | CC_DIGIT | CC_HEX;
    if ((c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)) v |= CC_HEX;
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c) v |= CC_WS;
    t[c] = v;
  }
  return t;
})();

const FNV_OFF = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** @internal case-insensitive hash of an ASCII word, identical to what the tokenizer computes */
export function wordHash(s: string): number {
  let h = FNV_OFF;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ (s.charCodeAt(i) | 0x20), FNV_PRIME);
  return h;
}

/**
 * @internal Open-addressing table of ASCII keywords → small integer ids; lookups by (hash, bytes) with no
 * allocation. Keywords must consist of letters, digits and '_' only.
 */
export class KeywordTable {
  private readonly mask: number;
  /** per slot: keyword id (0 = empty), hash, length, offset of its bytes in `bytes` */
  private readonly slotId: Int32Array;
  private readonly slotHash: Int32Array;
  private readonly slotLen: Int32Array;
  private readonly slotOff: Int32Array;
  /** all keywords' bytes (each byte | 0x20), concatenated */
  private readonly bytes: Uint8Array;
  private readonly maxLen: number;

  constructor(entries: ReadonlyArray<readonly [string, number]>) {
    let size = 64;
    while (size < entries.length * 4) size <<= 1;
    this.mask = size - 1;
    this.slotId = new Int32Array(size);
    this.slotHash = new Int32Array(size);
    this.slotLen = new Int32Array(size);
    this.slotOff = new Int32Array(size);
    let total = 0;
    for (const [word] of entries) total += word.length;
    this.bytes = new Uint8Array(total);
    let off = 0;
    let maxLen = 0;
    for (const [word, id] of entries) {
      if (id <= 0) throw new Error('keyword ids must be > 0');
      const w = word.toLowerCase();
      for (let i = 0; i < w.length; i++) {
        const c = w.charCodeAt(i);
        if (c >= 0x80 || !(CC[c] & CC_IDENT)) throw new Error(`bad keyword ${word}`);
        this.bytes[off + i] = c | 0x20;
      }
      const h = wordHash(w);
      let s = h & this.mask;
      while (this.slotId[s] !== 0) s = (s + 1) & this.mask;
      this.slotId[s] = id;
      this.slotHash[s] = h;
      this.slotLen[s] = w.length;
      this.slotOff[s] = off;
      off += w.length;
      if (w.length > maxLen) maxLen = w.length;
    }
    this.maxLen = maxLen;
  }

  /** id of the keyword spelled by buf[start, end) (hash h from the tokenizer), 0 if none */
  find(buf: Uint8Array, start: number, end: number, h: number): number {
    const len = end - start;
    if (len > this.maxLen || len <= 0) return 0;
    const mask = this.mask;
    const slotId = this.slotId;
    let s = h & mask;
    for (;;) {
      const id = slotId[s];
      if (id === 0) return 0;
      if (this.slotHash[s] === h && this.slotLen[s] === len) {
        const bytes = this.bytes;
        const off = this.slotOff[s] - start;
        let i = start;
        while (i < end && (buf[i] | 0x20) === bytes[off + i]) i++;
        if (i === end) return id;
      }
      s = (s + 1) & mask;
    }
  }
}

/** @internal Tokenizer over buf[start, end). Never reads outside that range. */
export class Tokenizer {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  lim = 0;
  nbe = false;
  ansi = false;
  /** inside a /*! ... *\/ executable comment */
  inExec = false;
  /** current token */
  type: Tok = Tok.EOF;
  start = 0;
  end = 0;
  /** content end for String/QIdent/quoted UserVar (excludes the closing quote when present) */
  cEnd = 0;
  /** hash of a Word (lower-cased bytes) or of a QIdent's content */
  h = 0;
  /** byte of a Punct token */
  ch = 0;
  /** quote byte of a quoted UserVar, 0 otherwise */
  vq = 0;
  prevType: Tok = Tok.EOF;
  prevEnd = -1;
  private pending = false;
  /** the buffer ends within 4 KiB after `lim`: unbounded native searches are cheap */
  private native = false;
  /** next backslash position known to the native string scan (see nativeScan) */
  private bsNext = -1;
  /** a /*! or /*M! comment was seen */
  execSeen = false;
  /** the sluice hint, once found */
  hint: string | null = null;
  private lastHint: string | null = null;
  private lastHintBytes: Uint8Array | null = null;

  reset(buf: Buffer, start: number, end: number, nbe: boolean, ansi: boolean): void {
    if (start < 0) start = 0;
    if (end > buf.length) end = buf.length;
    if (end < start) end = start;
    this.buf = buf;
    this.pos = start;
    this.lim = end;
    this.nbe = nbe;
    this.ansi = ansi;
    this.inExec = false;
    this.type = Tok.EOF;
    this.start = start;
    this.end = start;
    this.cEnd = start;
    this.h = 0;
    this.ch = 0;
    this.vq = 0;
    this.prevType = Tok.EOF;
    this.prevEnd = -1;
    this.pending = false;
    this.native = buf.length - end <= 4096;
    this.bsNext = -1;
    this.execSeen = false;
    this.hint = null;
  }

  /** make the next call to next() return the current token again */
  unget(): void {
    this.pending = true;
  }

  /** jump to the end of the input */
  skipToEnd(): void {
    this.pending = false;
    this.prevType = this.type;
    this.prevEnd = this.end;
    this.pos = this.start = this.end = this.lim;
    this.type = Tok.EOF;
  }

  /** next byte after the current token, skipping whitespace and plain /* *\/ comments; -1 at the end */
  peekByte(): number {
    const buf = this.buf;
    const lim = this.lim;
    let p = this.end;
    for (;;) {
      while (p < lim && CC[buf[p]] & CC_WS) p++;
      if (p + 2 < lim && buf[p] === 0x2f && buf[p + 1] === 0x2a && buf[p + 2] !== 0x21) {
        let i = p + 2;
        while (i + 1 < lim && !(buf[i] === 0x2a && buf[i + 1] === 0x2f)) i++;
        if (i + 1 >= lim) return -1;
        p = i + 2;
        continue;
      }
      return p < lim ? buf[p] : -1;
    }
  }

  /** byte at offset k after the current token's end (no skipping), -1 past the end */
  byteAfter(k: number): number {
    const p = this.end + k;
    return p < this.lim ? this.buf[p] : -1;
  }

  /** grow the current Punct token by k bytes (multi-byte operators) */
  extend(k: number): void {
    const e = Math.min(this.end + k, this.lim);
    this.pos = this.end = e;
  }

  /** whether the current token is followed by optional whitespace and ":=" */
  peekAssign(): boolean {
    const buf = this.buf;
    const lim = this.lim;
    let p = this.end;
    while (p < lim && CC[buf[p]] & CC_WS) p++;
    return p + 1 < lim && buf[p] === 0x3a && buf[p + 1] === 0x3d;
  }

  next(): Tok {
    if (this.pending) {
      this.pending = false;
      return this.type;
    }
    this.prevType = this.type;
    this.prevEnd = this.end;
    const buf = this.buf;
    const lim = this.lim;
    const cc = CC;
    let p = this.pos;
    // whitespace and comments
    for (;;) {
      if (p >= lim) {
        this.pos = this.start = this.end = lim;
        return (this.type = Tok.EOF);
      }
      const b = buf[p];
      if (cc[b] & CC_WS) {
        p++;
      } else if (b === 0x2f /* / */) {
        if (p + 1 < lim && buf[p + 1] === 0x2a /* * */) p = this.blockComment(p);
        else break;
      } else if (b === 0x2d /* - */) {
        if (p + 1 < lim && buf[p + 1] === 0x2d && (p + 2 >= lim || buf[p + 2] <= 0x20)) p = this.lineComment(p + 2);
        else break;
      } else if (b === 0x23 /* # */) {
        p = this.lineComment(p + 1);
      } else if (b === 0x2a /* * */ && this.inExec && p + 1 < lim && buf[p + 1] === 0x2f) {
        this.inExec = false;
        p += 2;
      } else {
        break;
      }
    }
    this.start = p;
    const b = buf[p];
    const c = cc[b];
    if (c & CC_IDENT) {
      if (c & CC_DIGIT) return this.number(p);
      let h = Math.imul(FNV_OFF ^ (b | 0x20), FNV_PRIME);
      let q = p + 1;
      while (q < lim) {
        const x = buf[q];
        if (!(cc[x] & CC_IDENT)) break;
        h = Math.imul(h ^ (x | 0x20), FNV_PRIME);
        q++;
      }
      // introducers: x'..', b'..', n'..', _charset'..'
      if (q < lim && buf[q] === 0x27 && ((q === p + 1 && isIntroLetter(b)) || b === 0x5f)) {
        return this.quoted(q, 0x27, Tok.String, p);
      }
      this.h = h;
      this.pos = this.end = q;
      return (this.type = Tok.Word);
    }
    switch (b) {
      case 0x27: // '
        return this.quoted(p, 0x27, Tok.String, p);
      case 0x22: // "
        return this.quoted(p, 0x22, this.ansi ? Tok.QIdent : Tok.String, p);
      case 0x60: // `
        return this.quoted(p, 0x60, Tok.QIdent, p);
      case 0x40: // @
        return this.at(p);
      case 0x2e: // .
        if (
          p + 1 < lim &&
          cc[buf[p + 1]] & CC_DIGIT &&
          !(this.prevEnd === p && (this.prevType === Tok.Word || this.prevType === Tok.QIdent))
        ) {
          return this.number(p);
        }
        break;
      case 0x3a: // :
        if (p + 1 < lim && buf[p + 1] === 0x3d) {
          this.pos = this.end = p + 2;
          return (this.type = Tok.Assign);
        }
        break;
    }
    this.ch = b;
    this.pos = this.end = p + 1;
    return (this.type = Tok.Punct);
  }

  private blockComment(p: number): number {
    const buf = this.buf;
    const lim = this.lim;
    let i = p + 2;
    if (i < lim && buf[i] === 0x21 /* ! */) return this.execStart(i + 1);
    if (i + 1 < lim && buf[i] === 0x4d /* M */ && buf[i + 1] === 0x21) return this.execStart(i + 2);
    const cs = i;
    while (i + 1 < lim && !(buf[i] === 0x2a && buf[i + 1] === 0x2f)) i++;
    if (i + 1 < lim) {
      if (this.hint === null) this.checkHint(cs, i);
      return i + 2;
    }
    if (this.hint === null) this.checkHint(cs, lim);
    return lim;
  }

  private execStart(i: number): number {
    const buf = this.buf;
    const lim = this.lim;
    let n = 0;
    while (n < 6 && i < lim && CC[buf[i]] & CC_DIGIT) {
      i++;
      n++;
    }
    this.inExec = true;
    this.execSeen = true;
    return i;
  }

  private lineComment(cs: number): number {
    const buf = this.buf;
    const lim = this.lim;
    let i = cs;
    while (i < lim && buf[i] !== 0x0a) i++;
    if (this.hint === null) this.checkHint(cs, i);
    return i < lim ? i + 1 : lim;
  }

  /** comment content buf[s, e): if it starts with "sluice:", keep the rest as the hint */
  private checkHint(s: number, e: number): void {
    const buf = this.buf;
    while (s < e && buf[s] <= 0x20) s++;
    if (e - s < 7) return;
    if (
      (buf[s] | 0x20) !== 0x73 || // s
      (buf[s + 1] | 0x20) !== 0x6c || // l
      (buf[s + 2] | 0x20) !== 0x75 || // u
      (buf[s + 3] | 0x20) !== 0x69 || // i
      (buf[s + 4] | 0x20) !== 0x63 || // c
      (buf[s + 5] | 0x20) !== 0x65 || // e
      buf[s + 6] !== 0x3a // :
    ) {
      return;
    }
    s += 7;
    while (s < e && buf[s] <= 0x20) s++;
    while (e > s && buf[e - 1] <= 0x20) e--;
    // the same few hints repeat: reuse the last string instead of decoding again
    const prev = this.lastHintBytes;
    if (prev !== null && prev.length === e - s) {
      let i = 0;
      while (i < prev.length && prev[i] === buf[s + i]) i++;
      if (i === prev.length) {
        this.hint = this.lastHint;
        return;
      }
    }
    const h = utf8(buf, s, e);
    this.lastHintBytes = Uint8Array.prototype.slice.call(buf, s, e);
    this.lastHint = h;
    this.hint = h;
  }

  /** quoted string / identifier / quoted user variable starting with the quote byte at q (token starts at tokStart) */
  private quoted(q: number, quote: number, type: Tok, tokStart: number): Tok {
    const buf = this.buf;
    const lim = this.lim;
    // with escapes the scan stops at a backslash too; without, `stop` is the quote itself
    const stop = type !== Tok.QIdent && quote !== 0x60 && !this.nbe ? 0x5c : quote;
    let i = q + 1;
    let cEnd = lim;
    for (;;) {
      // long strings: after 32 bytes switch to native byte search (when the buffer ends near `lim`)
      const jsLim = this.native && lim - i > 48 ? i + 32 : lim;
      while (i < jsLim) {
        const x = buf[i];
        if (x === quote || x === stop) break;
        i++;
      }
      if (i >= lim) {
        i = lim;
        break;
      }
      if (i === jsLim) {
        const c = this.nativeScan(i, quote, stop !== quote);
        if (c < 0) {
          i = lim;
        } else {
          cEnd = c;
          i = c + 1;
        }
        break;
      }
      if (buf[i] === quote) {
        if (i + 1 < lim && buf[i + 1] === quote) {
          i += 2;
          continue;
        }
        cEnd = i;
        i++;
        break;
      }
      i += 2; // backslash escape
    }
    if (i > lim) i = lim;
    if (type === Tok.QIdent) {
      let h = FNV_OFF;
      for (let k = q + 1; k < cEnd; k++) h = Math.imul(h ^ (buf[k] | 0x20), FNV_PRIME);
      this.h = h;
    }
    this.start = tokStart;
    this.cEnd = cEnd;
    this.pos = this.end = i;
    return (this.type = type);
  }

  /**
   * Closing quote of a string from i on (-1 if unterminated), using Buffer#indexOf. Only used when the buffer
   * ends near `lim` (indexOf cannot be bounded): a search that runs past `lim` costs at most that tail.
   */
  private nativeScan(i: number, quote: number, esc: boolean): number {
    const buf = this.buf;
    const lim = this.lim;
    for (;;) {
      const j = buf.indexOf(quote, i);
      if (j < 0 || j >= lim) return -1;
      if (esc) {
        let b = this.bsNext;
        if (b < i) {
          // first backslash at or after i (lim if none): positions only grow, so this stays valid
          b = buf.indexOf(0x5c, i);
          if (b < 0 || b >= lim) b = lim;
          this.bsNext = b;
        }
        if (b < j) {
          i = b + 2;
          if (i >= lim) return -1;
          continue;
        }
      }
      if (j + 1 < lim && buf[j + 1] === quote) {
        i = j + 2;
        continue;
      }
      return j;
    }
  }

  private at(p: number): Tok {
    const buf = this.buf;
    const lim = this.lim;
    const n = p + 1 < lim ? buf[p + 1] : -1;
    if (n === 0x40) {
      // @@[scope.]name
      let i = p + 2;
      while (i < lim && (CC[buf[i]] & CC_IDENT || buf[i] === 0x2e)) i++;
      this.pos = this.end = i;
      return (this.type = Tok.SysVar);
    }
    if (n === 0x27 || n === 0x22 || n === 0x60) {
      this.quoted(p + 1, n, Tok.UserVar, p);
      this.vq = n;
      return Tok.UserVar;
    }
    if (n >= 0 && (CC[n] & CC_IDENT || n === 0x2e)) {
      let i = p + 2;
      while (i < lim && (CC[buf[i]] & CC_IDENT || buf[i] === 0x2e)) i++;
      this.vq = 0;
      this.pos = this.end = i;
      return (this.type = Tok.UserVar);
    }
    this.ch = 0x40;
    this.pos = this.end = p + 1;
    return (this.type = Tok.Punct);
  }

  private number(p: number): Tok {
    const buf = this.buf;
    const lim = this.lim;
    const cc = CC;
    let i = p;
    let word = false;
    if (buf[p] === 0x30 && p + 1 < lim && ((buf[p + 1] | 0x20) === 0x78 || (buf[p + 1] | 0x20) === 0x62)) {
      // 0x1F / 0b101 (an identifier if other characters follow)
      const hex = (buf[p + 1] | 0x20) === 0x78;
      i = p + 2;
      while (i < lim && cc[buf[i]] & CC_IDENT) {
        const x = buf[i];
        if (hex ? !(cc[x] & CC_HEX) : x !== 0x30 && x !== 0x31) word = true;
        i++;
      }
      if (i === p + 2) word = true;
    } else {
      while (i < lim && cc[buf[i]] & CC_DIGIT) i++;
      if (i < lim && buf[i] === 0x2e) {
        i++;
        while (i < lim && cc[buf[i]] & CC_DIGIT) i++;
      }
      if (i < lim && (buf[i] | 0x20) === 0x65 /* e */) {
        let j = i + 1;
        if (j < lim && (buf[j] === 0x2b || buf[j] === 0x2d)) j++;
        if (j < lim && cc[buf[j]] & CC_DIGIT) {
          i = j;
          while (i < lim && cc[buf[i]] & CC_DIGIT) i++;
        }
      }
      if (i < lim && cc[buf[i]] & CC_IDENT && buf[p] !== 0x2e) {
        // 123abc is an identifier
        word = true;
        while (i < lim && cc[buf[i]] & CC_IDENT) i++;
      }
    }
    this.pos = this.end = i;
    if (word) {
      let h = FNV_OFF;
      for (let k = p; k < i; k++) h = Math.imul(h ^ (buf[k] | 0x20), FNV_PRIME);
      this.h = h;
      return (this.type = Tok.Word);
    }
    return (this.type = Tok.Number);
  }
}

function isIntroLetter(b: number): boolean {
  const l = b | 0x20;
  return l === 0x78 /* x */ || l === 0x62 /* b */ || l === 0x6e /* n */;
}

/** @internal Decode bytes as UTF-8 (the connection charset is normally utf8/utf8mb4). */
export function utf8(buf: Buffer, s: number, e: number): string {
  return buf.toString('utf8', s, e);
}

// ---------------------------------------------------------------------------------------------------------
// Keywords
// ---------------------------------------------------------------------------------------------------------

const enum K {
  None = 0,
  SELECT,
  INSERT,
  UPDATE,
  DELETE,
  REPLACE,
  SET,
  SHOW,
  USE,
  BEGIN,
  START,
  COMMIT,
  ROLLBACK,
  SAVEPOINT,
  RELEASE,
  LOCK,
  UNLOCK,
  CREATE,
  DROP,
  ALTER,
  TRUNCATE,
  RENAME,
  KILL,
  PREPARE,
  EXECUTE,
  DEALLOCATE,
  CALL,
  DO,
  LOAD,
  HANDLER,
  FLUSH,
  GRANT,
  REVOKE,
  ANALYZE,
  OPTIMIZE,
  CHECK,
  EXPLAIN,
  DESCRIBE,
  DESC,
  HELP,
  WITH,
  VALUES,
  TABLE,
  XA,
  SLUICE,
  IF,
  CASE,
  LOOP,
  WHILE,
  REPEAT,
  // secondary
  TRANSACTION,
  WORK,
  NOT,
  TO,
  TABLES,
  TEMPORARY,
  PROCEDURE,
  FUNCTION,
  TRIGGER,
  EVENT,
  PACKAGE,
  VIEW,
  INDEX,
  DATABASE,
  SCHEMA,
  SEQUENCE,
  SERVER,
  TABLESPACE,
  DATA,
  XML,
  READ,
  ONLY,
  IN,
  SHARE,
  MODE,
  FOR,
  INTO,
  OUTFILE,
  DUMPFILE,
  SQL_CALC_FOUND_ROWS,
  GET_LOCK,
  RELEASE_LOCK,
  RELEASE_ALL_LOCKS,
  IS_FREE_LOCK,
  IS_USED_LOCK,
  LAST_INSERT_ID,
  FOUND_ROWS,
  NEXTVAL,
  SETVAL,
  LASTVAL,
  NEXT,
  PREVIOUS,
  VALUE,
  CONNECTION_ID,
  INFORMATION_SCHEMA,
  PERFORMANCE_SCHEMA,
  MYSQL,
  SYS,
  FROM,
  GLOBAL,
  SESSION,
  LOCAL,
  PERSIST,
  PERSIST_ONLY,
  NAMES,
  CHARACTER,
  CHARSET,
  PASSWORD,
  ROLE,
  DEFAULT,
  STATEMENT,
  AUTOCOMMIT,
  CONNECTION,
  QUERY,
  HARD,
  SOFT,
  ID,
  USER,
  EXPORT,
}

const KW = new KeywordTable([
  ['select', K.SELECT],
  ['insert', K.INSERT],
  ['update', K.UPDATE],
  ['delete', K.DELETE],
  ['replace', K.REPLACE],
  ['set', K.SET],
  ['show', K.SHOW],
  ['use', K.USE],
  ['begin', K.BEGIN],
  ['start', K.START],
  ['commit', K.COMMIT],
  ['rollback', K.ROLLBACK],
  ['savepoint', K.SAVEPOINT],
  ['release', K.RELEASE],
  ['lock', K.LOCK],
  ['unlock', K.UNLOCK],
  ['create', K.CREATE],
  ['drop', K.DROP],
  ['alter', K.ALTER],
  ['truncate', K.TRUNCATE],
  ['rename', K.RENAME],
  ['kill', K.KILL],
  ['prepare', K.PREPARE],
  ['execute', K.EXECUTE],
  ['deallocate', K.DEALLOCATE],
  ['call', K.CALL],
  ['do', K.DO],
  ['load', K.LOAD],
  ['handler', K.HANDLER],
  ['flush', K.FLUSH],
  ['grant', K.GRANT],
  ['revoke', K.REVOKE],
  ['analyze', K.ANALYZE],
  ['optimize', K.OPTIMIZE],
  ['check', K.CHECK],
  ['explain', K.EXPLAIN],
  ['describe', K.DESCRIBE],
  ['desc', K.DESC],
  ['help', K.HELP],
  ['with', K.WITH],
  ['values', K.VALUES],
  ['table', K.TABLE],
  ['xa', K.XA],
  ['sluice', K.SLUICE],
  ['if', K.IF],
  ['case', K.CASE],
  ['loop', K.LOOP],
  ['while', K.WHILE],
  ['repeat', K.REPEAT],
  ['transaction', K.TRANSACTION],
  ['work', K.WORK],
  ['not', K.NOT],
  ['to', K.TO],
  ['tables', K.TABLES],
  ['temporary', K.TEMPORARY],
  ['procedure', K.PROCEDURE],
  ['function', K.FUNCTION],
  ['trigger', K.TRIGGER],
  ['event', K.EVENT],
  ['package', K.PACKAGE],
  ['view', K.VIEW],
  ['index', K.INDEX],
  ['database', K.DATABASE],
  ['schema', K.SCHEMA],
  ['sequence', K.SEQUENCE],
  ['server', K.SERVER],
  ['tablespace', K.TABLESPACE],
  ['data', K.DATA],
  ['xml', K.XML],
  ['read', K.READ],
  ['only', K.ONLY],
  ['in', K.IN],
  ['share', K.SHARE],
  ['mode', K.MODE],
  ['for', K.FOR],
  ['into', K.INTO],
  ['outfile', K.OUTFILE],
  ['dumpfile', K.DUMPFILE],
  ['sql_calc_found_rows', K.SQL_CALC_FOUND_ROWS],
  ['get_lock', K.GET_LOCK],
  ['release_lock', K.RELEASE_LOCK],
  ['release_all_locks', K.RELEASE_ALL_LOCKS],
  ['is_free_lock', K.IS_FREE_LOCK],
  ['is_used_lock', K.IS_USED_LOCK],
  ['last_insert_id', K.LAST_INSERT_ID],
  ['found_rows', K.FOUND_ROWS],
  ['nextval', K.NEXTVAL],
  ['setval', K.SETVAL],
  ['lastval', K.LASTVAL],
  ['next', K.NEXT],
  ['previous', K.PREVIOUS],
  ['value', K.VALUE],
  ['connection_id', K.CONNECTION_ID],
  ['information_schema', K.INFORMATION_SCHEMA],
  ['performance_schema', K.PERFORMANCE_SCHEMA],
  ['mysql', K.MYSQL],
  ['sys', K.SYS],
  ['from', K.FROM],
  ['global', K.GLOBAL],
  ['session', K.SESSION],
  ['local', K.LOCAL],
  ['persist', K.PERSIST],
  ['persist_only', K.PERSIST_ONLY],
  ['names', K.NAMES],
  ['character', K.CHARACTER],
  ['charset', K.CHARSET],
  ['password', K.PASSWORD],
  ['role', K.ROLE],
  ['default', K.DEFAULT],
  ['statement', K.STATEMENT],
  ['autocommit', K.AUTOCOMMIT],
  ['connection', K.CONNECTION],
  ['query', K.QUERY],
  ['hard', K.HARD],
  ['soft', K.SOFT],
  ['id', K.ID],
  ['user', K.USER],
  ['export', K.EXPORT],
]);

// ---------------------------------------------------------------------------------------------------------
// Statement lexer
// ---------------------------------------------------------------------------------------------------------

const F = StatementFlag;
const EMPTY: readonly string[] = Object.freeze([]);
const T = new Tokenizer();

// per-call state (lexStatement is synchronous and not re-entrant)
let flags = 0;
let curKind: StatementKind = StatementKind.Unknown;
/** keyword ids of the last three tokens (0 for non-keywords) */
let k1 = 0;
let k2 = 0;
let k3 = 0;
/** previous token was '.' */
let lastDot = false;
let vars: string[] | null = null;
let killInfo: StatementInfo['kill'] = null;
let useSchema: string | null = null;

export function lexStatement(sql: Buffer, start: number, end: number, opts: LexOptions): StatementInfo {
  T.reset(sql, start, end, opts.noBackslashEscapes, opts.ansiQuotes);
  flags = 0;
  vars = null;
  killInfo = null;
  useSchema = null;
  const kind = parseOne();
  // parseOne stops at EOF or at a ';'
  while (T.type !== Tok.EOF) {
    if (T.next() === Tok.EOF) break;
    flags |= F.MULTI_STATEMENT;
    T.unget();
    parseOne();
  }
  let f = flags;
  if (T.execSeen) f |= F.EXECUTABLE_COMMENT;
  const hint = T.hint;
  if (hint !== null) f |= F.HAS_HINT;
  const result: StatementInfo = {
    kind,
    flags: f,
    hint,
    userVarsAssigned: vars === null ? EMPTY : vars,
    kill: killInfo,
    useSchema,
  };
  vars = null;
  killInfo = null;
  useSchema = null;
  return result;
}

function kwOf(): number {
  return KW.find(T.buf, T.start, T.end, T.h);
}

function qidentKw(): number {
  return KW.find(T.buf, T.start + 1, T.cEnd, T.h);
}

function isSemicolon(t: Tok): boolean {
  return t === Tok.Punct && T.ch === 0x3b;
}

/** Parse one statement; returns its kind. Leaves the tokenizer on EOF or on the terminating ';'. */
function parseOne(): StatementKind {
  k1 = k2 = k3 = 0;
  lastDot = false;
  curKind = StatementKind.Unknown;
  dispatch(T.next());
  return curKind;
}

function dispatch(t: Tok): void {
  if (t === Tok.Word) {
    statement(kwOf());
    return;
  }
  if (t === Tok.EOF || isSemicolon(t)) {
    curKind = StatementKind.Unknown;
    return;
  }
  if (t === Tok.Punct && T.ch === 0x28 /* ( */) {
    do t = T.next();
    while (t === Tok.Punct && T.ch === 0x28);
    curKind = StatementKind.Unknown;
    if (t === Tok.Word) {
      switch (kwOf()) {
        case K.SELECT:
          curKind = StatementKind.Select;
          break;
        case K.WITH:
          curKind = StatementKind.With;
          break;
        case K.VALUES:
          curKind = StatementKind.Values;
          break;
        case K.TABLE:
          curKind = StatementKind.Table;
          break;
        default:
          T.unget();
      }
    } else {
      T.unget();
    }
    bodyScan();
    return;
  }
  curKind = StatementKind.Unknown;
  T.unget();
  bodyScan();
}

function statement(kw: number): void {
  switch (kw) {
    case K.SELECT:
      return simple(StatementKind.Select);
    case K.INSERT:
      return simple(StatementKind.Insert);
    case K.UPDATE:
      return simple(StatementKind.Update);
    case K.DELETE:
      return simple(StatementKind.Delete);
    case K.REPLACE:
      return simple(StatementKind.Replace);
    case K.SET:
      return parseSet();
    case K.SHOW:
      return simple(StatementKind.Show);
    case K.USE:
      return parseUse();
    case K.BEGIN: {
      const t = T.next();
      if (t === Tok.Word && kwOf() === K.NOT) {
        // BEGIN NOT ATOMIC ... END: a compound statement, its ';' are internal
        curKind = StatementKind.Other;
        T.skipToEnd();
        return;
      }
      T.unget();
      return simple(StatementKind.Begin);
    }
    case K.START: {
      const t = T.next();
      if (t === Tok.Word && kwOf() === K.TRANSACTION) return simple(StatementKind.Begin);
      T.unget();
      return simple(StatementKind.Other);
    }
    case K.COMMIT:
      return simple(StatementKind.Commit);
    case K.ROLLBACK: {
      let t = T.next();
      if (t === Tok.Word && kwOf() === K.WORK) t = T.next();
      if (t === Tok.Word && kwOf() === K.TO) return simple(StatementKind.Savepoint);
      T.unget();
      return simple(StatementKind.Rollback);
    }
    case K.SAVEPOINT:
      return simple(StatementKind.Savepoint);
    case K.RELEASE:
      return simple(StatementKind.Release);
    case K.LOCK: {
      const t = T.next();
      if (t === Tok.Word) {
        const k = kwOf();
        if (k === K.TABLE || k === K.TABLES) {
          flags |= F.LOCK_TABLES;
          return simple(StatementKind.Lock);
        }
      }
      T.unget();
      return simple(StatementKind.Lock);
    }
    case K.UNLOCK: {
      const t = T.next();
      if (t === Tok.Word) {
        const k = kwOf();
        if (k === K.TABLE || k === K.TABLES) {
          flags |= F.UNLOCK_TABLES;
          return simple(StatementKind.Unlock);
        }
      }
      T.unget();
      return simple(StatementKind.Unlock);
    }
    case K.CREATE:
      return parseCreate();
    case K.DROP: {
      const t = T.next();
      if (t === Tok.Word) {
        const k = kwOf();
        if (k === K.TEMPORARY) {
          flags |= F.TEMPORARY;
          return simple(StatementKind.Drop);
        }
        if (k === K.PREPARE) return simple(StatementKind.Deallocate);
      }
      T.unget();
      return simple(StatementKind.Drop);
    }
    case K.ALTER:
      return simple(StatementKind.Alter);
    case K.TRUNCATE:
      return simple(StatementKind.Truncate);
    case K.RENAME:
      return simple(StatementKind.Rename);
    case K.KILL:
      return parseKill();
    case K.PREPARE:
      return simple(StatementKind.Prepare);
    case K.EXECUTE:
      return simple(StatementKind.Execute);
    case K.DEALLOCATE:
      return simple(StatementKind.Deallocate);
    case K.CALL:
      return simple(StatementKind.Call);
    case K.DO:
      return simple(StatementKind.Do);
    case K.LOAD: {
      const t = T.next();
      if (t === Tok.Word) {
        const k = kwOf();
        if (k === K.DATA || k === K.XML) return simple(StatementKind.Load);
      }
      T.unget();
      return simple(StatementKind.Other);
    }
    case K.HANDLER:
      return simple(StatementKind.Handler);
    case K.FLUSH:
      return simple(StatementKind.Flush);
    case K.GRANT:
      return simple(StatementKind.Grant);
    case K.REVOKE:
      return simple(StatementKind.Revoke);
    case K.ANALYZE:
      return simple(StatementKind.Analyze);
    case K.OPTIMIZE:
      return simple(StatementKind.Optimize);
    case K.CHECK:
      return simple(StatementKind.Check);
    case K.EXPLAIN:
    case K.DESCRIBE:
    case K.DESC:
      return simple(StatementKind.Explain);
    case K.HELP:
      return simple(StatementKind.Help);
    case K.WITH:
      return simple(StatementKind.With);
    case K.VALUES:
      return simple(StatementKind.Values);
    case K.TABLE:
      return simple(StatementKind.Table);
    case K.XA:
      return simple(StatementKind.Xa);
    case K.SLUICE:
      return simple(StatementKind.Sluice);
    case K.IF:
    case K.CASE:
    case K.LOOP:
    case K.WHILE:
    case K.REPEAT:
      // MariaDB compound statements outside stored programs: their ';' are internal
      curKind = StatementKind.Other;
      T.skipToEnd();
      return;
    default:
      return simple(StatementKind.Other);
  }
}

function simple(kind: StatementKind): void {
  curKind = kind;
  bodyScan();
}

/** Scan the rest of the statement for flags, up to EOF or ';'. Resolves WITH to the main statement's kind. */
function bodyScan(): void {
  let depth = 0;
  let d0close = false;
  for (;;) {
    const t = T.next();
    if (t === Tok.EOF) return;
    if (t === Tok.Punct && T.ch === 0x3b) return;
    if (curKind === StatementKind.With) {
      if (t === Tok.Punct) {
        const ch = T.ch;
        if (ch === 0x28) {
          if (depth === 0 && d0close) curKind = StatementKind.Select; // WITH c AS (...) (SELECT ...)
          depth++;
          d0close = false;
        } else if (ch === 0x29) {
          depth--;
          d0close = depth === 0;
        } else if (depth === 0) {
          d0close = false;
        }
      } else if (depth === 0) {
        d0close = false;
        if (t === Tok.Word) {
          switch (kwOf()) {
            case K.SELECT:
              curKind = StatementKind.Select;
              break;
            case K.UPDATE:
              curKind = StatementKind.Update;
              break;
            case K.DELETE:
              curKind = StatementKind.Delete;
              break;
            case K.INSERT:
              curKind = StatementKind.Insert;
              break;
            case K.REPLACE:
              curKind = StatementKind.Replace;
              break;
            case K.VALUES:
              curKind = StatementKind.Values;
              break;
            case K.TABLE:
              curKind = StatementKind.Table;
              break;
          }
        }
      }
    }
    handleToken(t);
  }
}

/** Flags that can come from any token of any statement. */
function handleToken(t: Tok): void {
  let kw = 0;
  switch (t) {
    case Tok.Word:
      kw = kwOf();
      if (kw !== 0) wordFlags(kw);
      break;
    case Tok.UserVar:
      if (
        T.prevEnd === T.start &&
        (T.prevType === Tok.String || T.prevType === Tok.QIdent || T.prevType === Tok.Word)
      ) {
        break; // 'user'@'host'
      }
      if (T.peekAssign()) {
        flags |= F.USER_VAR_WRITE;
        addVar();
      } else {
        flags |= F.USER_VAR_READ;
      }
      break;
    case Tok.QIdent: {
      const q = qidentKw();
      if (q === K.INFORMATION_SCHEMA || q === K.PERFORMANCE_SCHEMA) {
        if (!lastDot) flags |= F.SYSTEM_SCHEMA;
      } else if (q === K.MYSQL || q === K.SYS) {
        if (!lastDot && (T.peekByte() === 0x2e || k1 === K.FROM || k1 === K.IN)) flags |= F.SYSTEM_SCHEMA;
      }
      break;
    }
    case Tok.Punct:
      k3 = k2;
      k2 = k1;
      k1 = 0;
      lastDot = T.ch === 0x2e;
      return;
  }
  k3 = k2;
  k2 = k1;
  k1 = kw;
  lastDot = false;
}

function wordFlags(kw: number): void {
  switch (kw) {
    case K.UPDATE:
      if (k1 === K.FOR) flags |= F.FOR_UPDATE;
      return;
    case K.SHARE:
      if (k1 === K.FOR) flags |= F.FOR_SHARE;
      return;
    case K.MODE:
      if (k1 === K.SHARE && k2 === K.IN && k3 === K.LOCK) flags |= F.FOR_SHARE;
      return;
    case K.FOR:
      if (k1 === K.VALUE && (k2 === K.NEXT || k2 === K.PREVIOUS)) flags |= F.NEXTVAL;
      return;
    case K.INTO:
      if (
        curKind === StatementKind.Select ||
        curKind === StatementKind.Table ||
        curKind === StatementKind.Values
      ) {
        flags |= F.INTO;
        intoList();
      }
      return;
    case K.SQL_CALC_FOUND_ROWS:
      flags |= F.SQL_CALC_FOUND_ROWS;
      return;
    case K.GET_LOCK:
      if (isCall()) flags |= F.GET_LOCK;
      return;
    case K.RELEASE_LOCK:
    case K.RELEASE_ALL_LOCKS:
      if (isCall()) flags |= F.RELEASE_LOCK;
      return;
    case K.IS_FREE_LOCK:
    case K.IS_USED_LOCK:
      if (isCall()) flags |= F.LOCK_FUNCTION;
      return;
    case K.LAST_INSERT_ID:
      if (isCall()) flags |= F.LAST_INSERT_ID;
      return;
    case K.FOUND_ROWS:
      if (isCall()) flags |= F.FOUND_ROWS;
      return;
    case K.NEXTVAL:
    case K.SETVAL:
    case K.LASTVAL:
      if (isCall()) flags |= F.NEXTVAL;
      return;
    case K.CONNECTION_ID:
      if (isCall()) flags |= F.CONNECTION_ID;
      return;
    case K.INFORMATION_SCHEMA:
    case K.PERFORMANCE_SCHEMA:
      if (!lastDot) flags |= F.SYSTEM_SCHEMA;
      return;
    case K.MYSQL:
    case K.SYS:
      if (!lastDot && (T.peekByte() === 0x2e || k1 === K.FROM || k1 === K.IN)) flags |= F.SYSTEM_SCHEMA;
      return;
    case K.LOCK:
      if (curKind === StatementKind.Flush && k1 === K.READ && k2 === K.WITH) flags |= F.FLUSH_READ_LOCK;
      return;
    case K.EXPORT:
      if (curKind === StatementKind.Flush && k1 === K.FOR) flags |= F.FLUSH_READ_LOCK;
      return;
    case K.ONLY:
      if (curKind === StatementKind.Begin && k1 === K.READ) flags |= F.READ_ONLY_TRANSACTION;
      return;
  }
}

/** builtin function call: name not qualified (no '.' before), followed by optional whitespace and '(' */
function isCall(): boolean {
  return !lastDot && T.peekByte() === 0x28;
}

/** after SELECT ... INTO: @a, @b (or local variables) / OUTFILE / DUMPFILE */
function intoList(): void {
  for (;;) {
    let t = T.next();
    if (t === Tok.UserVar) {
      flags |= F.USER_VAR_WRITE;
      addVar();
    } else if (t === Tok.Word) {
      const k = kwOf();
      if (k === K.OUTFILE || k === K.DUMPFILE) return;
      // a stored-program local variable
    } else if (t !== Tok.QIdent) {
      T.unget();
      return;
    }
    t = T.next();
    if (t !== Tok.Punct || T.ch !== 0x2c) {
      T.unget();
      return;
    }
  }
}

/** record the current UserVar token as assigned */
function addVar(): void {
  let name: string;
  if (T.vq === 0) {
    name = utf8(T.buf, T.start + 1, T.end);
  } else {
    name = unquote(T.buf, T.start + 2, T.cEnd, T.vq, T.vq !== 0x60 && !T.nbe);
  }
  name = name.toLowerCase();
  if (vars === null) vars = [name];
  else if (!vars.includes(name)) vars.push(name);
}

/** content of a quoted string/identifier with doubled quotes (and backslash escapes if esc) resolved */
function unquote(buf: Buffer, s: number, e: number, quote: number, esc: boolean): string {
  let simpleContent = true;
  for (let i = s; i < e; i++) {
    if (buf[i] === quote || (esc && buf[i] === 0x5c)) {
      simpleContent = false;
      break;
    }
  }
  if (simpleContent) return utf8(buf, s, e);
  const out = Buffer.allocUnsafe(e - s);
  let n = 0;
  for (let i = s; i < e; i++) {
    const b = buf[i];
    if (b === quote && i + 1 < e && buf[i + 1] === quote) {
      out[n++] = b;
      i++;
    } else if (esc && b === 0x5c && i + 1 < e) {
      const x = buf[++i];
      out[n++] = x === 0x6e ? 0x0a : x === 0x74 ? 0x09 : x === 0x72 ? 0x0d : x === 0x30 ? 0 : x;
    } else {
      out[n++] = b;
    }
  }
  return utf8(out, 0, n);
}

// ---- SET ------------------------------------------------------------------------------------------------

function parseSet(): void {
  curKind = StatementKind.Set;
  let t = T.next();
  if (t === Tok.Word) {
    switch (kwOf()) {
      case K.TRANSACTION:
        flags |= F.SET_TRANSACTION;
        bodyScan();
        return;
      case K.STATEMENT:
        setStatement();
        return;
      case K.PASSWORD:
        bodyScan();
        return;
      case K.DEFAULT:
        if (T.peekByte() !== 0x2e) {
          bodyScan(); // SET DEFAULT ROLE
          return;
        }
        break;
      case K.ROLE:
        flags |= F.SESSION_SYSVAR_WRITE;
        bodyScan();
        return;
    }
  }
  T.unget();
  let globalScope = false; // the most recent GLOBAL/SESSION keyword applies to the following assignments
  for (;;) {
    t = T.next();
    if (t === Tok.EOF || isSemicolon(t)) return;
    let kw = t === Tok.Word ? kwOf() : 0;
    if (kw === K.GLOBAL || kw === K.PERSIST || kw === K.PERSIST_ONLY || kw === K.SESSION || kw === K.LOCAL) {
      globalScope = kw === K.GLOBAL || kw === K.PERSIST || kw === K.PERSIST_ONLY;
      t = T.next();
      kw = t === Tok.Word ? kwOf() : 0;
      if (kw === K.TRANSACTION) {
        flags |= globalScope ? F.GLOBAL_SYSVAR_WRITE : F.SESSION_SYSVAR_WRITE;
        bodyScan();
        return;
      }
    }
    switch (t) {
      case Tok.UserVar:
        flags |= F.USER_VAR_WRITE;
        addVar();
        break;
      case Tok.SysVar:
        sysVarTarget();
        break;
      case Tok.Word:
        if (kw === K.NAMES || kw === K.CHARSET || kw === K.CHARACTER) {
          flags |= F.SESSION_SYSVAR_WRITE;
        } else {
          flags |= globalScope ? F.GLOBAL_SYSVAR_WRITE : F.SESSION_SYSVAR_WRITE;
          if (kw === K.AUTOCOMMIT && !globalScope) flags |= F.AUTOCOMMIT_WRITE;
        }
        break;
      case Tok.QIdent:
        flags |= globalScope ? F.GLOBAL_SYSVAR_WRITE : F.SESSION_SYSVAR_WRITE;
        if (!globalScope && qidentKw() === K.AUTOCOMMIT) flags |= F.AUTOCOMMIT_WRITE;
        break;
      case Tok.EOF:
        return;
      default:
        if (isSemicolon(t)) return;
        T.unget();
    }
    if (!skipExpr()) return;
  }
}

/** SET @@[scope.]name */
function sysVarTarget(): void {
  const buf = T.buf;
  const s = T.start + 2;
  const e = T.end;
  let dot = s;
  while (dot < e && buf[dot] !== 0x2e) dot++;
  let global = false;
  let nameStart = s;
  if (dot < e) {
    if (eqIgnoreCase(buf, s, dot, 'global') || eqIgnoreCase(buf, s, dot, 'persist') || eqIgnoreCase(buf, s, dot, 'persist_only')) {
      global = true;
      nameStart = dot + 1;
    } else if (eqIgnoreCase(buf, s, dot, 'session') || eqIgnoreCase(buf, s, dot, 'local')) {
      nameStart = dot + 1;
    }
  }
  if (global) {
    flags |= F.GLOBAL_SYSVAR_WRITE;
  } else {
    flags |= F.SESSION_SYSVAR_WRITE;
    if (eqIgnoreCase(buf, nameStart, e, 'autocommit')) flags |= F.AUTOCOMMIT_WRITE;
  }
}

function eqIgnoreCase(buf: Uint8Array, s: number, e: number, lower: string): boolean {
  if (e - s !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if ((buf[s + i] | 0x20) !== (lower.charCodeAt(i) | 0x20)) return false;
  return true;
}

/** Skip an assignment's "= expr" up to a top-level ',' (returns true) or the end of the statement (false). */
function skipExpr(): boolean {
  let depth = 0;
  for (;;) {
    const t = T.next();
    if (t === Tok.EOF) return false;
    if (t === Tok.Punct) {
      const ch = T.ch;
      if (ch === 0x3b) return false;
      if (ch === 0x2c && depth === 0) {
        k1 = k2 = k3 = 0;
        return true;
      }
      if (ch === 0x28) depth++;
      else if (ch === 0x29) depth--;
    }
    handleToken(t);
  }
}

/** MariaDB SET STATEMENT var=value[, ...] FOR <statement>: the kind and flags are the inner statement's */
function setStatement(): void {
  let depth = 0;
  for (;;) {
    const t = T.next();
    if (t === Tok.EOF) return;
    if (t === Tok.Punct) {
      const ch = T.ch;
      if (ch === 0x3b) return;
      if (ch === 0x28) depth++;
      else if (ch === 0x29) depth--;
    } else if (t === Tok.Word && depth === 0 && kwOf() === K.FOR) {
      break;
    }
  }
  k1 = k2 = k3 = 0;
  lastDot = false;
  curKind = StatementKind.Unknown;
  dispatch(T.next());
}

// ---- USE, KILL, CREATE ------------------------------------------------------------------------------------

function parseUse(): void {
  curKind = StatementKind.Use;
  const t = T.next();
  let kw = 0;
  if (t === Tok.Word) {
    useSchema = utf8(T.buf, T.start, T.end);
    kw = kwOf();
  } else if (t === Tok.QIdent) {
    const q = T.buf[T.start];
    useSchema = unquote(T.buf, T.start + 1, T.cEnd, q, false);
    kw = qidentKw();
  } else {
    T.unget();
    bodyScan();
    return;
  }
  flags |= F.DB_CHANGE;
  if (kw === K.MYSQL || kw === K.SYS || kw === K.INFORMATION_SCHEMA || kw === K.PERFORMANCE_SCHEMA) {
    flags |= F.SYSTEM_SCHEMA;
  }
  bodyScan();
}

function parseKill(): void {
  curKind = StatementKind.Kill;
  let query = false;
  let queryId = false;
  let t = T.next();
  if (t === Tok.Word) {
    let kw = kwOf();
    if (kw === K.HARD || kw === K.SOFT) {
      t = T.next();
      kw = t === Tok.Word ? kwOf() : 0;
    }
    if (kw === K.CONNECTION) {
      t = T.next();
    } else if (kw === K.QUERY) {
      query = true;
      t = T.next();
      if (t === Tok.Word && kwOf() === K.ID) {
        queryId = true;
        t = T.next();
      }
    }
  }
  if (t === Tok.Number) {
    const id = decimal(T.buf, T.start, T.end);
    if (id >= 0) killInfo = { id, query, queryId };
  } else {
    T.unget();
  }
  bodyScan();
}

function decimal(buf: Uint8Array, s: number, e: number): number {
  if (e - s > 15 || e <= s) return -1;
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function parseCreate(): void {
  curKind = StatementKind.Create;
  // header: [OR REPLACE] [TEMPORARY] [DEFINER = user] [SQL SECURITY ...] [ALGORITHM = ...] ... <object>
  for (let i = 0; i < 24; i++) {
    const t = T.next();
    if (t === Tok.EOF) return;
    if (t === Tok.Punct) {
      if (T.ch === 0x3b) return;
      if (T.ch === 0x28) {
        T.unget();
        break;
      }
      continue;
    }
    if (t !== Tok.Word) continue;
    const kw = kwOf();
    if (kw === K.TEMPORARY) {
      flags |= F.TEMPORARY;
    } else if (kw === K.PROCEDURE || kw === K.FUNCTION || kw === K.TRIGGER || kw === K.EVENT || kw === K.PACKAGE) {
      // stored program definition: nothing in the body runs now, and its ';' are internal
      T.skipToEnd();
      return;
    } else if (
      kw === K.TABLE ||
      kw === K.VIEW ||
      kw === K.INDEX ||
      kw === K.DATABASE ||
      kw === K.SCHEMA ||
      kw === K.USER ||
      kw === K.ROLE ||
      kw === K.SEQUENCE ||
      kw === K.SERVER ||
      kw === K.TABLESPACE
    ) {
      break;
    }
  }
  bodyScan();
}
