// Go's text/template, the part Docker users write in `--format`: actions with
// `{{- -}}` trimming and comments, fields and chains (`.A.B`, `$v.A`,
// `(pipe).A`), pipes, variables (`$x := …`, `$x = …`), if/else if/with/range
// (with `$i, $v :=`, break, continue), literals, and the builtin functions
// (and, or, not, eq, ne, lt, le, gt, ge, len, index, slice, print, printf,
// println). Errors read as Go's: `template: :1: unexpected EOF` when parsing,
// `template: :1:2: executing "" at <.Foo>: …` when executing.
//
// The data is JSON-shaped: a plain object is a Go map (sorted keys when
// printed or ranged over; a missing key is `<no value>`, or an error with
// missingKey "error"), an object marked with STRUCT_TYPE is a Go struct (an
// unknown field is "can't evaluate field X in type T") whose function-valued
// fields are methods (`{{.Label "k"}}`), arrays are slices, null is nil.

/** Marks an object as a Go struct of this type name (for the error Go gives on an unknown field). */
export const STRUCT_TYPE: unique symbol = Symbol("go struct type");

/**
 * Marks a map that is a Go map in the typed value Docker runs the template on
 * first (a container's `Config.Labels`): a missing key there is `<no value>`
 * even when other missing keys are errors (Docker's raw-JSON fallback).
 */
export const TYPED_MAP: unique symbol = Symbol("typed go map");

export type TemplateFunc = (...args: unknown[]) => unknown;

/** A function callable from a template, with Go's argument checks ("string", "int", "[]string", anything else unchecked). */
export interface FuncDef {
  fn: TemplateFunc;
  params?: readonly string[];
  variadic?: boolean;
}

export class TemplateError extends Error {}

/** A Go template that failed to parse: `template: NAME:LINE: msg`. */
export class TemplateParseError extends TemplateError {}

/** A Go template that failed while executing: `template: NAME:LINE:COL: executing "NAME" at <node>: msg`. */
export class TemplateExecError extends TemplateError {}

// ---------------------------------------------------------------------------
// Lexer

type ItemType =
  | "text" | "left" | "right" | "space" | "field" | "variable" | "identifier" | "string" | "rawString" | "char"
  | "number" | "bool" | "nil" | "dot" | "pipe" | "lparen" | "rparen" | "declare" | "assign" | "comma"
  | "keyword" | "eof";

interface Item { type: ItemType; val: string; pos: number; line: number }

const KEYWORDS = new Set(["if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"]);

const isSpace = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\r" || c === "\n";
const isAlnum = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{Nd}_]/u.test(c);

function lex(input: string, parseError: (line: number, msg: string) => never): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let line = 1;
  const lineAt = (p: number): number => {
    let n = 1;
    for (let i = 0; i < p; i++) if (input[i] === "\n") n++;
    return n;
  };
  const emit = (type: ItemType, start: number, end: number): void => {
    items.push({ type, val: input.slice(start, end), pos: start, line: lineAt(start) });
  };
  let trimNext = false;
  while (pos < input.length) {
    // Text up to the next action.
    let open = input.indexOf("{{", pos);
    if (open < 0) open = input.length;
    let textEnd = open;
    const leftTrim = open < input.length && input[open + 2] === "-" && isSpace(input[open + 3]);
    let start = pos;
    if (trimNext) while (start < textEnd && isSpace(input[start])) start++;
    if (leftTrim) while (textEnd > start && isSpace(input[textEnd - 1])) textEnd--;
    if (textEnd > start) emit("text", start, textEnd);
    trimNext = false;
    if (open >= input.length) break;
    pos = open + 2 + (leftTrim ? 2 : 0);
    line = lineAt(pos);
    // A comment: {{/* … */}} (with its trim markers).
    if (input.startsWith("/*", pos)) {
      const close = input.indexOf("*/", pos + 2);
      if (close < 0) parseError(line, "unclosed comment");
      let after = close + 2;
      if (isSpace(input[after]) && input.startsWith("-}}", after + 1)) {
        trimNext = true;
        after += 4;
      } else if (input.startsWith("}}", after)) {
        after += 2;
      } else {
        parseError(lineAt(close), "comment ends before closing delimiter");
      }
      pos = after;
      continue;
    }
    emit("left", open, open + 2);
    let parens = 0;
    for (;;) {
      const c = input[pos];
      if (c === undefined) parseError(lineAt(pos), "unclosed action");
      if (isSpace(c) && input.startsWith("-}}", pos + 1) && parens === 0) {
        emit("right", pos + 2, pos + 4);
        trimNext = true;
        pos += 4;
        break;
      }
      if (input.startsWith("}}", pos)) {
        if (parens > 0) parseError(lineAt(pos), "unclosed left paren");
        emit("right", pos, pos + 2);
        pos += 2;
        break;
      }
      const s = pos;
      if (isSpace(c)) {
        while (isSpace(input[pos]) && !(input.startsWith("-}}", pos + 1) && isSpace(input[pos]))) pos++;
        if (pos === s) pos++;
        emit("space", s, pos);
      } else if (c === "=") {
        pos++;
        emit("assign", s, pos);
      } else if (c === ":") {
        if (input[pos + 1] !== "=") parseError(lineAt(pos), "expected :=");
        pos += 2;
        emit("declare", s, pos);
      } else if (c === "|") {
        pos++;
        emit("pipe", s, pos);
      } else if (c === ",") {
        pos++;
        emit("comma", s, pos);
      } else if (c === '"') {
        pos++;
        for (;;) {
          const d = input[pos];
          if (d === "\\") { pos += 2; continue; }
          if (d === undefined || d === "\n") parseError(lineAt(s), "unterminated quoted string");
          pos++;
          if (d === '"') break;
        }
        emit("string", s, pos);
      } else if (c === "`") {
        const close = input.indexOf("`", pos + 1);
        if (close < 0) parseError(lineAt(s), "unterminated raw quoted string");
        pos = close + 1;
        emit("rawString", s, pos);
      } else if (c === "'") {
        pos++;
        for (;;) {
          const d = input[pos];
          if (d === "\\") { pos += 2; continue; }
          if (d === undefined || d === "\n") parseError(lineAt(s), "unterminated character constant");
          pos++;
          if (d === "'") break;
        }
        emit("char", s, pos);
      } else if (c === "$") {
        pos++;
        while (isAlnum(input[pos])) pos++;
        emit("variable", s, pos);
      } else if (c === "." && !/[0-9]/.test(input[pos + 1] ?? "")) {
        pos++;
        if (!isAlnum(input[pos])) {
          emit("dot", s, pos);
        } else {
          while (isAlnum(input[pos])) pos++;
          emit("field", s, pos);
        }
      } else if (/[0-9.+-]/.test(c)) {
        const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)/.exec(input.slice(pos));
        const len = m?.[0].length ?? 0;
        if (len === 0 || isAlnum(input[pos + len])) {
          parseError(lineAt(s), `bad number syntax: "${input.slice(pos, pos + Math.max(len, 1) + (isAlnum(input[pos + len]) ? 1 : 0))}"`);
        }
        pos += len;
        emit("number", s, pos);
      } else if (isAlnum(c)) {
        while (isAlnum(input[pos])) pos++;
        const word = input.slice(s, pos);
        emit(KEYWORDS.has(word) ? "keyword" : word === "true" || word === "false" ? "bool" : word === "nil" ? "nil" : "identifier", s, pos);
      } else if (c === "(") {
        parens++;
        pos++;
        emit("lparen", s, pos);
      } else if (c === ")") {
        parens--;
        if (parens < 0) parseError(lineAt(pos), "unexpected right paren");
        pos++;
        emit("rparen", s, pos);
      } else {
        const cp = c.codePointAt(0) ?? 0;
        parseError(lineAt(pos), `bad character U+${cp.toString(16).toUpperCase().padStart(4, "0")} '${c}'`);
      }
      // A word must end at a terminator.
      const last = items[items.length - 1]!;
      if (["field", "variable", "identifier", "bool", "nil", "keyword", "dot"].includes(last.type)) {
        const n = input[pos];
        if (n !== undefined && !isSpace(n) && !".,|:()=}".includes(n)) {
          const cp = n.codePointAt(0) ?? 0;
          parseError(lineAt(pos), `bad character U+${cp.toString(16).toUpperCase().padStart(4, "0")} '${n}'`);
        }
      }
    }
  }
  items.push({ type: "eof", val: "", pos: input.length, line: lineAt(input.length) });
  return items;
}

