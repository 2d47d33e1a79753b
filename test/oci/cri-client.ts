// A minimal client of the Kubernetes Container Runtime Interface (CRI, gRPC package runtime.v1),
// enough to drive containerd's CRI plugin the way a kubelet (or crictl) does: pod sandbox,
// container, exec, status, stop, remove. crictl cannot be built here (cri-tools is not in Debian
// and no Go module proxy is reachable), so the test speaks gRPC itself: HTTP/2 over the unix
// socket (node:http2) and the protocol buffers wire format for the few messages it needs, with
// the field numbers of k8s.io/cri-api's api.proto.

import { connect, constants, type ClientHttp2Session } from "node:http2";
import { connect as netConnect } from "node:net";

// --- protocol buffers: encoding ---------------------------------------------------------------------

/** A message to encode: field number → value(s). Nested messages are Msg; repeated fields arrays. */
export type Field = string | Buffer | number | boolean | Msg;
export interface Msg {
  [field: number]: Field | Field[] | undefined;
}

function varint(n: bigint): Buffer {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return Buffer.from(out);
}

function key(field: number, wire: 0 | 2): Buffer {
  return varint(BigInt((field << 3) | wire));
}

export function encode(msg: Msg): Buffer {
  const parts: Buffer[] = [];
  for (const [k, raw] of Object.entries(msg)) {
    const field = Number(k);
    if (raw === undefined) continue;
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      if (typeof v === "number") parts.push(key(field, 0), varint(BigInt(v)));
      else if (typeof v === "boolean") parts.push(key(field, 0), varint(v ? 1n : 0n));
      else {
        const bytes = typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.isBuffer(v) ? v : encode(v);
        parts.push(key(field, 2), varint(BigInt(bytes.length)), bytes);
      }
    }
  }
  return Buffer.concat(parts);
}

/** A map<string, string> field: repeated entries {1: key, 2: value}. */
export function map(entries: Record<string, string>): Msg[] {
  return Object.entries(entries).map(([k, v]) => ({ 1: k, 2: v }));
}

// --- protocol buffers: decoding ---------------------------------------------------------------------

/** A decoded message: field number → the raw values in order (varints as bigint, the rest bytes). */
export class Decoded {
  constructor(readonly fields: Map<number, (bigint | Buffer)[]>) {}

  static parse(buf: Buffer): Decoded {
    const fields = new Map<number, (bigint | Buffer)[]>();
    let i = 0;
    const readVarint = (): bigint => {
      let result = 0n;
      let shift = 0n;
      for (;;) {
        const b = buf[i++];
        if (b === undefined) throw new Error("protobuf: truncated varint");
        result |= BigInt(b & 0x7f) << shift;
        if ((b & 0x80) === 0) return result;
        shift += 7n;
      }
    };
    while (i < buf.length) {
      const tag = Number(readVarint());
      const field = tag >> 3;
      let value: bigint | Buffer;
      switch (tag & 7) {
        case 0: value = readVarint(); break;
        case 1: value = buf.subarray(i, i + 8); i += 8; break;
        case 2: {
          const len = Number(readVarint());
          value = buf.subarray(i, i + len);
          i += len;
          break;
        }
        case 5: value = buf.subarray(i, i + 4); i += 4; break;
        default: throw new Error(`protobuf: wire type ${tag & 7} of field ${field} is not supported`);
      }
      const list = fields.get(field) ?? [];
      list.push(value);
      fields.set(field, list);
    }
    return new Decoded(fields);
  }

  private last(field: number): bigint | Buffer | undefined {
    const l = this.fields.get(field);
    return l?.[l.length - 1];
  }

  str(field: number): string {
    const v = this.last(field);
    return Buffer.isBuffer(v) ? v.toString("utf8") : "";
  }

  bytes(field: number): Buffer {
    const v = this.last(field);
    return Buffer.isBuffer(v) ? v : Buffer.alloc(0);
  }

  /** A varint field as a signed 64-bit number (enums, int32/int64: negatives are 10-byte varints). */
  int(field: number): number {
    const v = this.last(field);
    return typeof v === "bigint" ? Number(BigInt.asIntN(64, v)) : 0;
  }

  msg(field: number): Decoded {
    return Decoded.parse(this.bytes(field));
  }

  msgs(field: number): Decoded[] {
    return (this.fields.get(field) ?? []).filter((v): v is Buffer => Buffer.isBuffer(v)).map((b) => Decoded.parse(b));
  }
}

// --- gRPC over HTTP/2 on a unix socket ---------------------------------------------------------------

export class GrpcError extends Error {
  constructor(readonly method: string, readonly code: number, readonly details: string) {
    super(`${method}: gRPC status ${code}: ${details}`);
  }
}

export class CriClient {
  private readonly session: ClientHttp2Session;

  constructor(socketPath: string) {
    this.session = connect("http://localhost", { createConnection: () => netConnect(socketPath) });
    this.session.on("error", () => {
      // Each call reports its own failure; an idle session error must not crash the process.
    });
  }

  close(): void {
    this.session.close();
  }

  /** One unary call: `service` like "runtime.v1.RuntimeService", `method` like "Version". */
  call(service: string, method: string, request: Msg, timeoutMs = 60_000): Promise<Decoded> {
    const path = `/${service}/${method}`;
    const body = encode(request);
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    return new Promise((resolve, reject) => {
      const req = this.session.request({
        [constants.HTTP2_HEADER_METHOD]: "POST",
        [constants.HTTP2_HEADER_PATH]: path,
        [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
        te: "trailers",
        "grpc-timeout": `${timeoutMs}m`,
      });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = "";
      const timer = setTimeout(() => {
        req.close(constants.NGHTTP2_CANCEL);
        reject(new GrpcError(path, 4, `no answer within ${timeoutMs} ms`));
      }, timeoutMs + 5_000);
      const headers = (h: Record<string, string | string[] | undefined>): void => {
        const s = h["grpc-status"];
        if (typeof s === "string") status = s;
        const m = h["grpc-message"];
        if (typeof m === "string") message = decodeURIComponent(m);
      };
      req.on("response", headers);
      req.on("trailers", headers);
      req.on("data", (d: Buffer) => chunks.push(d));
      req.on("error", (e: Error) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on("end", () => {
        clearTimeout(timer);
        if (status !== undefined && status !== "0") {
          reject(new GrpcError(path, Number(status), message));
          return;
        }
        const data = Buffer.concat(chunks);
        if (data.length < 5) {
          reject(new GrpcError(path, 13, `short response (${data.length} bytes, status ${String(status)})`));
          return;
        }
        if (data.readUInt8(0) !== 0) {
          reject(new GrpcError(path, 13, "compressed responses are not supported"));
          return;
        }
        resolve(Decoded.parse(data.subarray(5, 5 + data.readUInt32BE(1))));
      });
      req.end(frame);
    });
  }

  runtime(method: string, request: Msg, timeoutMs?: number): Promise<Decoded> {
    return this.call("runtime.v1.RuntimeService", method, request, timeoutMs);
  }

  image(method: string, request: Msg): Promise<Decoded> {
    return this.call("runtime.v1.ImageService", method, request);
  }
}

// Enum values of runtime.v1 used by the checks.
export const NamespaceMode = { POD: 0, CONTAINER: 1, NODE: 2 } as const;
export const ContainerState = { CREATED: 0, RUNNING: 1, EXITED: 2, UNKNOWN: 3 } as const;
export const SandboxState = { READY: 0, NOTREADY: 1 } as const;
