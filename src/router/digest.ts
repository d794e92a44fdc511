/**
 * Statement digest: normalized text + 64-bit FNV-1a hash, for statistics (and caches keyed by statement shape).
 *
 * Normalization (token based, over the bytes, using the same tokenizer as the lexer):
 * - literals → `?`: numbers (with a leading sign when it is unary), strings (adjacent strings 'a' 'b' are one),
 *   x'..' / b'..' / 0x.. / 0b.., _charset'..' (placeholders `?` stay `?`);
 * - `IN (?, ?, ?)` → `IN (...)`; multi-row `VALUES (?, ?), (?, ?)` → `VALUES (?, ?), ...`;
 * - comments removed (hints too); the content of executable comments `/*! ... *\/` is kept as SQL;
 * - keywords and well-known function names upper-cased, other identifiers kept as written;
 *   a back-quoted (or ANSI double-quoted) identifier is written bare when it needs no quoting, else in backticks;
 * - whitespace normalized: one space between tokens, except none after `(` `.` and `@`, none before `)` `,`
 *   `.` `;`, and none before `(` of a function call (an identifier or function name directly followed by `(` in
 *   the source; other keywords always get a space: `IN (`, `VALUES (`);
 * - trailing `;` dropped.
 * hash = FNV-1a 64 of the UTF-8 bytes of `text`.
 */
import { CC, CC_DIGIT, CC_IDENT, KeywordTable, Tok, Tokenizer, type LexOptions } from './lexer.js';

export interface Digest {
  text: string;
  hash: bigint;
  /**
   * The statistics entry of this digest, kept by DigestStats (`entryOf`) so that a prepared statement's
   * executes find it without a map lookup by text; valid while `statsGeneration` matches.
   */
  statsEntry: unknown;
  statsGeneration: number;
}

const KEYWORDS = `
accessible add all alter analyze and as asc asensitive before begin between bigint binary blob both by call cascade
case change char character charset check collate column columns commit committed condition consistent constraint
continue convert create cross cube current_date current_role current_time current_timestamp current_user cursor
data database databases day_hour day_microsecond day_minute day_second deallocate dec decimal declare default
delayed delete desc describe deterministic distinct distinctrow div do double drop dual duplicate each else elseif
enclosed end escaped event except execute exists exit explain false fetch first flush for force foreign from
fulltext function generated global grant group grouping groups handler having help high_priority hour_microsecond
hour_minute hour_second if ignore in index infile inner inout insensitive insert int integer intersect interval
into is isolation iterate join key keys kill last lateral leading leave left level like limit linear lines load
local localtime localtimestamp lock locked long longblob longtext loop low_priority match maxvalue mediumblob
mediumint mediumtext minute_microsecond minute_second mod mode modifies names natural next no no_write_to_binlog
not nowait null numeric of offset on only optimize option optionally or order out outer outfile over partition
precision prepare previous primary procedure purge quick range read reads read_write real recursive references
regexp release rename repeat repeatable replace require resignal restrict return returning revoke right rlike
rollback row rows savepoint schema schemas second_microsecond select sensitive separator sequence serializable
session set share show signal skip smallint snapshot spatial specific sql sql_big_result sql_buffer_result
sql_cache sql_calc_found_rows sql_no_cache sql_small_result sqlexception sqlstate sqlwarning ssl start starting
statement straight_join system table tables temporary terminated then tinyblob tinyint tinytext to trailing
transaction trigger true truncate uncommitted undo union unique unlock unsigned update usage use using utc_date
utc_time utc_timestamp value values varbinary varchar varcharacter varying view virtual wait when where while
window with work write xa xor year_month zerofill dumpfile
`;