// ---------------------------------------------------------------------------
// Nodes

type Node =
  | { kind: "text"; pos: number; text: string }
  | { kind: "action"; pos: number; pipe: Pipe }
  | ControlNode
  | { kind: "break" | "continue"; pos: number };

interface ControlNode { kind: "if" | "with" | "range"; pos: number; pipe: Pipe; list: Node[]; elseList?: Node[] }
interface Pipe { pos: number; isAssign: boolean; decl: string[]; cmds: Command[] }
interface Command { pos: number; args: Arg[] }

type Arg =
  | { kind: "field"; pos: number; ident: string[] }
  | { kind: "variable"; pos: number; ident: string[] }
  | { kind: "identifier"; pos: number; name: string }
  | { kind: "dot"; pos: number }
  | { kind: "nil"; pos: number }
  | { kind: "bool"; pos: number; value: boolean }
  | { kind: "number"; pos: number; text: string; value: number }
  | { kind: "string"; pos: number; text: string; value: string }
  | { kind: "pipe"; pos: number; pipe: Pipe }
  | { kind: "chain"; pos: number; node: Arg; field: string[] };

function argString(a: Arg): string {
  switch (a.kind) {
    case "field": return a.ident.map((i) => `.${i}`).join("");
    case "variable": return a.ident.join(".");
    case "identifier": return a.name;
    case "dot": return ".";
    case "nil": return "nil";
    case "bool": return String(a.value);
    case "number": case "string": return a.text;
    case "pipe": return `(${pipeString(a.pipe)})`;
    case "chain": return `${argString(a.node)}${a.field.map((f) => `.${f}`).join("")}`;
  }
}

const commandString = (c: Command): string => c.args.map(argString).join(" ");

function pipeString(p: Pipe): string {
  const decl = p.decl.length > 0 ? `${p.decl.join(", ")} ${p.isAssign ? "=" : ":="} ` : "";
  return decl + p.cmds.map(commandString).join(" | ");
}

// ---------------------------------------------------------------------------
// Parser

function unquote(text: string, line: number, fail: (line: number, msg: string) => never): string {
  if (text.startsWith("`")) return text.slice(1, -1);
  try {
    // Go's escapes are JSON's plus \a \b \f \v \x.. \' and octal; the common ones are JSON's.
    const body = text.slice(1, -1)
      .replace(/\\x([0-9a-fA-F]{2})/g, "\\u00$1").replace(/\\a/g, "\\u0007").replace(/\\v/g, "\\u000b")
      .replace(/\\'/g, "'").replace(/\\U([0-9a-fA-F]{8})/g, (_m, h: string) => String.fromCodePoint(parseInt(h, 16)));
    return JSON.parse(`"${text.startsWith("'") ? body.replace(/"/g, '\\"') : body}"`) as string;
  } catch {
    return fail(line, `invalid syntax: ${text}`);
  }
}

class Parser {
  private i = 0;
  private vars: string[] = ["$"];
  private rangeDepth = 0;

  constructor(
    private readonly items: Item[],
    private readonly funcs: ReadonlySet<string>,
    private readonly fail: (line: number, msg: string) => never,
  ) {}

  private next(): Item { return this.items[this.i++]!; }
  private peek(): Item { return this.items[this.i]!; }
  private backup(n = 1): void { this.i -= n; }
  private nextNonSpace(): Item {
    let t = this.next();
    while (t.type === "space") t = this.next();
    return t;
  }
  private peekNonSpace(): Item {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }
  private errorf(item: Item, msg: string): never { return this.fail(item.line, msg); }
  private describe(t: Item): string {
    if (t.type === "eof") return "EOF";
    if (t.type === "keyword") return `<${t.val}>`;
    if (t.type === "right") return `"}}"`;
    if (t.type === "space") return "space";
    return JSON.stringify(t.val);
  }

  parse(): Node[] {
    const list: Node[] = [];
    for (;;) {
      const t = this.peek();
      if (t.type === "eof") return list;
      const { node, end } = this.textOrAction();
      if (end !== undefined) this.errorf(end, `unexpected {{${end.val}}}`);
      if (node) list.push(node);
    }
  }

  /** A text or an action; `end` is the {{end}} or {{else}} keyword that ends a list. */
  private textOrAction(): { node?: Node; end?: Item } {
    const t = this.next();
    if (t.type === "text") return { node: { kind: "text", pos: t.pos, text: t.val } };
    if (t.type !== "left") this.errorf(t, `unexpected ${this.describe(t)} in input`);
    const k = this.nextNonSpace();
    if (k.type === "keyword") {
      switch (k.val) {
        case "end": case "else": return { end: k };
        case "if": return { node: this.control("if", k) };
        case "with": return { node: this.control("with", k) };
        case "range": return { node: this.control("range", k) };
        case "break": case "continue": {
          if (this.rangeDepth === 0) this.errorf(k, `{{${k.val}}} outside {{range}}`);
          const r = this.nextNonSpace();
          if (r.type !== "right") this.errorf(r, `unexpected ${this.describe(r)} in {{${k.val}}}`);
          return { node: { kind: k.val, pos: k.pos } };
        }
        default: this.errorf(k, `{{${k.val}}} is not supported in a --format template`);
      }
    }
    this.backup();
    return { node: { kind: "action", pos: k.pos, pipe: this.pipeline("command", "right") } };
  }

  /** Nodes up to {{end}} or {{else}}, which is returned. */
  private itemList(): { list: Node[]; end: Item } {
    const list: Node[] = [];
    for (;;) {
      if (this.peek().type === "eof") this.errorf(this.peek(), "unexpected EOF");
      const { node, end } = this.textOrAction();
      if (end) return { list, end };
      if (node) list.push(node);
    }
  }

  private control(kind: "if" | "with" | "range", k: Item): Node {
    const vars = this.vars.length;
    const pipe = this.pipeline(kind, "right");
    if (kind === "range") this.rangeDepth++;
    const { list, end } = this.itemList();
    if (kind === "range") this.rangeDepth--;
    let elseList: Node[] | undefined;
    if (end.val === "else") {
      const nk = this.peekNonSpace();
      if ((kind === "if" && nk.type === "keyword" && nk.val === "if") || (kind === "with" && nk.type === "keyword" && nk.val === "with")) {
        // {{else if …}}: an if inside the else, sharing its {{end}}.
        this.nextNonSpace();
        elseList = [this.control(kind, nk)];
      } else {
        const r = this.nextNonSpace();
        if (r.type !== "right") this.errorf(r, `unexpected ${this.describe(r)} in else`);
        const rest = this.itemList();
        if (rest.end.val !== "end") this.errorf(rest.end, "expected end; found {{else}}");
        const r2 = this.nextNonSpace();
        if (r2.type !== "right") this.errorf(r2, `unexpected ${this.describe(r2)} in end`);
        elseList = rest.list;
      }
    } else {
      const r = this.nextNonSpace();
      if (r.type !== "right") this.errorf(r, `unexpected ${this.describe(r)} in end`);
    }
    this.vars.length = vars;
    return { kind, pos: k.pos, pipe, list, ...(elseList ? { elseList } : {}) };
  }

  private pipeline(context: string, end: "right" | "rparen"): Pipe {
    const decl: string[] = [];
    let isAssign = false;
    const first = this.peekNonSpace();
    const pipe: Pipe = { pos: first.pos, isAssign, decl, cmds: [] };
    if (first.type === "variable") {
      this.nextNonSpace();
      const next = this.peekNonSpace();
      if (next.type === "declare" || next.type === "assign") {
        this.nextNonSpace();
        isAssign = next.type === "assign";
        decl.push(first.val);
        if (!isAssign) this.vars.push(first.val);
        else if (!this.vars.includes(first.val)) this.errorf(first, `undefined variable "${first.val}"`);
      } else if (next.type === "comma" && context === "range") {
        this.nextNonSpace();
        const second = this.nextNonSpace();
        const op = this.nextNonSpace();
        if (second.type !== "variable" || (op.type !== "declare" && op.type !== "assign")) this.errorf(second, "range can only initialize variables");
        decl.push(first.val, second.val);
        this.vars.push(first.val, second.val);
      } else {
        // Not a declaration: back to the variable itself.
        while (this.items[this.i - 1] !== first) this.backup();
        this.backup();
      }
    }
    pipe.isAssign = isAssign;
    for (;;) {
      const t = this.nextNonSpace();
      if (t.type === end) {
        if (pipe.cmds.length === 0) this.errorf(t, `missing value for ${context}`);
        return pipe;
      }
      if (["bool", "char", "dot", "field", "identifier", "number", "nil", "rawString", "string", "variable", "lparen"].includes(t.type)) {
        this.backup();
        pipe.cmds.push(this.command());
      } else {
        this.errorf(t, t.type === "eof" ? "unexpected EOF" : `unexpected ${this.describe(t)} in ${context}`);
      }
    }
  }

  private command(): Command {
    const cmd: Command = { pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const t = this.next();
      if (t.type === "space") continue;
      if (t.type === "right" || t.type === "rparen") {
        this.backup();
      } else if (t.type !== "pipe") {
        this.errorf(t, `unexpected ${this.describe(t)} in operand`);
      }
      break;
    }
    if (cmd.args.length === 0) this.errorf(this.peek(), "empty command");
    return cmd;
  }

  private operand(): Arg | undefined {
    const node = this.term();
    if (!node) return undefined;
    if (this.peek().type !== "field") return node;
    const chainPos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().type === "field") fields.push(this.next().val.slice(1));
    switch (node.kind) {
      case "field": return { kind: "field", pos: chainPos, ident: [...node.ident, ...fields] };
      case "variable": return { kind: "variable", pos: chainPos, ident: [...node.ident, ...fields] };
      case "bool": case "string": case "number": case "nil": case "dot":
        return this.errorf(this.peek(), `unexpected . after term "${argString(node)}"`);
      default: return { kind: "chain", pos: chainPos, node, field: fields };
    }
  }

  private term(): Arg | undefined {
    const t = this.nextNonSpace();
    switch (t.type) {
      case "identifier":
        if (!this.funcs.has(t.val)) this.errorf(t, `function "${t.val}" not defined`);
        return { kind: "identifier", pos: t.pos, name: t.val };
      case "dot": return { kind: "dot", pos: t.pos };
      case "nil": return { kind: "nil", pos: t.pos };
      case "variable":
        if (!this.vars.includes(t.val)) this.errorf(t, `undefined variable "${t.val}"`);
        return { kind: "variable", pos: t.pos, ident: [t.val] };
      case "field": return { kind: "field", pos: t.pos, ident: [t.val.slice(1)] };
      case "bool": return { kind: "bool", pos: t.pos, value: t.val === "true" };
      case "char": {
        const s = unquote(t.val, t.line, this.fail);
        return { kind: "number", pos: t.pos, text: t.val, value: s.codePointAt(0) ?? 0 };
      }
      case "number": return { kind: "number", pos: t.pos, text: t.val, value: this.number(t) };
      case "lparen": {
        const pipe = this.pipeline("parenthesized pipeline", "rparen");
        return { kind: "pipe", pos: t.pos, pipe };
      }
      case "string": case "rawString":
        return { kind: "string", pos: t.pos, text: t.val, value: unquote(t.val, t.line, this.fail) };
      default:
        this.backup();
        return undefined;
    }
  }

  private number(t: Item): number {
    const text = t.val.replace(/_/g, "");
    const sign = text.startsWith("-") ? -1 : 1;
    const body = text.replace(/^[+-]/, "");
    let v: number;
    if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
    else if (/^0[bB]/.test(body)) v = parseInt(body.slice(2), 2);
    else if (/^0[oO]/.test(body)) v = parseInt(body.slice(2), 8);
    else if (/^0[0-7]+$/.test(body)) v = parseInt(body, 8);
    else v = Number(body);
    if (!Number.isFinite(v)) this.errorf(t, `illegal number syntax: "${t.val}"`);
    return sign * v;
  }
}