const FUNCTIONS = `
abs avg bit_and bit_or bit_xor cast ceil ceiling char_length coalesce concat concat_ws connection_id count curdate
curtime date_add date_format date_sub datediff dense_rank found_rows from_unixtime get_lock greatest group_concat
hex ifnull instr is_free_lock is_used_lock json_array json_extract json_object json_unquote lag last_insert_id
lastval lcase lead least length locate lower lpad ltrim max md5 min now nextval nullif rand rank release_all_locks
release_lock round row_count row_number rpad rtrim setval sha1 sha2 sign sqrt str_to_date substr substring
substring_index sum sysdate timestampadd timestampdiff trim ucase unhex unix_timestamp upper uuid version
if char left right replace insert database user schema convert mod repeat truncate row match current_user
current_date current_time current_timestamp localtime localtimestamp utc_date utc_time utc_timestamp year month
day hour minute second date time timestamp week quarter position
`;

const enum KwKind {
  Keyword = 1,
  Function = 2,
  In = 3,
  Values = 4,
  /** NULL / DEFAULT / TRUE / FALSE: allowed inside collapsible VALUES rows */
  Constant = 5,
}

const DKW = (() => {
  const entries: Array<[string, number]> = [];
  const seen = new Set<string>();
  const add = (w: string, k: KwKind) => {
    if (!w || seen.has(w)) return;
    seen.add(w);
    entries.push([w, k]);
  };
  add('in', KwKind.In);
  add('values', KwKind.Values);
  add('value', KwKind.Values);
  for (const w of ['null', 'default', 'true', 'false']) add(w, KwKind.Constant);
  for (const w of FUNCTIONS.split(/\s+/)) add(w, KwKind.Function);
  for (const w of KEYWORDS.split(/\s+/)) add(w, KwKind.Keyword);
  return new KeywordTable(entries);
})();

const enum C {
  None,
  Ident,
  Keyword,
  Func,
  Literal,
  Open,
  Close,
  Comma,
  Dot,
  Semi,
  Op,
  At,
  Var,
}

const T = new Tokenizer();
let out = Buffer.allocUnsafe(4096);
let n = 0;

function ensure(k: number): void {
  if (n + k <= out.length) return;
  let size = out.length * 2;
  while (size < n + k) size *= 2;
  const b = Buffer.allocUnsafe(size);
  out.copy(b, 0, 0, n);
  out = b;
}

function put(b: number): void {
  out[n++] = b;
}

function putStr(s: string): void {
  for (let i = 0; i < s.length; i++) out[n++] = s.charCodeAt(i);
}

/** 2/3-byte operators (first byte = current Punct) */
function opLength(ch: number): number {
  const a = T.byteAfter(0);
  const b = T.byteAfter(1);
  switch (ch) {
    case 0x3c: // <
      if (a === 0x3d) return b === 0x3e ? 3 : 2; // <= <=>
      return a === 0x3e || a === 0x3c ? 2 : 1; // <> <<
    case 0x3e: // >
      return a === 0x3d || a === 0x3e ? 2 : 1; // >= >>
    case 0x21: // !
      return a === 0x3d ? 2 : 1;
    case 0x7c: // |
      return a === 0x7c ? 2 : 1;
    case 0x26: // &
      return a === 0x26 ? 2 : 1;
    case 0x2d: // -
      if (a === 0x3e) return b === 0x3e ? 3 : 2; // -> ->>
      return 1;
  }
  return 1;
}