// ---------------------------------------------------------------------------
// Values as Go's fmt prints them

const isStruct = (v: unknown): v is Record<string | symbol, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && STRUCT_TYPE in v;
const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(STRUCT_TYPE in v);

/** Go's name of a value's type, as the data decoded from JSON has it. */
export function goTypeName(v: unknown): string {
  if (v === undefined || v === null) return "<nil>";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float64";
  if (Array.isArray(v)) return v.every((e) => typeof e === "string") && v.length > 0 ? "[]string" : "[]interface {}";
  if (isStruct(v)) return String(v[STRUCT_TYPE]);
  if (typeof v === "function") return "func";
  return "map[string]interface {}";
}

/** %v of a float64: the shortest form, with an exponent below 1e-4 and from 1e21, as Go's 'g'. */
function formatFloat(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 21) {
    const [m, e] = v.toExponential().split("e");
    const n = Number(e);
    return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  return String(v);
}

/** fmt's %v. */
export function formatValue(v: unknown): string {
  if (v === undefined) return "<no value>";
  if (v === null) return "<nil>";
  if (typeof v === "string") return v;
  if (typeof v === "number") return formatFloat(v);
  if (typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(formatInner).join(" ")}]`;
  if (isStruct(v)) return `{${Object.values(v).filter((x) => typeof x !== "function").map(formatInner).join(" ")}}`;
  if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${formatInner(v[k])}`).join(" ")}]`;
  return String(v);
}

const formatInner = (v: unknown): string => (v === undefined ? "<nil>" : formatValue(v));

/** Go's idea of true: not the zero value, not empty. */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isStruct(v)) return true;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

// ---------------------------------------------------------------------------
// fmt.Sprintf, Sprint, Sprintln

function quoteGo(s: string): string {
  return JSON.stringify(s).replace(/\\u007f/g, "\\x7f").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function badVerb(verb: string, v: unknown): string {
  return v === undefined ? `%!${verb}(<nil>)` : `%!${verb}(${goTypeName(v)}=${formatValue(v)})`;
}

export function sprintf(format: string, args: readonly unknown[]): string {
  let out = "";
  let argi = 0;
  const re = /%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])?/g;
  let last = 0;
  for (let m = re.exec(format); m !== null; m = re.exec(format)) {
    out += format.slice(last, m.index);
    last = re.lastIndex;
    const [, flags = "", widthSpec, precSpec, verb] = m;
    if (verb === undefined) { out += "%!(NOVERB)"; continue; }
    if (verb === "%") { out += "%"; continue; }
    const star = (spec: string | undefined): number | undefined => {
      if (spec === undefined || spec === "") return spec === "" ? 0 : undefined;
      if (spec !== "*") return Number(spec);
      const a = args[argi++];
      return typeof a === "number" ? a : undefined;
    };
    const width = star(widthSpec);
    const prec = star(precSpec);
    if (argi >= args.length) { out += `%!${verb}(MISSING)`; continue; }
    const a = args[argi++];
    let s: string;
    switch (verb) {
      case "v": s = flags.includes("#") && typeof a === "string" ? quoteGo(a) : formatValue(a); break;
      case "s":
        if (typeof a === "string") s = a;
        else if (Array.isArray(a) && a.every((e) => typeof e === "string")) s = `[${a.join(" ")}]`;
        else if (isMap(a) && Object.values(a).every((e) => typeof e === "string")) s = formatValue(a);
        else s = badVerb(verb, a);
        if (prec !== undefined && typeof a === "string") s = [...s].slice(0, prec).join("");
        break;
      case "q":
        if (typeof a === "string") s = quoteGo(a);
        else if (Array.isArray(a) && a.every((e) => typeof e === "string")) s = `[${a.map(quoteGo).join(" ")}]`;
        else if (typeof a === "number" && Number.isInteger(a)) s = `'${String.fromCodePoint(a)}'`;
        else s = badVerb(verb, a);
        break;
      case "d":
        if (typeof a === "number" && Number.isInteger(a)) s = (flags.includes("+") && a >= 0 ? "+" : "") + String(a);
        else if (Array.isArray(a) && a.every((e) => typeof e === "number")) s = `[${a.join(" ")}]`;
        else s = badVerb(verb, a);
        break;
      case "x": case "X": case "o": case "b": {
        const base = verb === "o" ? 8 : verb === "b" ? 2 : 16;
        if (typeof a === "number" && Number.isInteger(a)) s = a.toString(base);
        else if (typeof a === "string" && base === 16) s = Buffer.from(a).toString("hex");
        else { s = badVerb(verb, a); break; }
        if (verb === "X") s = s.toUpperCase();
        if (flags.includes("#") && base === 16) s = (verb === "X" ? "0X" : "0x") + s;
        break;
      }
      case "c": s = typeof a === "number" && Number.isInteger(a) ? String.fromCodePoint(a) : badVerb(verb, a); break;
      case "t": s = typeof a === "boolean" ? String(a) : badVerb(verb, a); break;
      case "f": case "F": case "e": case "E": case "g": case "G":
        if (typeof a !== "number") { s = badVerb(verb, a); break; }
        if (verb === "f" || verb === "F") s = a.toFixed(prec ?? 6);
        else if (verb === "e" || verb === "E") {
          const [mant, e] = a.toExponential(prec ?? 6).split("e");
          const n = Number(e);
          s = `${mant}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
          if (verb === "E") s = s.toUpperCase();
        } else s = prec === undefined ? formatFloat(a) : String(Number(a.toPrecision(prec || 1)));
        if (flags.includes("+") && a >= 0) s = `+${s}`;
        break;
      case "T": s = goTypeName(a); break;
      default: s = badVerb(verb, a);
    }
    if (width !== undefined && [...s].length < width) {
      const pad = width - [...s].length;
      if (flags.includes("-")) s += " ".repeat(pad);
      else if (flags.includes("0") && /[dfFeEgGxXob]/.test(verb) && typeof a === "number") {
        const neg = s.startsWith("-") || s.startsWith("+");
        s = neg ? s[0] + "0".repeat(pad) + s.slice(1) : "0".repeat(pad) + s;
      } else s = " ".repeat(pad) + s;
    }
    out += s;
  }
  out += format.slice(last);
  if (argi < args.length) out += `%!(EXTRA ${args.slice(argi).map((a) => `${goTypeName(a)}=${formatValue(a)}`).join(", ")})`;
  return out;
}

/** fmt.Sprint: a space between operands when neither is a string. */
export function sprint(args: readonly unknown[]): string {
  let out = "";
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string") out += " ";
    out += formatValue(a);
  });
  return out;
}

// ---------------------------------------------------------------------------
// Builtins

class CallError extends Error {}

function basicKind(v: unknown): "bool" | "number" | "string" | "nil" | undefined {
  if (v === null || v === undefined) return "nil";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return "number";
  if (typeof v === "string") return "string";
  return undefined;
}

function eq(a: unknown, ...bs: unknown[]): boolean {
  const ka = basicKind(a);
  if (bs.length === 0) throw new CallError("missing argument for comparison");
  for (const b of bs) {
    const kb = basicKind(b);
    // Anything compares with nil (Go 1.18's eq: a pointer, map or slice against nil).
    if (ka === "nil" || kb === "nil") {
      if (ka === kb) return true;
      continue;
    }
    if (ka === undefined || kb === undefined) throw new CallError("incompatible types for comparison");
    // Numbers decoded from JSON are json.Number, a string kind: Docker's
    // inspect compares them with strings as strings.
    if (ka !== kb && !((ka === "number" && kb === "string") || (ka === "string" && kb === "number"))) {
      throw new CallError("incompatible types for comparison");
    }
    if (ka === kb ? a === b : String(a) === String(b)) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka === undefined || kb === undefined || ka === "nil" || kb === "nil" || ka === "bool" || kb === "bool") {
    throw new CallError("invalid type for comparison");
  }
  if (ka !== kb) throw new CallError("incompatible types for comparison");
  return (a as number | string) < (b as number | string);
}