export function digest(sql: Buffer, start: number, end: number, opts: LexOptions): Digest {
  T.reset(sql, start, end, opts.noBackslashEscapes, opts.ansiQuotes);
  n = 0;
  let prev: C = C.None;
  let prevKw = 0; // KwKind of the previous token when it was a keyword
  let depth = 0;
  // IN (...) collapsing
  let inStart = -1;
  let inDepth = 0;
  let inOk = false;
  let inCount = 0;
  // VALUES rows collapsing: 0 off, 1 expect row, 2 in row, 3 after row, 4 after ',' expecting row
  let vMode = 0;
  let vDepth = 0;
  let vRows = 0;
  let rowStart = 0;
  let rowOk = false;
  let firstOk = false;
  let allOk = false;
  let marker = false;
  let commaPos = 0;

  let prevString = false;
  for (;;) {
    let t = T.next();
    if (t === Tok.EOF) break;
    // 'a' 'b' is one string literal
    if (t === Tok.String) {
      if (prevString) continue;
      prevString = true;
    } else {
      prevString = false;
    }
    ensure(T.end - T.start + 16);
    let cat: C;
    let kwKind = 0;
    let ch = 0;
    // classify
    switch (t) {
      case Tok.Word:
        // after '.', a word is a qualified name, never a keyword
        kwKind = prev === C.Dot ? 0 : DKW.find(T.buf, T.start, T.end, T.h);
        cat = kwKind === 0 ? C.Ident : kwKind === KwKind.Function ? C.Func : C.Keyword;
        break;
      case Tok.Number:
      case Tok.String:
        cat = C.Literal;
        break;
      case Tok.QIdent:
        cat = C.Ident;
        break;
      case Tok.UserVar:
      case Tok.SysVar:
        cat = C.Var;
        break;
      case Tok.Assign:
        cat = C.Op;
        break;
      default: {
        ch = T.ch;
        switch (ch) {
          case 0x28:
            cat = C.Open;
            break;
          case 0x29:
            cat = C.Close;
            break;
          case 0x2c:
            cat = C.Comma;
            break;
          case 0x2e:
            cat = C.Dot;
            break;
          case 0x3b:
            cat = C.Semi;
            break;
          case 0x40:
            cat = C.At;
            break;
          case 0x3f:
            cat = C.Literal;
            break;
          default:
            cat = C.Op;
            if ((ch === 0x2d || ch === 0x2b) && (prev === C.None || prev === C.Open || prev === C.Comma || prev === C.Op || prev === C.Keyword || prev === C.Semi)) {
              // unary sign before a number: part of the literal
              const a = T.byteAfter(0);
              const a1 = T.byteAfter(1);
              if (a >= 0 && ((CC[a] & CC_DIGIT) !== 0 || (a === 0x2e && a1 >= 0 && (CC[a1] & CC_DIGIT) !== 0))) {
                const t2 = T.next();
                if (t2 === Tok.Number) {
                  t = t2;
                  cat = C.Literal;
                  break;
                }
                T.unget();
              }
            }
            {
              const len = opLength(ch);
              if (len > 1) T.extend(len - 1);
            }
        }
      }
    }

    // IN-list / VALUES-row tracking (before the token is written)
    if (inStart >= 0 && inOk && cat !== C.Close) {
      if (depth !== inDepth || (cat !== C.Literal && cat !== C.Comma)) inOk = false;
      else if (cat === C.Literal) inCount++;
    }
    if (vMode === 2 && cat !== C.Close) {
      if (depth !== vDepth || !(cat === C.Literal || cat === C.Comma || kwKind === KwKind.Constant)) rowOk = false;
    } else if (vMode === 3) {
      if (cat === C.Comma) {
        commaPos = n;
        vMode = 4;
      } else {
        vMode = 0;
      }
    } else if (vMode === 4 && cat !== C.Open) {
      vMode = 0;
    }

    // spacing
    if (prev !== C.None && prev !== C.Open && prev !== C.Dot && prev !== C.At) {
      let space = cat !== C.Close && cat !== C.Comma && cat !== C.Dot && cat !== C.Semi && cat !== C.At;
      if (
        space &&
        cat === C.Open &&
        (prev === C.Ident || prev === C.Func) &&
        T.start === T.prevEnd &&
        (T.prevType === Tok.Word || T.prevType === Tok.QIdent)
      ) {
        space = false; // function call
      }
      if (space && cat === C.Var && T.start === T.prevEnd && T.prevType !== Tok.Punct) space = false; // 'user'@'host'
      if (space) put(0x20);
    }

    // write
    switch (cat) {
      case C.Literal:
        put(0x3f);
        break;
      case C.Keyword:
      case C.Func:
        for (let i = T.start; i < T.end; i++) {
          const b = T.buf[i];
          out[n++] = b >= 0x61 && b <= 0x7a ? b - 0x20 : b;
        }
        break;
      case C.Ident:
        if (t === Tok.QIdent) writeQIdent();
        else for (let i = T.start; i < T.end; i++) out[n++] = T.buf[i];
        break;
      case C.Open:
        if (prevKw === KwKind.In && (inStart < 0 || !inOk)) {
          // start of a possible IN (...) list; remember where to rewind to (before " (")
          inStart = n > 0 && out[n - 1] === 0x20 ? n - 1 : n;
          inDepth = depth + 1;
          inOk = true;
          inCount = 0;
        }
        if (vMode === 1 || vMode === 4) {
          rowStart = vMode === 4 ? commaPos : n;
          vDepth = depth + 1;
          rowOk = true;
          vMode = 2;
        }
        depth++;
        put(0x28);
        break;
      case C.Close:
        put(0x29);
        if (inStart >= 0 && depth === inDepth) {
          if (inOk && inCount > 0) {
            n = inStart;
            putStr(' (...)');
          }
          inStart = -1;
        }
        if (vMode === 2 && depth === vDepth) {
          vRows++;
          if (vRows === 1) {
            firstOk = rowOk;
            allOk = rowOk;
          } else if (rowOk && firstOk && allOk) {
            n = rowStart;
            if (!marker) {
              putStr(', ...');
              marker = true;
            }
          } else {
            allOk = false;
          }
          vMode = 3;
        }
        depth--;
        break;
      default:
        for (let i = T.start; i < T.end; i++) out[n++] = T.buf[i];
    }

    if (kwKind === KwKind.Values) {
      vMode = 1;
      vRows = 0;
      marker = false;
    }
    prev = cat;
    prevKw = kwKind;
  }
  // drop trailing ';' (and spaces)
  while (n > 0 && (out[n - 1] === 0x3b || out[n - 1] === 0x20)) n--;

  const text = out.toString('utf8', 0, n);
  let ascii = true;
  for (let i = 0; i < n; i++) {
    if (out[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  const hash = ascii ? fnv1a64(out, 0, n) : fnv1a64(Buffer.from(text, 'utf8'), 0, -1);
  return { text, hash, statsEntry: null, statsGeneration: -1 };
}

/** `x` or "x" (ANSI) identifier: bare when it needs no quoting, else back-quoted */
function writeQIdent(): void {
  const buf = T.buf;
  const q = buf[T.start];
  const s = T.start + 1;
  const e = T.cEnd;
  let bare = e > s;
  let allDigits = true;
  let h = 0x811c9dc5 | 0;
  for (let i = s; i < e && bare; i++) {
    const b = buf[i];
    if (!(CC[b] & CC_IDENT) || b >= 0x80) bare = false;
    if (!(CC[b] & CC_DIGIT)) allDigits = false;
    h = Math.imul(h ^ (b | 0x20), 0x01000193);
  }
  if (bare && !allDigits && DKW.find(buf, s, e, h) === 0) {
    for (let i = s; i < e; i++) out[n++] = buf[i];
    return;
  }
  ensure(2 * (e - s) + 2);
  out[n++] = 0x60;
  for (let i = s; i < e; i++) {
    const b = buf[i];
    if (b === q && q !== 0x60) {
      // "" inside a "..." identifier is one "
      out[n++] = b;
      if (i + 1 < e && buf[i + 1] === q) i++;
    } else if (b === 0x60 && q !== 0x60) {
      out[n++] = 0x60;
      out[n++] = 0x60;
    } else {
      out[n++] = b;
    }
  }
  out[n++] = 0x60;
}

/** FNV-1a 64 over buf[s, e) (e < 0: to the end), computed on 16-bit limbs */
export function fnv1a64(buf: Uint8Array, s: number, e: number): bigint {
  if (e < 0) e = buf.length;
  // offset basis 0xcbf29ce484222325
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (let i = s; i < e; i++) {
    h0 ^= buf[i];
    // * 0x100000001b3 = * (2^40 + 0x1b3)
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + h0 * 0x100 + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + h1 * 0x100 + (t2 >>> 16);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  return (BigInt(((h3 << 16) | h2) >>> 0) << 32n) | BigInt(((h1 << 16) | h0) >>> 0);
}