function indexOf(item: unknown, ...indices: unknown[]): unknown {
  let v = item;
  for (const i of indices) {
    if (v === null || v === undefined) throw new CallError("index of untyped nil");
    if (Array.isArray(v) || typeof v === "string") {
      if (typeof i !== "number" || !Number.isInteger(i)) throw new CallError(`cannot index slice/array with type ${goTypeName(i)}`);
      const len = typeof v === "string" ? Buffer.byteLength(v) : v.length;
      if (i < 0 || i >= len) throw new CallError(`index out of range: ${i}`);
      v = typeof v === "string" ? Buffer.from(v)[i] : v[i];
    } else if (isMap(v)) {
      if (typeof i !== "string") throw new CallError(`value has type ${goTypeName(i)}; should be string`);
      const m = v;
      // A missing key is the zero value of the map's elements: "" in a map of strings (Labels).
      v = Object.hasOwn(m, i) ? m[i] : Object.values(m).every((x) => typeof x === "string") ? "" : null;
    } else {
      throw new CallError(`can't index item of type ${goTypeName(v)}`);
    }
  }
  return v;
}

function sliceOf(item: unknown, ...idx: unknown[]): unknown {
  if (typeof item !== "string" && !Array.isArray(item)) throw new CallError(`can't slice item of type ${goTypeName(item)}`);
  if (idx.length > 3) throw new CallError(`too many slice indexes: ${idx.length}`);
  const len = typeof item === "string" ? Buffer.byteLength(item) : item.length;
  const n = idx.map((i) => {
    if (typeof i !== "number" || !Number.isInteger(i)) throw new CallError(`cannot index slice/array with type ${goTypeName(i)}`);
    if (i < 0 || i > len) throw new CallError(`index out of range: ${i}`);
    return i;
  });
  const [from = 0, to = len] = n;
  if (from > to) throw new CallError(`invalid slice index: ${from} > ${to}`);
  return typeof item === "string" ? Buffer.from(item).subarray(from, to).toString() : item.slice(from, to);
}

function lenOf(v: unknown): number {
  if (typeof v === "string") return Buffer.byteLength(v);
  if (typeof v === "number") return String(v).length; // a json.Number is a string
  if (Array.isArray(v)) return v.length;
  if (isMap(v)) return Object.keys(v).length;
  throw new CallError(`len of ${v === null || v === undefined ? "nil pointer" : `type ${goTypeName(v)}`}`);
}

/** The text of html/js/urlquery's arguments: a lone string as it is, else fmt.Sprint of them all. */
const argText = (args: unknown[]): string => (args.length === 1 && typeof args[0] === "string" ? args[0] : sprint(args));

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "'": "&#39;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "\0": "\uFFFD" };
const JS_ESCAPES: Record<string, string> = {
  "\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D",
};

const BUILTINS: Record<string, FuncDef> = {
  html: { fn: (...a) => argText(a).replace(/[&'<>"\0]/g, (c) => HTML_ESCAPES[c]!), params: [], variadic: true },
  js: {
    fn: (...a) => argText(a).replace(/[\\'"<>&=\u0000-\u001f]/g, (c) => JS_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`),
    params: [], variadic: true,
  },
  urlquery: {
    fn: (...a) => encodeURIComponent(argText(a)).replace(/%20/g, "+").replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    params: [], variadic: true,
  },
  not: { fn: (a) => !truth(a), params: ["any"] },
  len: { fn: lenOf, params: ["any"] },
  index: { fn: (item, ...i) => indexOf(item, ...i), params: ["any"], variadic: true },
  slice: { fn: (item, ...i) => sliceOf(item, ...i), params: ["any"], variadic: true },
  print: { fn: (...a) => sprint(a), params: [], variadic: true },
  println: { fn: (...a) => `${a.map(formatValue).join(" ")}\n`, params: [], variadic: true },
  printf: { fn: (f, ...a) => sprintf(f as string, a), params: ["string"], variadic: true },
  eq: { fn: (a, ...b) => eq(a, ...b), params: ["any"], variadic: true },
  ne: { fn: (a, b) => !eq(a, b), params: ["any", "any"] },
  lt: { fn: (a, b) => lt(a, b), params: ["any", "any"] },
  le: { fn: (a, b) => lt(a, b) || eq(a, b), params: ["any", "any"] },
  gt: { fn: (a, b) => !lt(a, b) && !eq(a, b), params: ["any", "any"] },
  ge: { fn: (a, b) => !lt(a, b), params: ["any", "any"] },
};

// ---------------------------------------------------------------------------
// Execution

export interface ExecuteOptions {
  /** "error": a missing map key is an error, as `docker inspect` runs templates on raw JSON */
  missingKey?: "default" | "error";
}

class Break {}
class Continue {}

const MISSING: unique symbol = Symbol("missing");
type Final = unknown;

export class Template {
  private constructor(
    private readonly text: string,
    private readonly name: string,
    private readonly nodes: Node[],
    private readonly funcs: Readonly<Record<string, FuncDef>>,
  ) {}

  /** Parses `text` with the builtins and `funcs`; throws TemplateParseError as Go's parser words it. */
  static parse(text: string, funcs: Readonly<Record<string, FuncDef>> = {}, name = ""): Template {
    const all = { ...BUILTINS, ...funcs };
    const fail = (line: number, msg: string): never => {
      throw new TemplateParseError(`template: ${name}:${line}: ${msg}`);
    };
    const items = lex(text, fail);
    const nodes = new Parser(items, new Set([...Object.keys(all), "and", "or"]), fail).parse();
    return new Template(text, name, nodes, all);
  }

  /** The same template with other functions under the same names (Docker's header functions). */
  withFuncs(funcs: Readonly<Record<string, FuncDef>>): Template {
    return new Template(this.text, this.name, this.nodes, { ...this.funcs, ...funcs });
  }

  execute(data: unknown, options: ExecuteOptions = {}): string {
    return new Execution(this.text, this.name, this.funcs, options.missingKey ?? "default", data).run(this.nodes);
  }

  /** What the template writes, up to an execution error if any, as Go's Execute leaves it in its writer. */
  executePartial(data: unknown, options: ExecuteOptions = {}): { output: string; error?: TemplateExecError } {
    const run = new Execution(this.text, this.name, this.funcs, options.missingKey ?? "default", data);
    try {
      return { output: run.run(this.nodes) };
    } catch (e) {
      if (!(e instanceof TemplateExecError)) throw e;
      return { output: run.output, error: e };
    }
  }
}

class Execution {
  private out = "";
  private vars: { name: string; value: unknown }[];
  private at = 0;
  private atText = "";

  constructor(
    private readonly text: string,
    private readonly name: string,
    private readonly funcs: Readonly<Record<string, FuncDef>>,
    private readonly missingKey: "default" | "error",
    data: unknown,
  ) {
    this.vars = [{ name: "$", value: data }];
  }

  get output(): string { return this.out; }

  run(nodes: Node[]): string {
    this.walkList(this.vars[0]!.value, nodes);
    return this.out;
  }

  private setAt(pos: number, context: string): void {
    this.at = pos;
    this.atText = context;
  }

  private errorf(msg: string): never {
    const before = this.text.slice(0, this.at);
    const nl = before.lastIndexOf("\n");
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = Buffer.byteLength(nl < 0 ? before : before.slice(nl + 1));
    throw new TemplateExecError(`template: ${this.name}:${line}:${col}: executing "${this.name}" at <${this.atText}>: ${msg}`);
  }

  private walkList(dot: unknown, nodes: Node[]): void {
    for (const n of nodes) this.walk(dot, n);
  }

  private walk(dot: unknown, node: Node): void {
    switch (node.kind) {
      case "text": this.out += node.text; return;
      case "action": {
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.print(node, v);
        return;
      }
      case "if": case "with": {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, node.pipe);
        if (truth(v)) this.walkList(node.kind === "with" ? v : dot, node.list);
        else if (node.elseList) this.walkList(dot, node.elseList);
        this.vars.length = mark;
        return;
      }
      case "range": this.range(dot, node); return;
      case "break": throw new Break();
      case "continue": throw new Continue();
    }
  }

  private print(node: Node & { pipe: Pipe }, v: unknown): void {
    if (typeof v === "function") {
      this.setAt(node.pipe.pos, pipeString(node.pipe));
      this.errorf(`can't print ${pipeString(node.pipe)} of type func`);
    }
    this.out += formatValue(v);
  }

  private range(dot: unknown, node: ControlNode): void {
    const mark = this.vars.length;
    const v = this.evalPipeline(dot, node.pipe);
    this.vars.length = mark;
    const decl = node.pipe.decl;
    const one = (key: unknown, elem: unknown): boolean => {
      if (decl.length > 0) this.vars.push({ name: decl[decl.length === 1 ? 0 : 1]!, value: elem });
      if (decl.length > 1) this.vars.push({ name: decl[0]!, value: key });
      try {
        this.walkList(elem, node.list);
      } catch (e) {
        if (e instanceof Break) return false;
        if (!(e instanceof Continue)) throw e;
      } finally {
        this.vars.length = mark;
      }
      return true;
    };
    let entries: Iterable<[unknown, unknown]>;
    let empty: boolean;
    if (Array.isArray(v)) {
      entries = v.map((e, i) => [i, e]);
      empty = v.length === 0;
    } else if (isMap(v)) {
      const keys = Object.keys(v).sort();
      entries = keys.map((k) => [k, v[k]]);
      empty = keys.length === 0;
    } else if (typeof v === "number" && Number.isInteger(v)) {
      // Go 1.22's range over an integer: 0 … n-1, one at a time.
      entries = (function* count(): Generator<[number, number]> { for (let i = 0; i < v; i++) yield [i, i]; })();
      empty = v <= 0;
    } else if (v === null || v === undefined) {
      entries = [];
      empty = true;
    } else {
      this.setAt(node.pipe.pos, pipeString(node.pipe));
      return this.errorf(`range can't iterate over ${formatValue(v)}`);
    }
    if (empty) {
      if (node.elseList) this.walkList(dot, node.elseList);
      return;
    }
    for (const [k, e] of entries) if (!one(k, e)) break;
  }

  private evalPipeline(dot: unknown, pipe: Pipe): unknown {
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    if (value === MISSING) value = undefined;
    for (const name of pipe.decl) {
      if (pipe.isAssign) {
        for (let i = this.vars.length - 1; i >= 0; i--) {
          if (this.vars[i]!.name === name) { this.vars[i]!.value = value; break; }
        }
      } else {
        this.vars.push({ name, value });
      }
    }
    return value;
  }

  private notAFunction(args: Arg[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${argString(args[0]!)}`);
  }

  private evalCommand(dot: unknown, cmd: Command, final: Final): unknown {
    const first = cmd.args[0]!;
    switch (first.kind) {
      case "field": return this.evalFieldChain(dot, dot, first, first.ident, cmd.args, final);
      case "chain": {
        const pipe = this.evalArgValue(dot, first.node);
        return this.evalFieldChain(dot, pipe, first, first.field, cmd.args, final);
      }
      case "identifier": return this.evalFunction(dot, first, cmd, cmd.args, final);
      case "pipe":
        this.setAt(first.pos, argString(first));
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first.pipe);
      case "variable": {
        const v = this.varValue(first.ident[0]!);
        if (first.ident.length === 1) {
          this.setAt(first.pos, argString(first));
          this.notAFunction(cmd.args, final);
          return v;
        }
        return this.evalFieldChain(dot, v, first, first.ident.slice(1), cmd.args, final);
      }
      default:
        break;
    }
    this.setAt(first.pos, argString(first));
    this.notAFunction(cmd.args, final);
    switch (first.kind) {
      case "bool": return first.value;
      case "dot": return dot;
      case "nil": return this.errorf("nil is not a command");
      case "number": return first.value;
      case "string": return first.value;
    }
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    return this.errorf(`undefined variable: ${name}`);
  }

  private evalFieldChain(dot: unknown, receiver: unknown, node: Arg, ident: string[], args: Arg[], final: Final): unknown {
    let r = receiver;
    for (let i = 0; i < ident.length - 1; i++) r = this.evalField(dot, ident[i]!, node, [], MISSING, r);
    return this.evalField(dot, ident[ident.length - 1]!, node, args, final, r);
  }

  private evalField(dot: unknown, field: string, node: Arg, args: Arg[], final: Final, receiver: unknown): unknown {
    this.setAt(node.pos, argString(node));
    const hasArgs = args.length > 1 || final !== MISSING;
    if (receiver === undefined) {
      if (this.missingKey === "error") this.errorf(`nil data; no entry for key "${field}"`);
      return undefined;
    }
    if (isStruct(receiver)) {
      if (!Object.hasOwn(receiver, field)) this.errorf(`can't evaluate field ${field} in type ${String(receiver[STRUCT_TYPE])}`);
      const v = receiver[field];
      if (typeof v === "function") return this.call(dot, { fn: v as TemplateFunc }, field, { pos: node.pos, text: argString(node) }, args, final);
      if (hasArgs) this.errorf(`${field} has arguments but cannot be invoked as function`);
      return v;
    }
    if (isMap(receiver)) {
      // A map type's method (Docker's SubHeaderContext.Label) before its keys.
      const m = receiver[field];
      if (typeof m === "function" && Object.hasOwn(receiver, field)) {
        return this.call(dot, { fn: m as TemplateFunc }, field, { pos: node.pos, text: argString(node) }, args, final);
      }
      if (hasArgs) this.errorf(`${field} is not a method but has arguments`);
      if (!Object.hasOwn(receiver, field)) {
        if (this.missingKey === "error" && !Object.hasOwn(receiver, TYPED_MAP)) this.errorf(`map has no entry for key "${field}"`);
        return undefined;
      }
      return receiver[field];
    }
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${field}`);
    return this.errorf(`can't evaluate field ${field} in type interface {}`);
  }

  private evalFunction(dot: unknown, node: Extract<Arg, { kind: "identifier" }>, cmd: Command, args: Arg[], final: Final): unknown {
    this.setAt(node.pos, node.name);
    if (node.name === "and" || node.name === "or") return this.andOr(dot, node.name, cmd, args, final);
    const def = this.funcs[node.name];
    if (!def) this.errorf(`"${node.name}" is not a defined function`);
    return this.call(dot, def, node.name, { pos: cmd.pos, text: commandString(cmd) }, args, final);
  }

  /** and/or: the first falsy (and) or truthy (or) argument, evaluated left to right and no further. */
  private andOr(dot: unknown, name: "and" | "or", cmd: Command, args: Arg[], final: Final): unknown {
    const operands: (() => unknown)[] = args.slice(1).map((a) => () => this.evalArgValue(dot, a));
    if (final !== MISSING) operands.push(() => final);
    if (operands.length === 0) {
      this.setAt(cmd.pos, commandString(cmd));
      this.errorf(`wrong number of args for ${name}: want at least 1 got 0`);
    }
    let v: unknown;
    for (const op of operands) {
      v = op();
      if (truth(v) === (name === "or")) return v;
    }
    return v;
  }

  private call(dot: unknown, def: FuncDef, name: string, at: { pos: number; text: string }, args: Arg[], final: Final): unknown {
    const argNodes = args.slice(1);
    const params = def.params;
    const got = argNodes.length + (final !== MISSING ? 1 : 0);
    const ctx = (): void => this.setAt(at.pos, at.text);
    if (params) {
      const want = params.length;
      if (def.variadic ? got < want : got !== want) {
        ctx();
        this.errorf(`wrong number of args for ${name}: want ${def.variadic ? "at least " : ""}${want} got ${got}`);
      }
    }
    const values: unknown[] = [];
    argNodes.forEach((a, i) => {
      const v = this.evalArgValue(dot, a);
      this.checkType(params?.[i], v);
      values.push(v);
    });
    if (final !== MISSING) {
      this.checkType(params?.[values.length], final);
      values.push(final);
    }
    try {
      return def.fn(...values);
    } catch (e) {
      if (e instanceof TemplateError || e instanceof Break || e instanceof Continue) throw e;
      ctx();
      return this.errorf(`error calling ${name}: ${(e as Error).message}`);
    }
  }

  /** Go's check of an argument against the function's parameter type. */
  private checkType(param: string | undefined, v: unknown): void {
    if (param === undefined || param === "any") return;
    const ok = param === "string" ? typeof v === "string"
      : param === "int" ? typeof v === "number" && Number.isInteger(v)
      : param === "[]string" ? Array.isArray(v) && v.every((e) => typeof e === "string") || v === null
      : true;
    if (!ok) {
      if (v === undefined || v === null) this.errorf(`invalid value; expected ${param}`);
      // A JSON number is a json.Number in Docker's raw inspect data.
      const got = typeof v === "number" && this.missingKey === "error" ? "json.Number" : goTypeName(v);
      this.errorf(`wrong type for value; expected ${param}; got ${got}`);
    }
  }

  private evalArgValue(dot: unknown, a: Arg): unknown {
    this.setAt(a.pos, argString(a));
    switch (a.kind) {
      case "dot": return dot;
      case "nil": return null;
      case "field": return this.evalFieldChain(dot, dot, a, a.ident, [a], MISSING);
      case "variable": {
        const v = this.varValue(a.ident[0]!);
        return a.ident.length === 1 ? v : this.evalFieldChain(dot, v, a, a.ident.slice(1), [a], MISSING);
      }
      case "pipe": return this.evalPipeline(dot, a.pipe);
      case "identifier": return this.evalFunction(dot, a, { pos: a.pos, args: [a] }, [a], MISSING);
      case "chain": return this.evalFieldChain(dot, this.evalArgValue(dot, a.node), a, a.field, [a], MISSING);
      case "bool": return a.value;
      case "number": return a.value;
      case "string": return a.value;
    }
  }
}
